# test/fuzz/: libFuzzer targets for the JSON and msgpack decoders.
#
# `make fuzz` builds them with clang (-fsanitize=fuzzer,address,undefined)
# into build-fuzz/, compiling the proto/ and common/ sources they need
# directly (the normal objects are gcc-built and not instrumented).
# `make fuzz-smoke` runs each target FUZZ_SECONDS (default 15) seeded from
# a temporary copy of the corpus and fails on any crash or disagreement.
# Longer runs: FUZZ_SECONDS=600 make fuzz-smoke, or run the binaries by hand.
FUZZ_B       := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 15
# '=' not ':=': read when the recipe runs, after deps (a fresh machine has
# no pkg-config data, nor clang, when make starts).
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -Wall -Wextra -Werror -Icommon -Iproto -Itest/proto \
                $(shell pkg-config --cflags jansson msgpack 2>/dev/null)
FUZZ_LIBS     = $(shell pkg-config --libs jansson msgpack 2>/dev/null) -lpthread -lm
FUZZ_SRCS    := $(wildcard proto/*.c) common/tb_ns.c common/tb_buf.c test/proto/ref_decode.c
FUZZ_DEPS    := $(FUZZ_SRCS) $(wildcard proto/*.h) common/tb_ns.h common/tb_buf.h \
                test/proto/ref_decode.h test/fuzz/fuzz_common.h

$(FUZZ_B)/fuzz_json $(FUZZ_B)/fuzz_msgpack: $(FUZZ_B)/%: test/fuzz/%.c $(FUZZ_DEPS) | deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS) $(FUZZ_LIBS)

fuzz: $(FUZZ_B)/fuzz_json $(FUZZ_B)/fuzz_msgpack

fuzz-smoke: fuzz
	sh test/fuzz/smoke.sh $(FUZZ_B) $(FUZZ_SECONDS)
