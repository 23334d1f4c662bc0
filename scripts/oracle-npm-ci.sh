#!/usr/bin/env bash
# Installs tests/oracle's pinned onnxruntime-node (package-lock.json) unless it is
# already installed, and checks that its CPU library loads.
#
# `npm ci --ignore-scripts` skips the package's install script, which only downloads
# optional GPU libraries; the CPU build ships inside the npm package itself.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
oracle=$root/tests/oracle
want=$(node -p "require('$oracle/package.json').dependencies['onnxruntime-node']")

have=$(node -p "try { require('$oracle/node_modules/onnxruntime-node/package.json').version } catch { '' }")
if [ "$have" != "$want" ]; then
  echo "oracle-npm-ci: installing onnxruntime-node $want into $oracle/node_modules"
  (cd "$oracle" && npm ci --ignore-scripts --no-audit --no-fund)
fi

if ! node -e "require('$oracle/node_modules/onnxruntime-node')" 2>/dev/null; then
  echo "oracle-npm-ci: error: onnxruntime-node in $oracle/node_modules does not load;" \
    "delete that folder and run this script again" >&2
  node -e "require('$oracle/node_modules/onnxruntime-node')"
  exit 1
fi
