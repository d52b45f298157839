#!/usr/bin/env bash
# Emulator REST throughput: requests per second for single-record create, get by id, and a SOQL
# query answering a 2,000-record page, measured with wrk against a release build of the emulator
# (bench/emulator/src/main.rs: plain HTTP on 127.0.0.1; keep-alive connections; the emulator and
# wrk share the machine).
#
# Usage (from anywhere): bench/emulator/run.sh [duration] [connections] [wrk threads]
#   defaults: 10s, 32 connections (4 for the query), 2 threads. Needs wrk (apt-get install wrk),
#   curl and jq. Honours CARGO_TARGET_DIR. EMULATOR_CMD replaces the server command (it must print
#   the connection JSON line and serve until killed), e.g.
#   EMULATOR_CMD="target/release/forcebridge emulator --addr 127.0.0.1:0 --daily-api-requests 1000000000"
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${1:-10s}"
CONNS="${2:-32}"
THREADS="${3:-2}"
QUERY_CONNS=$(( CONNS < 4 ? CONNS : 4 ))
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install $tool)" >&2; exit 1; }
done

if [ -z "${EMULATOR_CMD:-}" ]; then
  cargo build --release --manifest-path bench/emulator/Cargo.toml --target-dir "$TARGET" >&2
  # The server sets a daily API allocation no benchmark reaches (the limit is tested elsewhere).
  EMULATOR_CMD="$TARGET/release/forcebridge-bench-emulator 127.0.0.1:0"
fi
OUT="$(mktemp -d)"
# shellcheck disable=SC2086 # EMULATOR_CMD is a command line
$EMULATOR_CMD >"$OUT/info" 2>"$OUT/emulator.log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 100); do [ -s "$OUT/info" ] && break; sleep 0.1; done
[ -s "$OUT/info" ] || { echo "the emulator did not start:" >&2; cat "$OUT/emulator.log" >&2; exit 1; }

INFO="$(head -1 "$OUT/info")"
BASE="$(jq -r .instance_url <<<"$INFO")"
TOKEN="$(curl -sf "$(jq -r .token_url <<<"$INFO")" \
  --data-urlencode grant_type=password \
  --data-urlencode "client_id=$(jq -r .client_id <<<"$INFO")" \
  --data-urlencode "client_secret=$(jq -r .client_secret <<<"$INFO")" \
  --data-urlencode "username=$(jq -r .username <<<"$INFO")" \
  --data-urlencode "password=$(jq -r .password <<<"$INFO")$(jq -r .security_token <<<"$INFO")" \
  | jq -r .access_token)"

# A daily API allocation no benchmark reaches (the limit itself is tested elsewhere).
curl -sf -X PUT -H 'Content-Type: application/json' --data '{"daily_api_requests_max": 1000000000}' \
  "$BASE/__emulator/limits" >/dev/null
# Seed through the control API: 1,000 Accounts to read by id, exactly 2,000 Contacts to query.
jq -nc '[range(1000) | {Name: "Seeded Account \(.)", Industry: "Technology"}]' \
  | curl -sf -H 'Content-Type: application/json' --data-binary @- "$BASE/__emulator/records/Account" \
  | jq -r '.ids[]' >"$OUT/ids"
jq -nc '[range(2000) | {FirstName: "Row\(.)", LastName: "Bench", Email: "row\(.)@example.org", Title: "Engineer"}]' \
  | curl -sf -H 'Content-Type: application/json' --data-binary @- "$BASE/__emulator/records/Contact" >/dev/null
PAGE="$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE$(sed -n 's/^wrk.path = "\(.*\)"$/\1/p' bench/emulator/query.lua)")"
echo "query check: totalSize=$(jq .totalSize <<<"$PAGE") records=$(jq '.records | length' <<<"$PAGE") done=$(jq .done <<<"$PAGE")"

run() {
  local name="$1" conns="$2" script="$3"
  echo "== $name ($conns connections, $THREADS threads, $DURATION)"
  BENCH_IDS="$OUT/ids" wrk -t"$THREADS" -c"$conns" -d"$DURATION" --timeout 30s --latency -s "bench/emulator/$script" \
    -H "Authorization: Bearer $TOKEN" "$BASE" \
    | grep -E "Requests/sec|Transfer/sec|Non-2xx|Socket errors|^ +(50|99)%|requests in"
}
run "create (POST /sobjects/Account)" "$CONNS" create.lua
run "get by id (GET /sobjects/Account/{id})" "$CONNS" get.lua
run "query, 2,000-record page (GET /query)" "$QUERY_CONNS" query.lua
echo "emulator peak RSS: $(grep VmHWM /proc/"$PID"/status | awk '{print $2, $3}')"
