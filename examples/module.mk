# examples/: programs to copy from.  Each takes the broker address as its
# only argument and defaults to localhost.
#   shopbot   - libthingsbus-adaptor over ZeroMQ (or UDP given HOST:PORT)
#   bottlekid - the firmware part alone (thingsbus_firmware.h)
$(eval $(call program,shopbot,examples/shopbot.c,thingsbus-adaptor))

# bottlekid is linked by hand, with the firmware objects and libc only (no
# LDLIBS_ALL): if the firmware part ever needed libzmq, czmq, jansson or
# libmsgpackc, this link would fail.
BOTTLEKID_OBJS := $(call objs,examples/bottlekid.c adaptor/tb_udp_packer.c common/tb_ns.c)
$(B)/bin/bottlekid: $(BOTTLEKID_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^
ALL_TARGETS += $(B)/bin/bottlekid
