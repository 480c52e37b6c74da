# test/bench/: `make bench`, the broker measured against the physical limit.
#
# The bench programs are ordinary programs (built by `make all`, so the smoke
# test in `make test` can run them) but the measurement itself only runs on
# `make bench`, never in the test suite.  Parameters: N (messages per run),
# RUNS (runs per side), QUICK=1 (tiny sizes), BENCH_OUT (JSON path, default
# $(B)/bench-results.json), BENCH_ARGS (anything else bench.py takes, see
# `/usr/bin/python3 test/bench/bench.py --help`).  Without a buildable
# thingsbusd it reports the forwarder figures only and says so.
BENCH_MSG := test/bench/bench_msg.c
$(eval $(call program,bench-forwarder,test/bench/bench_forwarder.c,))
$(eval $(call program,bench-loader,test/bench/bench_loader.c $(BENCH_MSG),))
$(eval $(call program,bench-sub,test/bench/bench_sub.c $(BENCH_MSG),))
# bench-join: late-join time through the v2 snapshot service (client/v2 driver)
$(eval $(call program,bench-join,test/bench/bench_join.c,tbv2cli tbproto tbcommon))

BENCH_BINS := $(B)/bin/bench-forwarder $(B)/bin/bench-loader $(B)/bin/bench-sub \
              $(B)/bin/bench-join \
              $(if $(filter thingsbusd,$(PROGRAMS)),$(B)/bin/thingsbusd)
BENCH_RUN_ARGS = --build $(B) $(if $(N),--n $(N)) $(if $(RUNS),--runs $(RUNS)) \
                 $(if $(QUICK),--quick) $(if $(BENCH_OUT),--out $(BENCH_OUT)) $(BENCH_ARGS)

bench: $(BENCH_BINS)
	$(PYTHON) test/bench/bench.py $(strip $(BENCH_RUN_ARGS))
