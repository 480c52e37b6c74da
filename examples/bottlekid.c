/*
 * bottlekid.c - a firmware-style sender: the bottlekid reading of
 * PROTOCOL-v1.md as one msgpack UDP datagram.
 *
 * Why this exists: it shows what a microcontroller sensor compiles in:
 * thingsbus_firmware.h only (no ZeroMQ, no jansson, no malloc), a static
 * buffer, and a callback that packs the reading with msgpack-c.  It is
 * linked with nothing but tb_udp_packer.o, tb_ns.o and libc, which proves
 * the firmware part stands alone.
 *
 * Usage: bottlekid [HOST:PORT]   (default 127.0.0.1:7955)
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <thingsbus_firmware.h>

/* What the sensor measured in this loop. */
typedef struct {
    const char *dht22_error;
    uint32_t    loops, msgs_sent, msgs_dropped;
} reading_t;

static void
pack_key(msgpack_packer *pk, const char *key)
{
    msgpack_pack_str(pk, strlen(key));
    msgpack_pack_str_body(pk, key, strlen(key));
}

static int
pack_reading(msgpack_packer *pk, void *arg)
{
    const reading_t *r = arg;
    msgpack_pack_map(pk, 2);
    pack_key(pk, "dht22_error");
    pack_key(pk, r->dht22_error);
    pack_key(pk, "metadata");
    msgpack_pack_map(pk, 3);
    pack_key(pk, "loops");
    msgpack_pack_fix_uint32(pk, r->loops);
    pack_key(pk, "msgs_sent");
    msgpack_pack_fix_uint32(pk, r->msgs_sent);
    pack_key(pk, "msgs_dropped");
    msgpack_pack_fix_uint32(pk, r->msgs_dropped);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *where = argc > 1 ? argv[1] : "127.0.0.1:7955";
    if (argc > 2 || !strcmp(where, "-h") || !strcmp(where, "--help")) {
        fprintf(stderr, "usage: bottlekid [HOST:PORT]\n");
        return 2;
    }
    static unsigned char buf[512];      /* the firmware's only message memory */
    tb_fw_udp_t udp;
    int rc = tb_fw_udp_open(&udp, where);
    if (rc != TB_OK) {
        fprintf(stderr, "bottlekid: %s: error %d\n", where, rc);
        return 1;
    }
    reading_t r = { "", 154, 153, 1 };
    size_t len;
    rc = tb_fw_encode(buf, sizeof buf, &len, TB_FW_LIST, "bottlekid.prototype", NAN,
                      pack_reading, &r,
                      "https://github.com/mistakes-consortium/esp8266.bottlekids");
    if (rc == TB_OK)
        rc = tb_fw_udp_send(&udp, buf, len);
    tb_fw_udp_close(&udp);
    if (rc != TB_OK) {
        fprintf(stderr, "bottlekid: not sent: error %d\n", rc);
        return 1;
    }
    printf("sent %zu bytes to %s\n", len, where);
    return 0;
}
