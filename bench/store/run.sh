#!/usr/bin/env bash
# Queue benchmark: SQLite and (when FORCEBRIDGE_TEST_POSTGRES_URL or --pg is given) PostgreSQL.
# Prints markdown tables; see README.md next to this script for the numbers of the last run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export FORCEBRIDGE_TEST_POSTGRES_URL="${FORCEBRIDGE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
cargo run --release --locked -q -p forcebridge-store --example store_bench -- "$@"
