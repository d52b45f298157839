#!/usr/bin/env bash
# Real-time benchmark: change events from emulator writes to records decoded by our subscribers,
# over the Streaming API (CometD) and the Pub/Sub API (gRPC + Avro). bench/streaming/README.md
# has the numbers and what they mean.
#
#   bench/streaming/run.sh        # throughput (EVENTS, default 20000) and latency at RATE
#                                 # (default 1000) writes/s for SECONDS (default 10), both APIs
#
# Each measurement gets a fresh release emulator process over TLS with Account selected for
# Change Data Capture; the bench process holds the writer and the subscriber.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/examples/stream_bench
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release -q -p forcebridge-salesforce --example stream_bench
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

run() {
    local api=$1 mode=$2
    local fifo
    fifo=$(mktemp -u /tmp/streambench.XXXXXX)
    mkfifo "$fifo"
    "$BIN" emulator >"$fifo" &
    EMU_PID=$!
    local conn
    read -r conn <"$fifo"
    rm -f "$fifo"
    local base ca
    base=$(printf '%s' "$conn" | python3 -c 'import json,sys; print(json.load(sys.stdin)["instance_url"])')
    ca=$(printf '%s' "$conn" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ca_file"])')
    curl -sf --cacert "$ca" -X POST "$base/__emulator/streams/cdc" \
        -H 'content-type: application/json' -d '{"entities":["Account"]}' >/dev/null
    CONN="$conn" "$BIN" "$api" "$mode"
    stop_emulator
}

for api in cometd pubsub; do
    run "$api" throughput
    run "$api" latency
done
