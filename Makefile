# ratecast: one GNU Makefile for everything.
#
#   make            build bin/fetcher, bin/sse-server, bin/fake-coinapi
#   make deps       install the Debian packages the build and tests need
#   make check      build, then run every unit and integration test
#   make demo       run the whole pipeline locally (see README.md)
#   make clean      remove build output (not .run/)

CC      ?= cc
PKGS    := libmicrohttpd librabbitmq libcurl libcjson
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -MMD -MP -Icommon
LDFLAGS += -pthread

# Debian packages: build, tests, and the local broker used by tests and the demo.
DEB_PKGS := build-essential pkg-config libmicrohttpd-dev librabbitmq-dev libcurl4-openssl-dev \
            libcjson-dev libcmocka-dev rabbitmq-server amqp-tools curl docker-compose \
            iproute2 procps

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(1) 2>/dev/null)
CFLAGS     += $(PKG_CFLAGS)

B := build

COMMON_SRC := $(wildcard common/*.c)
FETCH_SRC  := $(filter-out fetcher/main.c,$(wildcard fetcher/*.c))
SSE_SRC    := $(filter-out sse-server/main.c,$(wildcard sse-server/*.c))
FAKE_SRC   := $(wildcard tests/fake-coinapi/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))

LIBCOMMON := $(B)/libcommon.a
LIBFETCH  := $(B)/libfetch.a
LIBSSE    := $(B)/libsse.a
UNIT_BINS := $(patsubst tests/unit/%.c,bin/tests/%,$(UNIT_SRC))

.PHONY: all deps check check-unit demo clean format
# Quiet by default; `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif
.DEFAULT_GOAL := all
# Keep intermediate objects (unit test .o files) between runs.
.SECONDARY:

all: bin/fetcher bin/sse-server bin/fake-coinapi

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBFETCH): $(call obj,$(FETCH_SRC))
$(LIBSSE): $(call obj,$(SSE_SRC))
$(LIBCOMMON) $(LIBFETCH) $(LIBSSE):
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

bin/fetcher: $(call obj,fetcher/main.c) $(LIBFETCH) $(LIBCOMMON)
	@mkdir -p bin
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,librabbitmq libcurl libcjson) -lm

bin/sse-server: $(call obj,sse-server/main.c) $(LIBSSE) $(LIBCOMMON)
	@mkdir -p bin
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,libmicrohttpd librabbitmq libcjson) -lm

bin/fake-coinapi: $(call obj,$(FAKE_SRC)) $(LIBCOMMON)
	@mkdir -p bin
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,libmicrohttpd libcjson) -lm

# Unit tests link the program libraries too: a test of sse-server/frame.c
# pulls only the objects it needs out of libsse.a.
bin/tests/%: $(B)/tests/unit/%.o $(LIBSSE) $(LIBFETCH) $(LIBCOMMON)
	@mkdir -p bin/tests
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(call PKG_LIBS,cmocka $(PKGS)) -lm

deps:
	@scripts/install-deps $(DEB_PKGS)

check-unit: $(UNIT_BINS)

# check and demo install missing packages first (as root; otherwise they
# print the apt-get command), then build in a sub-make so pkg-config sees
# the freshly installed libraries.
check: deps
	@$(MAKE) --no-print-directory all check-unit
	@tests/run-tests

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

format:
	clang-format -i $(wildcard */*.c */*.h tests/*/*.c tests/*/*.h)

clean:
	rm -rf $(B) bin

-include $(shell find $(B) -name '*.d' 2>/dev/null)
