# client/v2/: libtbv2cli.a, the client side of protocol v2: the sync state
# machine (pure logic, no sockets) and a small socket driver around it.
# Its tests are registered in broker/v2/module.mk (they need both halves).
V2CLI_SRCS := client/v2/tb_v2sync.c client/v2/tb_v2sync_map.c client/v2/tb_v2_json.c \
              client/v2/tb_v2cli.c
$(eval $(call static_lib,tbv2cli,$(V2CLI_SRCS)))
