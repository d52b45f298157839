#!/usr/bin/env bash
# Bulk API 2.0 benchmark: a release `forcebridge emulator` under /usr/bin/time -v, driven by
# bench.py (1,000,000-row ingest, then a 1,000,000-row query job read to the end).
# Usage: bench/emulator-bulk/run.sh [rows]   (from the repository root)
set -euo pipefail
ROWS="${1:-1000000}"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release -p forcebridge >&2
OUT="$(mktemp -d)"
/usr/bin/time -v "$TARGET/release/forcebridge" emulator --addr 127.0.0.1:0 \
  >"$OUT/info" 2>"$OUT/time" &
PID=$!
for _ in $(seq 100); do [ -s "$OUT/info" ] && break; sleep 0.1; done
python3 bench/emulator-bulk/bench.py "$(head -1 "$OUT/info")" "$ROWS"
# Stop the emulator (the child of time), then read time's report.
pkill -TERM -P "$PID" || true
wait "$PID" || true
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$OUT/time"
