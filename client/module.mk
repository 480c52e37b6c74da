# client/: libthingsbus-client (thingsbus_client.h) and tb-print-events.
#
# The library is self-contained: it carries the common/ and proto/ objects
# it needs (not tb_log/tb_opts, which are for programs) and the protocol v2
# client state machine (client/v2/, also built alone as libtbv2cli.a).
CLIENT_LIB_SRCS := client/tb_client.c client/tb_client_actor.c \
                   client/tb_client_decode.c client/tb_client_json.c \
                   client/tb_client_mirror.c client/tb_client_query.c \
                   $(wildcard client/v2/*.c) \
                   $(filter-out common/tb_log.c common/tb_opts.c,$(wildcard common/*.c)) \
                   $(wildcard proto/*.c)
$(eval $(call shared_lib,thingsbus-client,$(CLIENT_LIB_SRCS),0,client/thingsbus_client.h))
INSTALL_HDR += client/thingsbus_client.h
INSTALL_PC  += thingsbus-client

$(eval $(call program,tb-print-events,client/tb_print_events.c,thingsbus-client tbproto tbcommon))
INSTALL_BIN += tb-print-events

# Tests (test/client/): unit tests of the pieces, the public API against a
# fixed-bytes PUB socket, and a probe program driven by the Python tests.
$(eval $(call unit_test,test_client_units,test/client/test_client_units.c,thingsbus-client_int))
$(eval $(call unit_test,test_client_api,test/client/test_client_api.c,thingsbus-client))
$(eval $(call unit_test,tb-client-probe,test/client/tb_client_probe.c,thingsbus-client))
