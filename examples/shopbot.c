/*
 * shopbot.c - the shop-bot example of the original README, in C.
 *
 * Why this exists: the shortest complete adaptor: one namespace
 * (shop.shopbot), one documentation URL, one reading sent for the Thing
 * shop.shopbot.spacemon.  Copy it to start your own.
 *
 * Usage: shopbot [tcp://HOST:PORT | HOST:PORT]
 *   tcp://... sends over ZeroMQ (PUSH), HOST:PORT over UDP + msgpack;
 *   default tcp://127.0.0.1:7955 (the broker's adaptor input).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <thingsbus_adaptor.h>

int
main(int argc, char **argv)
{
    const char *where = argc > 1 ? argv[1] : "tcp://127.0.0.1:7955";
    if (argc > 2 || !strcmp(where, "-h") || !strcmp(where, "--help")) {
        fprintf(stderr, "usage: shopbot [tcp://HOST:PORT | HOST:PORT]\n");
        return 2;
    }
    tb_adaptor_options_t options;
    tb_adaptor_options_init(&options);
    options.ns = "shop.shopbot";
    options.documentation_url = "http://example.com/Shopbot_Thingsbus_Documentation";
    if (strstr(where, "://"))
        options.broker_input_url = where;
    else
        options.udp_address = where;

    int error;
    tb_adaptor_t *adaptor = tb_adaptor_new(&options, &error);
    if (!adaptor) {
        fprintf(stderr, "shopbot: %s: %s\n", where, tb_adaptor_strerror(error));
        return 1;
    }
    /* The Thing shop.shopbot.spacemon; NAN = timestamp it now. */
    error = tb_adaptor_send_json(adaptor, "spacemon", "{\"busy\":12.0,\"light\":31.8}",
                                 (size_t)-1, NAN);
    if (error != TB_OK)
        fprintf(stderr, "shopbot: send: %s\n", tb_adaptor_strerror(error));

    /* Wait (bounded) until it left, so we can say so; destroy would also
     * deliver it within its linger time. */
    int flushed = tb_adaptor_flush(adaptor, 5000);
    tb_adaptor_stats_t stats;
    tb_adaptor_stats(adaptor, &stats);
    tb_adaptor_destroy(&adaptor);
    if (error != TB_OK || flushed != TB_OK) {
        fprintf(stderr, "shopbot: not delivered to %s (%s)\n", where,
                tb_adaptor_strerror(flushed != TB_OK ? flushed : error));
        return 1;
    }
    printf("sent shop.shopbot.spacemon to %s\n", where);
    return 0;
}
