# common/: libtbcommon.a, shared by every program and library.
COMMON_SRCS := $(wildcard common/*.c)
$(eval $(call static_lib,tbcommon,$(COMMON_SRCS)))
INSTALL_HDR += common/thingsbus_errors.h
