# test/bench/: `make bench`, the broker measured against the physical limit.
#
# The bench programs are ordinary programs (built by `make all` so the smoke
# test in `make test` can run them) but the measurement itself only runs on
# `make bench`, never in the test suite.  Parameters: N (messages per run),
# RUNS (runs per side), QUICK=1 (tiny sizes), BENCH_OUT (JSON path),
# BENCH_ARGS (anything else bench.py takes; see --help).
BENCH_MSG := test/bench/bench_msg.c
$(eval $(call program,bench-forwarder,test/bench/bench_forwarder.c,))
$(eval $(call program,bench-loader,test/bench/bench_loader.c $(BENCH_MSG),))
$(eval $(call program,bench-sub,test/bench/bench_sub.c $(BENCH_MSG),))

BENCH_BINS := $(B)/bin/bench-forwarder $(B)/bin/bench-loader $(B)/bin/bench-sub \
              $(if $(filter thingsbusd,$(PROGRAMS)),$(B)/bin/thingsbusd)

bench: $(BENCH_BINS)
	$(PYTHON) test/bench/bench.py --build $(B) $(if $(N),--n $(N)) \
	    $(if $(RUNS),--runs $(RUNS)) $(if $(QUICK),--quick) \
	    $(if $(BENCH_OUT),--out $(BENCH_OUT)) $(BENCH_ARGS)
