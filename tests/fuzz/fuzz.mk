# ratecast: libFuzzer targets (clang 14, ASan + UBSan). Included from the
# top-level Makefile; every name here starts with FUZZ_ or fuzz-, so it
# shares nothing with the main build (own compiler, flags and objects).
#
#   make fuzz-build          build bin/fuzz/fuzz_{tick,frame,event_id,config,es_decode}
#   make fuzz                run each for FUZZ_SECONDS (default 60) via tests/fuzz/run
#   make fuzz FUZZ_SECONDS=600
#   make fuzz-clean          remove build-fuzz/ and bin/fuzz/
#
# The project's sources are compiled again here with clang and the
# sanitizer coverage instrumentation (-fsanitize=fuzzer-no-link) into
# build-fuzz/, archived, and linked into each target: the linker takes only
# the objects a target needs. UBSan findings abort (no recover), so
# libFuzzer sees them as crashes.

FUZZ_CC       ?= clang
FUZZ_AR       ?= ar
FUZZ_SECONDS  ?= 60
FUZZ_B        := build-fuzz
FUZZ_BIN      := bin/fuzz
FUZZ_PKGS     := libmicrohttpd librabbitmq libcurl libcjson
FUZZ_SAN      := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS   ?= -g -O1
FUZZ_CFLAGS_ALL = $(FUZZ_CFLAGS) $(FUZZ_SAN) -std=c11 -D_GNU_SOURCE -pthread -MMD -MP \
                  -Icommon -Isse-server -Itools/sse-load $(FUZZ_PKG_CFLAGS)
# Our harnesses must be warning-free; the code under test is built without
# -Werror so a clang-only warning there never blocks fuzzing.
FUZZ_WFLAGS   := -Wall -Wextra
FUZZ_PKG_CFLAGS = $(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null)
FUZZ_LIBS       = $(shell pkg-config --libs $(FUZZ_PKGS) 2>/dev/null) -lm -pthread

FUZZ_TARGETS    := fuzz_tick fuzz_frame fuzz_event_id fuzz_config fuzz_es_decode
FUZZ_BINS       := $(addprefix $(FUZZ_BIN)/,$(FUZZ_TARGETS))
FUZZ_COMMON_SRC := $(wildcard common/*.c)
# sse-server/*.S: assembled data (the demo page, .incbin) that routes.c uses.
FUZZ_SSE_SRC    := $(filter-out sse-server/main.c,$(wildcard sse-server/*.c)) \
                   $(wildcard sse-server/*.S)
FUZZ_COMMON_OBJ := $(patsubst %.c,$(FUZZ_B)/%.o,$(FUZZ_COMMON_SRC))
FUZZ_SSE_OBJ    := $(patsubst %.S,$(FUZZ_B)/%.o,$(patsubst %.c,$(FUZZ_B)/%.o,$(FUZZ_SSE_SRC)))
# The reference EventSource decoder (the frame target checks frames with it).
FUZZ_LOAD_OBJ   := $(FUZZ_B)/tools/sse-load/es_decode.o
FUZZ_LIBLOAD    := $(FUZZ_B)/libsseload.a
FUZZ_LIBCOMMON  := $(FUZZ_B)/libcommon.a
FUZZ_LIBSSE     := $(FUZZ_B)/libsse.a

ifeq ($(V),1)
FUZZ_Q :=
else
FUZZ_Q := @
endif

.PHONY: fuzz-build fuzz fuzz-clean fuzz-check-toolchain

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@tests/fuzz/run $(FUZZ_SECONDS)

fuzz-clean:
	rm -rf $(FUZZ_B) $(FUZZ_BIN)

# Fail early and clearly without clang or its libFuzzer runtime
# (Debian: clang-14 and libclang-rt-14-dev).
$(FUZZ_B)/.toolchain-ok:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || \
	    { echo "fuzz: $(FUZZ_CC) not found: install clang (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
	@mkdir -p $(FUZZ_B)
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	    >$(FUZZ_B)/toolchain-probe.c
	@$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $(FUZZ_B)/toolchain-probe $(FUZZ_B)/toolchain-probe.c \
	    >$(FUZZ_B)/toolchain-probe.log 2>&1 || \
	    { cat $(FUZZ_B)/toolchain-probe.log >&2; \
	      echo "fuzz: $(FUZZ_CC) cannot link -fsanitize=fuzzer: install libclang-rt-14-dev" >&2; exit 1; }
	@rm -f $(FUZZ_B)/toolchain-probe $(FUZZ_B)/toolchain-probe.c $(FUZZ_B)/toolchain-probe.log
	@touch $@

fuzz-check-toolchain: $(FUZZ_B)/.toolchain-ok

$(FUZZ_B)/common/%.o: common/%.c | $(FUZZ_B)/.toolchain-ok
	@mkdir -p $(dir $@)
	@$(if $(FUZZ_Q),echo "  FUZZCC  $<")
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS_ALL) $(FUZZ_WFLAGS) -c -o $@ $<

$(FUZZ_B)/sse-server/%.o: sse-server/%.c | $(FUZZ_B)/.toolchain-ok
	@mkdir -p $(dir $@)
	@$(if $(FUZZ_Q),echo "  FUZZCC  $<")
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS_ALL) $(FUZZ_WFLAGS) -c -o $@ $<

# .incbin pulls in files the dependency output does not name: rebuild the
# assembled objects whenever a page asset changes.
$(FUZZ_B)/sse-server/%.o: sse-server/%.S $(wildcard sse-server/*.html) | $(FUZZ_B)/.toolchain-ok
	@mkdir -p $(dir $@)
	@$(if $(FUZZ_Q),echo "  FUZZAS  $<")
	$(FUZZ_Q)$(FUZZ_CC) -c -o $@ $<

$(FUZZ_B)/tools/%.o: tools/%.c | $(FUZZ_B)/.toolchain-ok
	@mkdir -p $(dir $@)
	@$(if $(FUZZ_Q),echo "  FUZZCC  $<")
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS_ALL) $(FUZZ_WFLAGS) -c -o $@ $<

$(FUZZ_B)/tests/fuzz/%.o: tests/fuzz/%.c | $(FUZZ_B)/.toolchain-ok
	@mkdir -p $(dir $@)
	@$(if $(FUZZ_Q),echo "  FUZZCC  $<")
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS_ALL) $(FUZZ_WFLAGS) -Werror -c -o $@ $<

$(FUZZ_LIBCOMMON): $(FUZZ_COMMON_OBJ)
$(FUZZ_LIBSSE): $(FUZZ_SSE_OBJ)
$(FUZZ_LIBLOAD): $(FUZZ_LOAD_OBJ)
$(FUZZ_LIBCOMMON) $(FUZZ_LIBSSE) $(FUZZ_LIBLOAD):
	@mkdir -p $(dir $@)
	$(FUZZ_Q)rm -f $@
	$(FUZZ_Q)$(FUZZ_AR) rcs $@ $^

# libsse before libcommon: sse-server objects call into common. A static
# pattern rule, so the harness objects are not intermediate files (make
# would delete them after each build).
$(FUZZ_BINS): $(FUZZ_BIN)/%: $(FUZZ_B)/tests/fuzz/%.o $(FUZZ_LIBSSE) $(FUZZ_LIBLOAD) $(FUZZ_LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(FUZZ_Q),echo "  FUZZLD  $@")
	$(FUZZ_Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $^ $(FUZZ_LIBS)

-include $(wildcard $(FUZZ_B)/*/*.d $(FUZZ_B)/*/*/*.d $(FUZZ_B)/*/*/*/*.d)
