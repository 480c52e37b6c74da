# test/discovery/: unit tests of common/tb_discovery* and the probe program
# the Python tests (test_discovery.py) drive against a real dnsmasq.
$(eval $(call unit_test,test_discovery_srv,test/discovery/test_discovery_srv.c,tbcommon))
$(eval $(call unit_test,test_discovery_locator,test/discovery/test_discovery_locator.c,tbcommon))

# Not named test_*: run-tests.sh must not run it on its own.
$(B)/test/discovery_probe: $(call objs,test/discovery/discovery_probe.c) $(B)/lib/libtbcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(B)/lib/libtbcommon.a $(LDLIBS_ALL)
TEST_TARGETS += $(B)/test/discovery_probe
