/* rc_version: the release both programs print for --version (rc_config). One place, so
 * the two can never disagree. */
#ifndef RC_VERSION_H
#define RC_VERSION_H
#define RC_VERSION "0.1.0"
#endif
