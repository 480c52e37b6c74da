# test/proto/: unit tests of the wire codec and the namespace rule, the
# data-driven corpus (valid/, invalid/<reason>--<name>.*) with differential
# checks against jansson and msgpack-c, and the codec micro-benchmark
# (bench_codec: a program, not a test; run it by hand).
PROTO_TEST_LIBS := tbproto tbcommon
PROTO_REF := test/proto/ref_decode.c
$(eval $(call unit_test,test_ns,test/proto/test_ns.c,$(PROTO_TEST_LIBS)))
$(eval $(call unit_test,test_encode,test/proto/test_encode.c,$(PROTO_TEST_LIBS)))
$(eval $(call unit_test,test_proto_json,test/proto/test_proto_json.c $(PROTO_REF),$(PROTO_TEST_LIBS)))
$(eval $(call unit_test,test_proto_msgpack,test/proto/test_proto_msgpack.c $(PROTO_REF),$(PROTO_TEST_LIBS)))
$(eval $(call unit_test,test_proto_corpus,test/proto/test_proto_corpus.c $(PROTO_REF),$(PROTO_TEST_LIBS)))
$(eval $(call program,bench_codec,test/proto/bench_codec.c,$(PROTO_TEST_LIBS)))
