# proto/: libtbproto.a, the wire codec.
PROTO_SRCS := $(wildcard proto/*.c)
$(eval $(call static_lib,tbproto,$(PROTO_SRCS)))
