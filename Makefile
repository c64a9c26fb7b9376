# ratecast: one GNU Makefile for everything.
#
#   make            build bin/fetcher, bin/sse-server, bin/fake-coinapi (+ sse-load, publisher)
#   make deps       install the Debian packages the build and tests need
#   make check      build, then run every unit and integration test
#   make check-asan the same, built with AddressSanitizer + UBSan (build-asan/, bin-asan/)
#   make check-docker  docker-compose.yml on a real Docker engine, offline (tests/docker/check)
#   make valgrind   sse-server under valgrind memcheck: 10,000 connects and a broker restart
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench      sse-server vs nginx+Nchan vs the raw floor, single events then
#                   bursts of 5 and of 20, then the idle, reconnect-storm and
#                   scale-out scenarios; one combined table (bench/README.md)
#   make demo       run the whole pipeline locally (see README.md)
#   make install    install programs, systemd units and docs (PREFIX, DESTDIR; see below)
#   make uninstall  remove exactly what make install put there
#   make clean      remove build output (not .run/)

CC       ?= cc
PKGS     := libmicrohttpd librabbitmq libcurl libcjson
# OPTFLAGS and SANFLAGS are the knobs (check-asan sets both); CFLAGS is
# derived so that the warnings and include paths can never be lost.
OPTFLAGS ?= -O2 -g
SANFLAGS ?=

# Debian packages: build, tests, and the local broker used by tests and the demo.
DEB_PKGS := build-essential pkg-config libmicrohttpd-dev librabbitmq-dev libcurl4-openssl-dev \
            libcjson-dev libcmocka-dev rabbitmq-server amqp-tools curl docker-compose \
            iproute2 procps clang libclang-rt-14-dev valgrind chromium nodejs \
            nginx openssl systemd libnginx-mod-nchan gnuplot-nox

# make check-docker only: the engine, compose, and debootstrap for the base
# image (no registry: every image is built here from Debian packages).
# build-essential: bin/sse-decode, with which the test reads the streams it saved.
DOCKER_PKGS := docker.io docker-compose debootstrap iptables iproute2 curl python3 build-essential

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(1) 2>/dev/null)
CFLAGS     := $(OPTFLAGS) $(SANFLAGS) -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread \
              -MMD -MP -Icommon $(PKG_CFLAGS)
LDFLAGS    := -pthread $(SANFLAGS)

# Build and output directories: check-asan builds a second tree.
B   ?= build
BIN ?= bin

COMMON_SRC := $(wildcard common/*.c)
FETCH_SRC  := $(filter-out fetcher/main.c,$(wildcard fetcher/*.c))
SSE_SRC    := $(filter-out sse-server/main.c,$(wildcard sse-server/*.c)) sse-server/page.S
FAKE_SRC   := $(wildcard tools/fake-coinapi/*.c)
LOAD_SRC   := $(filter-out tools/sse-load/main.c,$(wildcard tools/sse-load/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.S,$(B)/%.o,$(patsubst %.c,$(B)/%.o,$(1)))

LIBCOMMON := $(B)/libcommon.a
LIBFETCH  := $(B)/libfetch.a
LIBSSE    := $(B)/libsse.a
LIBLOAD   := $(B)/libsseload.a
UNIT_BINS := $(patsubst tests/unit/%.c,$(BIN)/tests/%,$(UNIT_SRC))

.PHONY: all deps check check-asan check-docker check-unit demo clean format valgrind bench install uninstall
# Quiet by default; `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif
.DEFAULT_GOAL := all
# Keep intermediate objects (unit test .o files) between runs.
.SECONDARY:

# tools/: sse-load, publisher and floor are the benchmark's tools, which tests use too;
# fake-coinapi is the CoinAPI stand-in the tests, the demo and compose run.
all: $(BIN)/fetcher $(BIN)/sse-server $(BIN)/fake-coinapi $(BIN)/sse-load $(BIN)/publisher \
     $(BIN)/floor $(BIN)/sse-decode

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# The demo page is assembled into the binary (.incbin): rebuild on edit.
$(B)/sse-server/page.o: sse-server/page.S sse-server/demo.html
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBFETCH): $(call obj,$(FETCH_SRC))
$(LIBSSE): $(call obj,$(SSE_SRC))
$(LIBLOAD): $(call obj,$(LOAD_SRC))
$(LIBCOMMON) $(LIBFETCH) $(LIBSSE) $(LIBLOAD):
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BIN)/fetcher: $(call obj,fetcher/main.c) $(LIBFETCH) $(LIBCOMMON)
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,libmicrohttpd librabbitmq libcurl libcjson) -lm

$(BIN)/sse-server: $(call obj,sse-server/main.c) $(LIBSSE) $(LIBCOMMON)
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,libmicrohttpd librabbitmq libcjson) -lm

$(BIN)/fake-coinapi: $(call obj,$(FAKE_SRC)) $(LIBCOMMON)
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,libmicrohttpd libcjson) -lm

# Unit tests link the program libraries too: a test of sse-server/frame.c
# pulls only the objects it needs out of libsse.a (and the EventSource
# decoder it checks frames with out of libsseload.a).
$(BIN)/tests/%: $(B)/tests/unit/%.o $(LIBSSE) $(LIBFETCH) $(LIBLOAD) $(LIBCOMMON)
	@mkdir -p $(BIN)/tests
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,cmocka $(PKGS)) -lm

# The benchmark's load client: plain libc, also used by the load tests.
$(BIN)/sse-load: $(call obj,tools/sse-load/main.c) $(LIBLOAD)
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

# The reference EventSource decoder as a command (saved streams to JSON lines): plain libc.
$(BIN)/sse-decode: $(call obj,tools/sse-decode.c) $(LIBLOAD)
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# The benchmark's floor (one thread, one write per client per event, or per
# burst with --per-burst) and its tick publisher: common/'s AMQP code.
$(BIN)/floor $(BIN)/publisher: $(BIN)/%: $(B)/tools/%.o $(LIBCOMMON)
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,librabbitmq libcjson) -lm

deps:
	@scripts/install-deps $(DEB_PKGS)

check-unit: $(UNIT_BINS)

# check and demo install missing packages first (as root; otherwise they
# print the apt-get command), then build in a sub-make so pkg-config sees
# the freshly installed libraries.
check: deps
	@$(MAKE) --no-print-directory all check-unit
	@tests/run-tests

# Everything again with AddressSanitizer and UBSan, in its own tree, and
# the whole suite against those binaries. Sanitizer reports go to
# .run/sanitizers/; tests/run-tests fails if any appears.
check-asan: deps
	@$(MAKE) --no-print-directory B=build-asan BIN=bin-asan \
	    OPTFLAGS="-O1 -g -fno-omit-frame-pointer" \
	    SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" all check-unit
	@RC_BIN=bin-asan RC_SANITIZERS=1 tests/run-tests

# The whole stack from docker-compose.yml with the demo env, on a Docker
# engine (started here, as root, when none runs), end to end: health,
# events through nginx, replica and broker restarts. Builds the stack in Docker
# only; on the host, just bin/sse-decode, which reads the streams it saves.
check-docker:
	@scripts/install-deps $(DOCKER_PKGS)
	@$(MAKE) --no-print-directory $(BIN)/sse-decode
	@tests/docker/check

# Bursts of 20 at 2 msg/s come every 10 s: the burst-20 run measures 60 s
# (six bursts) so that its p99 rests on more than two bursts.
bench: deps
	@$(MAKE) --no-print-directory all
	@R=$${RESULTS:-$(CURDIR)/bench/results/$$(date +%Y%m%d-%H%M%S)}; \
	    RESULTS=$$R/single BURST=1 bench/run && \
	    RESULTS=$$R/burst5 BURST=5 bench/run && \
	    RESULTS=$$R/burst20 BURST=20 DURATION=$${BURST20_DURATION:-60} bench/run && \
	    RESULTS=$$R/scenarios bench/scenarios && \
	    bench/summary "$$R"

valgrind: deps
	@$(MAKE) --no-print-directory all
	@tests/valgrind/sse-server-churn

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

format:
	clang-format -i $(wildcard */*.c */*.h tests/*/*.c tests/*/*.h tools/*/*.c tools/*/*.h)

clean:
	rm -rf build bin build-asan bin-asan build-fuzz

# make install / make uninstall: GNU-style directories (override any of
# them), DESTDIR to stage into a tree (packages, tests/integration/install.sh).
# The programs are installed as ratecast-sse-server, ratecast-fetcher and
# ratecast-fake-coinapi ("fetcher" alone would be a vague name in
# /usr/local/bin); the docker image keeps the short names. The systemd units
# go where systemd finds them for PREFIX=/usr/local, with their ExecStart
# and documentation paths rewritten to BINDIR and DOCDIR. Configuration is
# the admin's: nothing is written to /etc (the env file examples go to DOCDIR).
PREFIX         ?= /usr/local
EXEC_PREFIX    ?= $(PREFIX)
BINDIR         ?= $(EXEC_PREFIX)/bin
DATAROOTDIR    ?= $(PREFIX)/share
DOCDIR         ?= $(DATAROOTDIR)/doc/ratecast
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL        ?= install

INST_PROGS := sse-server fetcher fake-coinapi
INST_UNITS := ratecast-sse-server.service ratecast-fetcher.service
INST_DOCS   = README.md $(wildcard docs/*) deploy/nginx/ratecast.conf deploy/nginx/render \
              $(wildcard deploy/systemd/*.env.example)
# The units are written for the default directories; only these lines move.
UNIT_SED := -e 's|^ExecStart=/usr/local/bin/|ExecStart=$(BINDIR)/|' \
            -e 's|/usr/local/share/doc/ratecast/|$(DOCDIR)/|'

install: $(addprefix $(BIN)/,$(INST_PROGS))
	$(Q)$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(DOCDIR)" "$(DESTDIR)$(SYSTEMDUNITDIR)"
	$(Q)for p in $(INST_PROGS); do \
	    $(INSTALL) -m 0755 "$(BIN)/$$p" "$(DESTDIR)$(BINDIR)/ratecast-$$p" || exit 1; done
	$(Q)for f in $(INST_DOCS); do \
	    m=0644; [ -x "$$f" ] && m=0755; \
	    $(INSTALL) -D -m $$m "$$f" "$(DESTDIR)$(DOCDIR)/$$f" || exit 1; done
	$(Q)for u in $(INST_UNITS); do \
	    sed $(UNIT_SED) "deploy/systemd/$$u" >"$(DESTDIR)$(SYSTEMDUNITDIR)/$$u" && \
	    chmod 0644 "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u" || exit 1; done
	@echo "installed ratecast-{sse-server,fetcher,fake-coinapi} in $(DESTDIR)$(BINDIR),"
	@echo "  units in $(DESTDIR)$(SYSTEMDUNITDIR), docs and deploy/ examples in $(DESTDIR)$(DOCDIR)"

uninstall:
	rm -f $(addprefix "$(DESTDIR)$(BINDIR)/ratecast-,$(addsuffix ",$(INST_PROGS))) \
	      $(addprefix "$(DESTDIR)$(SYSTEMDUNITDIR)/,$(addsuffix ",$(INST_UNITS))) \
	      $(addprefix "$(DESTDIR)$(DOCDIR)/,$(addsuffix ",$(INST_DOCS)))
	$(Q)for d in deploy/nginx deploy/systemd deploy docs; do \
	    rmdir "$(DESTDIR)$(DOCDIR)/$$d" 2>/dev/null; done; rmdir "$(DESTDIR)$(DOCDIR)" 2>/dev/null; true
	@echo "(enabled units leave links behind: systemctl disable ratecast-sse-server ratecast-fetcher first)"

# libFuzzer targets: fuzz-build, fuzz (their own compiler, flags and tree).
include tests/fuzz/fuzz.mk

-include $(shell find $(B) -name '*.d' 2>/dev/null)
