# adaptor/generic/: tb-generic-zmq-adaptor, the bridge from any
# JSON-over-ZeroMQ PUB source onto the bus (built on libthingsbus-adaptor),
# and the unit tests of its pure logic.
GENERIC_LOGIC_SRCS := adaptor/generic/bridge_rules.c adaptor/generic/bridge_counts.c
GENERIC_SRCS := adaptor/generic/tb_generic_zmq_adaptor.c adaptor/generic/bridge_sources.c \
                $(GENERIC_LOGIC_SRCS)

$(eval $(call program,tb-generic-zmq-adaptor,$(GENERIC_SRCS),thingsbus-adaptor tbcommon))
INSTALL_BIN += tb-generic-zmq-adaptor

$(eval $(call unit_test,test_bridge_rules,test/generic/test_bridge_rules.c $(GENERIC_LOGIC_SRCS),tbcommon))
