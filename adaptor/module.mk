# adaptor/: libthingsbus-adaptor (.so.0, .so, .a), self-contained: it
# carries the common/ and proto/ pieces it uses.  adaptor/generic/ has its
# own module.mk.  Also `make firmware-size`: the firmware UDP part alone.
ADAPTOR_SRCS := $(wildcard adaptor/*.c) \
    common/tb_buf.c common/tb_error.c common/tb_ns.c \
    $(wildcard common/tb_discovery*.c) \
    $(wildcard proto/*.c)
$(eval $(call shared_lib,thingsbus-adaptor,$(ADAPTOR_SRCS),0,adaptor/thingsbus_adaptor.h adaptor/thingsbus_firmware.h))
INSTALL_HDR += adaptor/thingsbus_adaptor.h adaptor/thingsbus_firmware.h
INSTALL_PC  += thingsbus-adaptor

# The firmware part: what a microcontroller build compiles.  It must build
# without libzmq, czmq or jansson; its text size is what the README quotes.
FIRMWARE_SRCS := adaptor/tb_udp_packer.c common/tb_ns.c
FIRMWARE_CFLAGS := -std=c11 -D_GNU_SOURCE -Os $(WARN) -Icommon -Iadaptor
$(B)/firmware/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(FIRMWARE_CFLAGS) -c -o $@ $<
firmware-size: $(patsubst %.c,$(B)/firmware/%.o,$(FIRMWARE_SRCS))
	@size $^
	@size $^ | awk 'NR > 1 { t += $$1 } END { printf "firmware text total: %d bytes (%.2f KiB)\n", t, t / 1024 }'
	@if nm -u $^ | grep -E ' (zmq_|zsys_|zsock_|json_|msgpack_[a-z_]*\b)' ; then \
	    echo "firmware part references libraries it must not need" >&2; exit 1; fi
