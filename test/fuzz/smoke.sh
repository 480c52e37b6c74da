#!/bin/sh
# Run each fuzz target for a while, seeded from a temporary copy of the
# corpus (never writing into the source tree); fail on any crash.
# Usage: sh test/fuzz/smoke.sh FUZZ_BUILD_DIR SECONDS
set -u
FB=${1:-build-fuzz}
SECS=${2:-15}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tb-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
status=0
for kind in json msgpack; do
    mkdir -p "$WORK/$kind/corpus" "$WORK/$kind/artifacts"
    for f in "$TOP"/test/proto/valid/*."$kind" "$TOP"/test/proto/invalid/*."$kind"; do
        [ -f "$f" ] && cp "$f" "$WORK/$kind/corpus/"
    done
    echo "fuzz_$kind: ${SECS}s from $(ls "$WORK/$kind/corpus" | wc -l) seeds"
    if ! "$FB/fuzz_$kind" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
            -max_len=8192 -print_final_stats=1 \
            -artifact_prefix="$WORK/$kind/artifacts/" "$WORK/$kind/corpus" \
            >"$WORK/$kind/log" 2>&1; then
        echo "FAIL fuzz_$kind:"
        tail -n 40 "$WORK/$kind/log"
        for a in "$WORK/$kind/artifacts"/*; do
            [ -f "$a" ] || continue
            echo "input $(basename "$a"):"; od -A d -t x1 "$a" | head -n 20
        done
        status=1
    else
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$WORK/$kind/log" | tail -n 2
        echo "ok   fuzz_$kind"
    fi
done
exit $status
