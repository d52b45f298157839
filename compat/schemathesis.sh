#!/usr/bin/env bash
# schemathesis (pinned, from PyPI) against a fresh `forcebridge serve` on SQLite: every operation of
# /openapi.json fuzzed with a tenant key; fails on any 5xx, an undocumented status or content type,
# or an answer that does not match the document. Usage: compat/schemathesis.sh [forcebridge binary]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/debug/forcebridge}"
SCHEMATHESIS_VERSION=4.32.5
python3 -m venv compat/.venv
compat/.venv/bin/pip install -q --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}"

DIR="$(mktemp -d)"
"$BIN" vault new-key --out "$DIR/master.key" >/dev/null
FORCEBRIDGE_MASTER_KEY_FILE="$DIR/master.key" "$BIN" serve --addr 127.0.0.1:0 --data-dir "$DIR" \
  >"$DIR/ready" 2>"$DIR/log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do [ -s "$DIR/ready" ] && break; sleep 0.1; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
URL="$(json url <"$DIR/ready")"
ADMIN="$(json admin_key <"$DIR/ready")"
TENANT="$(curl -sf -X POST "$URL/v1/tenants" -H "authorization: Bearer $ADMIN" \
  -H 'content-type: application/json' -d '{"name":"schemathesis"}' | json id)"
KEY="$(curl -sf -X POST "$URL/v1/tenants/$TENANT/keys" -H "authorization: Bearer $ADMIN" \
  -H 'content-type: application/json' -d '{"label":"schemathesis"}' | json secret)"

VENV="$PWD/compat/.venv"
cd "$DIR" # schemathesis keeps its cache in the working folder
"$VENV/bin/schemathesis" run "$URL/openapi.json" \
  -H "Authorization: Bearer $KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-30}" --workers 2 --seed 1 --request-timeout 60
