#!/usr/bin/env bash
# The engine benchmark: N Instruqt events and N SpaceIQ moves through the real engine (SQLite
# store, batches of 200) into an in-process emulator. Usage: bench/engine/run.sh [N] [instruqt|spaceiq|both]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run --release -p forcebridge-engine --example engine_bench -- "${1:-100000}" "${2:-both}"
