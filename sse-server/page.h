/* sse_page: the demo page served at "/", embedded at build time from
 * sse-server/demo.html by page.S (static data: nothing to free). */
#ifndef SSE_PAGE_H
#define SSE_PAGE_H

extern const char sse_demo_html[];
extern const char sse_demo_html_end[];

#endif
