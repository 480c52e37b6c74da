# broker/store/: libtbstore.a, the directory's persistence engine
# (tb_store.h), plus its test driver and benchmark (test/store/).
STORE_SRCS := broker/store/tb_store.c broker/store/tb_store_load.c \
              broker/store/tb_store_writer.c broker/store/tb_store_format.c \
              broker/store/tb_store_crc.c
$(eval $(call static_lib,tbstore,$(STORE_SRCS)))
$(eval $(call unit_test,test_store,test/store/test_store.c test/store/store_model.c,tbstore tbcommon))
# Driven by test/store/test_store_*.py (not installed).
$(eval $(call program,tb-store-driver,test/store/tb_store_driver.c test/store/store_model.c,tbstore tbcommon))
# make bench: load speed and file size per Thing (not a test).
$(eval $(call program,tb-store-bench,test/store/tb_store_bench.c test/store/store_model.c,tbstore tbcommon))
# make bench-store [STORE_BENCH_ARGS="DIR --things N --history H --drop-caches"]
bench-store: $(B)/bin/tb-store-bench
	$(B)/bin/tb-store-bench $(if $(STORE_BENCH_ARGS),$(STORE_BENCH_ARGS),$${TMPDIR:-/tmp})
.PHONY: bench-store
