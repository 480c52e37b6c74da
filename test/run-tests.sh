#!/bin/sh
# Run every test suite and sum the results.
#
# Why this exists: the suites are of two kinds, cmocka unit-test binaries
# (built into $B/test/) and Python integration tests (test/*/test_*.py, which
# start the real programs from $B/bin).  Both speak TAP; this script runs
# each under a time limit, counts `ok` / `not ok` lines, counts a suite that
# died before finishing its plan as a failure, and ends with one line:
#     N passed, N failed
# Usage: sh test/run-tests.sh BUILD_DIR [SUITE_NAME_FILTER]
# Environment: TB_SANITIZED=1 (sanitizer build), TB_VALGRIND=1 (see below).
B=${1:-build}
FILTER=${2:-}
PY=${PYTHON:-/usr/bin/python3}
SUITE_TIMEOUT=${TB_SUITE_TIMEOUT:-300}
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "$TOP" && cd "$B" && pwd) || { echo "no build dir"; echo "0 passed, 1 failed"; exit 1; }
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/tb-test-logs.XXXXXX")
export TB_BUILD="$B" TB_TOP="$TOP" CMOCKA_MESSAGE_OUTPUT=TAP
if [ -n "${TB_SANITIZED:-}" ]; then
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23:${ASAN_OPTIONS:-}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=24:${UBSAN_OPTIONS:-}"
    export LSAN_OPTIONS="suppressions=$TOP/test/lsan.supp:print_suppressions=0"
fi

# TB_VALGRIND=1: the C unit-test binaries under valgrind (memcheck; any
# error or definite leak fails the suite); the Python suites are skipped.
VALGRIND=""
if [ -n "${TB_VALGRIND:-}" ]; then
    VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
    SUITE_TIMEOUT=$((SUITE_TIMEOUT * 2))
fi

total_pass=0
total_fail=0

run_suite() { # name, command...
    name=$1; shift
    log="$LOGDIR/$name.log"
    timeout -k 5 "$SUITE_TIMEOUT" "$@" >"$log" 2>&1 </dev/null
    rc=$?
    pass=$(grep -c '^ok ' "$log")
    fail=$(grep -c '^not ok ' "$log")
    plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    note=""
    if [ -n "$plan" ] && [ $((pass + fail)) -lt "$plan" ]; then
        fail=$((plan - pass)); note=" (stopped early)"
    fi
    if [ $rc -ne 0 ] && [ "$fail" -eq 0 ]; then
        fail=1; note=" (exit status $rc)"
    fi
    if [ -z "$plan" ] && [ $((pass + fail)) -eq 0 ]; then
        fail=1; note=" (no results)"
    fi
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    if [ "$fail" -ne 0 ]; then
        echo "FAIL $name: $pass passed, $fail failed$note"
        grep -v '^ok ' "$log" | tail -n 40 | sed 's/^/    /'
    else
        echo "ok   $name: $pass passed"
    fi
}

for t in "$B"/test/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    case "$n" in *"$FILTER"*) ;; *) continue ;; esac
    run_suite "$n" $VALGRIND "$t"
done
for t in $([ -z "$VALGRIND" ] && echo "$TOP"/test/*/test_*.py); do
    [ -f "$t" ] || continue
    n=$(basename "$(dirname "$t")")/$(basename "$t" .py)
    case "$n" in *"$FILTER"*) ;; *) continue ;; esac
    run_suite "$(echo "$n" | tr / _)" "$PY" "$t"
done
rm -rf "$LOGDIR"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
