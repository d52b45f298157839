#!/usr/bin/env bash
# Side-by-side client benchmark (bench/client/README.md has the numbers and what they mean).
#
#   bench/client/run.sh            # 100,000-row upsert: (a) our Collections, (b) our Bulk 2.0,
#                                  # (c) simple-salesforce bulk2; then (d) our Bulk 2.0 at
#                                  # 100,000 and 1,000,000 rows for the memory bound
#
# Each variant gets a FRESH release emulator process over HTTPS (simple-salesforce only speaks https),
# an external id field Account.Bench_Key__c created through the Tooling API, and then the
# client process alone runs under /usr/bin/time -v. API calls = the emulator's
# daily_api_requests_used after the client minus before it (the setup's calls excluded); the
# request log gives the breakdown by kind.
#
# Environment: ROWS (default 100000), BIG_ROWS (default 1000000; 0 skips the memory run),
# VARIANTS (default "collections bulk simple"), SKIP_BUILD=1 to reuse an existing build,
# CARGO_TARGET_DIR (default target), PYTHON (default compat/.venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-100000}
BIG_ROWS=${BIG_ROWS:-1000000}
VARIANTS=${VARIANTS:-collections bulk simple}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release
PYTHON=${PYTHON:-compat/.venv/bin/python}
OUT=${OUT:-$(mktemp -d /tmp/clientbench.XXXXXX)}
mkdir -p "$OUT"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release -p forcebridge-salesforce --example upsert_bench
fi

EMU_PID=""
stop_emulator() {
    if [ -n "$EMU_PID" ]; then
        kill "$EMU_PID" 2>/dev/null || true
        wait "$EMU_PID" 2>/dev/null || true
        EMU_PID=""
    fi
}
trap stop_emulator EXIT

# Starts a fresh emulator; sets CONN (its JSON line), BASE and CA.
start_emulator() {
    local dir=$OUT/emu-$1
    mkdir -p "$dir"
    # `upsert_bench emulator` serves the forcebridge-emulator library over HTTPS on a free port in
    # its own process (what `forcebridge emulator --tls --addr 127.0.0.1:0` does) and prints the
    # same connection JSON line.
    "$BIN/examples/upsert_bench" emulator >"$dir/stdout" 2>"$dir/stderr" &
    EMU_PID=$!
    for _ in $(seq 1 300); do
        if [ -s "$dir/stdout" ] && head -n1 "$dir/stdout" | grep -q instance_url; then break; fi
        sleep 0.1
    done
    CONN=$(head -n1 "$dir/stdout")
    BASE=$(printf '%s' "$CONN" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["instance_url"])')
    CA=$(printf '%s' "$CONN" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["ca_file"])')
    export CONN
}

used() {
    curl -s --cacert "$CA" "$BASE/__emulator/usage" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["daily_api_requests_used"])'
}

# Calls since the log was cleared, grouped as "METHOD resource" (ids collapsed).
breakdown() {
    curl -s --cacert "$CA" "$BASE/__emulator/requests" | "$PYTHON" -c '
import collections, json, re, sys
c = collections.Counter()
for e in json.load(sys.stdin)["requests"]:
    p = re.sub(r"/services/data/v[0-9.]+/", "", e["path"])
    p = re.sub(r"/[0-9][0-9A-Za-z]{14}([0-9A-Za-z]{3})?(?=/|$)", "/{id}", p)
    c[e["method"] + " " + p] += 1
print("; ".join(f"{k} x{v}" for k, v in sorted(c.items())))'
}

# run_variant <name> <rows> <phases> <command...>
run_variant() {
    local name=$1 rows=$2 phases=$3
    shift 3
    start_emulator "$name"
    CONN=$CONN KEY=Bench_Key__c "$BIN/examples/upsert_bench" setup >"$OUT/$name.setup" 2>&1
    curl -s --cacert "$CA" -X DELETE "$BASE/__emulator/requests" >/dev/null
    local before after
    before=$(used)
    ROWS=$rows PHASES=$phases KEY=Bench_Key__c /usr/bin/time -v "$@" >"$OUT/$name.out" 2>"$OUT/$name.time" ||
        { echo "$name FAILED"; cat "$OUT/$name.out" "$OUT/$name.time"; }
    after=$(used)
    local rss wall
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/$name.time")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$OUT/$name.time")
    printf '%s\n  %s\n  api_calls=%s  max_rss_kib=%s  wall=%s\n  calls: %s\n' \
        "== $name" "$(grep RESULT "$OUT/$name.out" || echo 'no RESULT line')" \
        "$((after - before))" "$rss" "$wall" "$(breakdown)" | tee -a "$OUT/summary.txt"
    stop_emulator
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo), $(uname -sr); load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/summary.txt"
for v in $VARIANTS; do
    case $v in
    collections) run_variant "a-collections-$ROWS" "$ROWS" two "$BIN/examples/upsert_bench" collections ;;
    bulk) run_variant "b-bulk-$ROWS" "$ROWS" two "$BIN/examples/upsert_bench" bulk ;;
    simple) run_variant "c-simple-salesforce-$ROWS" "$ROWS" two "$PYTHON" bench/client/simple_salesforce_bulk2.py ;;
    esac
done
if [ "$BIG_ROWS" != 0 ]; then
    run_variant "d-bulk-memory-100000" 100000 one "$BIN/examples/upsert_bench" bulk
    run_variant "d-bulk-memory-$BIG_ROWS" "$BIG_ROWS" one "$BIN/examples/upsert_bench" bulk
fi
echo "results in $OUT/summary.txt"
