#!/usr/bin/env bash
# `forcebridge serve` benchmark: durable ingest (events accepted per second, 202 answered after
# commit) on SQLite and PostgreSQL for single-event and batch posts from several clients, and the
# idle latency from `POST /v1/events` to the Account being readable in the emulator (p50/p99).
# Release builds of `forcebridge` and of the load generator (bench/server/src/main.rs); the
# emulator, the server, PostgreSQL and the load generator share the machine.
#
# Usage (from anywhere): bench/server/run.sh [events per batch row] [latency events] [single posts]
#   defaults: 20000, 200 and 2000. Needs jq and psql. PostgreSQL from FORCEBRIDGE_BENCH_POSTGRES_URL,
#   else FORCEBRIDGE_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres (a
#   database of its own is created and dropped). BACKENDS="sqlite" skips PostgreSQL.
#   Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS="${1:-20000}"
LATENCY_EVENTS="${2:-200}"
SINGLE_EVENTS="${3:-2000}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PG_URL="${FORCEBRIDGE_BENCH_POSTGRES_URL:-${FORCEBRIDGE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
for tool in jq psql; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install $tool)" >&2; exit 1; }
done

cargo build --release -p forcebridge >&2
cargo build --release --manifest-path bench/server/Cargo.toml --target-dir "$TARGET" >&2
FB="$TARGET/release/forcebridge"
GEN="$TARGET/release/forcebridge-bench-server"
OUT="$(mktemp -d)"
PIDS=()
DATABASES=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for d in "${DATABASES[@]}"; do psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT

# Starts `$@` in the background, its first stdout line into $1.json; sets LAST_PID.
start() {
  local name="$1"; shift
  "$@" >"$OUT/$name.json" 2>"$OUT/$name.log" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  for _ in $(seq 300); do [ -s "$OUT/$name.json" ] && break; sleep 0.1; done
  [ -s "$OUT/$name.json" ] || { echo "$name did not start:" >&2; tail -20 "$OUT/$name.log" >&2; exit 1; }
}

stop() {
  kill -TERM "$1"
  wait "$1" 2>/dev/null || true
}

# The org never runs out of API requests here (the budget is tested elsewhere).
start emulator "$FB" emulator --addr 127.0.0.1:0 --daily-api-requests 1000000000
EMULATOR_PID=$LAST_PID
EMULATOR_URL="$(jq -r .instance_url "$OUT/emulator.json")"
"$FB" vault new-key --out "$OUT/master.key" >/dev/null

# config NAME WORKERS: the node's config file.
config() {
  local name="$1" workers="$2"
  cat >"$OUT/$name.toml" <<EOF
recipes = "crates/forcebridge/tests/fixtures/recipes"

[salesforce]
login_url = "$EMULATOR_URL"
allow_loopback_http = true

[workers]
enabled = $workers

[limits]
max_batch = 1000
max_body_bytes = 8388608
rate_per_second = 1000000.0
rate_burst = 1000000
EOF
}

# serve NAME BACKEND WORKERS: a node on a fresh database; sets URL, PID and KEY (setup done).
# The setup's install is applied by a run that workers work, so the node starts with its workers
# on and, for WORKERS=false, is started again on the same database with them off.
serve() {
  local name="$1" backend="$2" workers="$3" db
  config "$name" true
  if [ "$backend" = postgres ]; then
    db="fbbench_$$_$name"
    psql "$PG_URL" -qc "CREATE DATABASE \"$db\"" >/dev/null
    DATABASES+=("$db")
    local where=(--database-url "${PG_URL%/*}/$db")
  else
    local where=(--data-dir "$OUT/$name")
  fi
  FORCEBRIDGE_MASTER_KEY_FILE="$OUT/master.key" start "$name" \
    "$FB" serve --config "$OUT/$name.toml" --addr 127.0.0.1:0 "${where[@]}"
  PID=$LAST_PID
  URL="$(jq -r .url "$OUT/$name.json")"
  KEY="$("$GEN" setup "$URL" "$(jq -r .admin_key "$OUT/$name.json")" "$OUT/emulator.json")"
  if [ "$workers" = false ]; then
    stop "$PID"
    rm -f "$OUT/$name.json" # `start` waits for the new ready line
    config "$name" false
    FORCEBRIDGE_MASTER_KEY_FILE="$OUT/master.key" start "$name" \
      "$FB" serve --config "$OUT/$name.toml" --addr 127.0.0.1:0 "${where[@]}"
    PID=$LAST_PID
    URL="$(jq -r .url "$OUT/$name.json")"
  fi
}

ROWS=()
for backend in $BACKENDS; do
  # Ingest alone: this node's workers are off, so the drains do not compete for the two cores.
  serve "ingest-$backend" "$backend" false
  for shape in "1 16" "100 8" "1000 4"; do
    read -r batch clients <<<"$shape"
    n=$EVENTS; [ "$batch" = 1 ] && n=$SINGLE_EVENTS
    line="$("$GEN" ingest "$URL" "$KEY" "$n" "$batch" "$clients" "b$batch")"
    echo "$backend ingest: $line" >&2
    ROWS+=("$(jq -c --arg b "$backend" '. + {backend: $b, what: "ingest"}' <<<"$line")")
  done
  stop "$PID"
  # Idle latency: a fresh node with its workers on, one event at a time.
  serve "latency-$backend" "$backend" true
  line="$("$GEN" latency "$URL" "$KEY" "$OUT/emulator.json" "$LATENCY_EVENTS")"
  echo "$backend latency: $line" >&2
  ROWS+=("$(jq -c --arg b "$backend" '. + {backend: $b, what: "latency"}' <<<"$line")")
  stop "$PID"
done
stop "$EMULATOR_PID"

echo
echo "| backend | events a post | clients | events | events/s (durable) | post p50 / p99 (ms) |"
echo "|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do
  jq -r 'select(.what == "ingest") | "| \(.backend) | \(.batch) | \(.clients) | \(.events) | \(.events_per_sec | floor) | \(.post_p50_ms * 10 | round / 10) / \(.post_p99_ms * 10 | round / 10) |"' <<<"$r"
done
echo
echo "| backend | events | 202 p50 / p99 (ms) | POST → Account readable p50 / p99 (ms) |"
echo "|---|---|---|---|"
for r in "${ROWS[@]}"; do
  jq -r 'select(.what == "latency") | "| \(.backend) | \(.events) | \(.accepted_p50_ms * 10 | round / 10) / \(.accepted_p99_ms * 10 | round / 10) | \(.written_p50_ms * 10 | round / 10) / \(.written_p99_ms * 10 | round / 10) |"' <<<"$r"
done
