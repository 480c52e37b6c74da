# broker/v2/: libtbv2srv.a, the server side of protocol v2 (snapshot
# service on P+2, filtered PUB on P+3), and its tests (test/v2/).
V2SRV_SRCS := broker/v2/tb_v2srv.c broker/v2/tb_v2srv_pub.c broker/v2/tb_v2_dirview.c
$(eval $(call static_lib,tbv2srv,$(V2SRV_SRCS)))

V2_TEST_LIBS := tbv2srv tbv2cli tbproto tbcommon
$(eval $(call unit_test,test_v2srv,test/v2/test_v2srv.c test/v2/v2_fakedir.c,$(V2_TEST_LIBS)))
$(eval $(call unit_test,test_v2sync,test/v2/test_v2sync.c,$(V2_TEST_LIBS)))
$(eval $(call unit_test,test_v2_dirview,test/v2/test_v2_dirview.c broker/directory.c,$(V2_TEST_LIBS)))
$(eval $(call unit_test,test_v2_e2e,test/v2/test_v2_e2e.c test/v2/v2_fakedir.c,$(V2_TEST_LIBS)))

# bench_v2_join: time for a new client to hold a 100 000-Thing directory
# through the engine over loopback TCP (a program, not a test).
$(eval $(call program,bench_v2_join,test/v2/bench_v2_join.c test/v2/v2_fakedir.c,$(V2_TEST_LIBS)))

# tb-v2-testhost: the engine on loopback TCP driven on stdin, for the
# independent-implementation checks in test/v2/test_v2_wire.py.
$(eval $(call program,tb-v2-testhost,test/v2/v2_testhost.c test/v2/v2_fakedir.c,$(V2_TEST_LIBS)))
