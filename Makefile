# thingsbus top-level Makefile.
#
# Plain GNU make, no autotools.  Each directory owns a `module.mk` fragment
# that registers its static libraries, shared libraries, programs and test
# binaries with the helper macros below; this file only holds the flags,
# the generic rules and the user-facing targets (run, test, asan, install).
#
# Out-of-tree builds: everything lands under $(B) (default build/), so a
# sanitizer build (B=build-asan) or a fuzz build can sit beside the normal one.

B        ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  := 0.3.0
SAN      ?=
PYTHON   ?= /usr/bin/python3

PKGS     := libzmq libczmq msgpack jansson libcares
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(SAN),1)
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE -DTB_VERSION='"$(VERSION)"' -fPIC $(WARN) \
              $(CFLAGS) $(SANFLAGS) -Icommon -Iproto -Iadaptor -Iclient -Ibroker $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LDLIBS_ALL  = $(PKG_LIBS) -lpthread -lm

.DEFAULT_GOAL := all
.PHONY: all deps run test test-only asan test-asan test-valgrind install uninstall clean bench \
        fuzz fuzz-smoke firmware-size man-check

# ---------------------------------------------------------------- helpers
# $(call objs,SRCS) -> object paths under $(B)/obj
objs = $(patsubst %.c,$(B)/obj/%.o,$(1))

# $(call static_lib,NAME,SRCS): $(B)/lib/libNAME.a
define static_lib
$(B)/lib/lib$(1).a: $(call objs,$(2))
	@mkdir -p $$(@D)
	rm -f $$@ && $$(AR) rcs $$@ $$^
ALL_TARGETS += $(B)/lib/lib$(1).a
endef

# $(call program,NAME,SRCS,STATIC_LIBS): $(B)/bin/NAME linked with libs
define program
$(B)/bin/$(1): $(call objs,$(2)) $(foreach l,$(3),$(B)/lib/lib$(l).a)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(foreach l,$(3),$(B)/lib/lib$(l).a) $$(LDLIBS_ALL)
ALL_TARGETS += $(B)/bin/$(1)
PROGRAMS += $(1)
endef

# $(call unit_test,NAME,SRCS,STATIC_LIBS): $(B)/test/NAME, a cmocka binary
define unit_test
$(B)/test/$(1): $(call objs,$(2)) $(foreach l,$(3),$(B)/lib/lib$(l).a)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(foreach l,$(3),$(B)/lib/lib$(l).a) $$(LDLIBS_ALL) $$(CMOCKA_LIBS)
TEST_TARGETS += $(B)/test/$(1)
endef

# $(call shared_lib,NAME,SRCS,SOVERSION,HEADERS): $(B)/lib/libNAME.so(.SOVERSION)
# and $(B)/lib/libNAME.a, both self-contained (SRCS lists the common/ and
# proto/ sources too).  Only the functions named in the public HEADERS are
# exported; everything else is made local, in the .so by a version script
# and in the .a by linking one relocatable object and localizing it with
# objcopy, so two of our libraries can go into one program without their
# internal copies of common/ and proto/ clashing.
define shared_lib
$(B)/lib/lib$(1).syms: $(4)
	@mkdir -p $$(@D)
	grep -ohE '\btb_[a-z0-9_]+ *\(' $(4) | tr -d ' (' | sort -u > $$@
$(B)/lib/lib$(1).map: $(B)/lib/lib$(1).syms
	{ echo '{'; echo '  global:'; sed 's/.*/    &;/' $$<; echo '  local: *;'; echo '};'; } > $$@
$(B)/lib/lib$(1).so.$(3): $(call objs,$(2)) $(B)/lib/lib$(1).map
	@mkdir -p $$(@D)
	$$(CC) -shared -Wl,-soname,lib$(1).so.$(3) -Wl,--no-undefined -Wl,--as-needed \
	    -Wl,--version-script=$(B)/lib/lib$(1).map $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(LDLIBS_ALL)
$(B)/lib/lib$(1).so: $(B)/lib/lib$(1).so.$(3)
	ln -sf lib$(1).so.$(3) $$@
$(B)/lib/lib$(1).a: $(call objs,$(2)) $(B)/lib/lib$(1).syms
	@mkdir -p $$(@D)
	$$(LD) -r -o $(B)/lib/lib$(1).o $$(filter %.o,$$^)
	$$(OBJCOPY) --keep-global-symbols=$(B)/lib/lib$(1).syms $(B)/lib/lib$(1).o
	rm -f $$@ && $$(AR) rcs $$@ $(B)/lib/lib$(1).o && rm -f $(B)/lib/lib$(1).o
# libNAME_int.a: every symbol visible, for in-tree unit tests of internals.
$(B)/lib/lib$(1)_int.a: $(call objs,$(2))
	@mkdir -p $$(@D)
	rm -f $$@ && $$(AR) rcs $$@ $$^
ALL_TARGETS += $(B)/lib/lib$(1).so $(B)/lib/lib$(1).a
INSTALL_LIB += lib$(1).so lib$(1).so.$(3) lib$(1).a
endef
OBJCOPY ?= objcopy

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# ---------------------------------------------------------------- modules
include $(sort $(wildcard */module.mk) $(wildcard */*/module.mk))

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# On a fresh machine this make was started before scripts/deps.sh installed
# the libraries, so pkg-config gave no flags above and every link would
# fail: install them first, then build in a new make that reads the flags.
ifeq ($(and $(strip $(PKG_LIBS)),$(strip $(CMOCKA_LIBS)))$(TB_DEPS_AGAIN),)
all: deps
	@$(MAKE) --no-print-directory TB_DEPS_AGAIN=1 all
tests-built: all
	@$(MAKE) --no-print-directory TB_DEPS_AGAIN=1 tests-built
else
all: deps-checked $(ALL_TARGETS)
tests-built: $(TEST_TARGETS)
endif

# ---------------------------------------------------------------- set-up
# deps runs scripts/deps.sh once per make invocation (it is quick when all
# is present); 'deps-checked' lets 'all' depend on it without a stamp file.
deps:
	@sh scripts/deps.sh
deps-checked:
	@sh scripts/deps.sh
.PHONY: deps-checked

run: deps
	@$(MAKE) --no-print-directory all
	exec $(B)/bin/thingsbusd $(RUN_ARGS)

# make test: dependencies, build, then every suite; the last line is the
# summary 'N passed, N failed'.
test: deps
	@$(MAKE) --no-print-directory all tests-built
	@sh test/run-tests.sh $(B)

.PHONY: tests-built

test-only: all tests-built
	@sh test/run-tests.sh $(B)

asan:
	@$(MAKE) --no-print-directory B=build-asan SAN=1 OPT=-O1 all tests-built

test-asan: deps asan
	@TB_SANITIZED=1 sh test/run-tests.sh build-asan

# The C unit tests under valgrind (memcheck), as a second opinion next to
# the sanitizer build.
test-valgrind: deps
	@$(MAKE) --no-print-directory all tests-built
	@TB_VALGRIND=1 sh test/run-tests.sh $(B)

clean:
	rm -rf build build-asan build-fuzz build-firmware

# ---------------------------------------------------------------- install
# Modules register what they install:
#   INSTALL_SBIN += thingsbusd         (from $(B)/bin)
#   INSTALL_BIN  += tb-print-events    (from $(B)/bin)
#   INSTALL_LIB  += libthingsbus-adaptor.so.0 libthingsbus-adaptor.a  (from $(B)/lib)
#   INSTALL_HDR  += adaptor/thingsbus_adaptor.h
#   INSTALL_PC   += thingsbus-adaptor  (from NAME.pc.in in the module dir, see PC_DIR_NAME)
LIBDIR ?= $(PREFIX)/lib
install: all $(foreach p,$(INSTALL_PC),$(B)/pkgconfig/$(p).pc)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
	    $(DESTDIR)$(PREFIX)/share/man/man7 $(DESTDIR)$(PREFIX)/share/man/man8
	for f in $(INSTALL_SBIN); do install -m 755 $(B)/bin/$$f $(DESTDIR)$(PREFIX)/sbin/; done
	for f in $(INSTALL_BIN); do install -m 755 $(B)/bin/$$f $(DESTDIR)$(PREFIX)/bin/; done
	for f in $(INSTALL_LIB); do cp -P $(B)/lib/$$f $(DESTDIR)$(LIBDIR)/; done
	for f in $(INSTALL_HDR); do install -m 644 $$f $(DESTDIR)$(PREFIX)/include/; done
	for f in $(INSTALL_PC); do install -m 644 $(B)/pkgconfig/$$f.pc $(DESTDIR)$(LIBDIR)/pkgconfig/; done
	for m in man/*.[1-8]; do [ -f "$$m" ] || continue; s=$${m##*.}; \
	    install -m 644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man$$s/; done

$(B)/pkgconfig/%.pc:
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    $(wildcard */$*.pc.in) > $@
