#!/usr/bin/env bash
# Writes the onnxruntime reference data for the engine tests into OUTDIR.
#
# Usage: scripts/make-oracle.sh OUTDIR [MODEL_PACK_DIR]
#   OUTDIR          receives one folder per case: model.txt, input_*.bin, output_*.bin
#                   (format in tests/oracle/run_ort.mjs); build/test-work/oracle for ctest.
#   MODEL_PACK_DIR  the default pack from scripts/fetch-models.sh (default: models/default).
# The shared data folder is $FACESIM_SHARED_DIR, or ../shared beside the repository.
# Without it only the random-input cases of the default pack are written, because the
# photo cases, the SCRFD models and the iresnet50 generator all come from there.
#
# Installs the oracle's pinned onnxruntime-node with `npm ci --ignore-scripts` when
# tests/oracle/node_modules is missing. The package's install script only downloads
# optional GPU libraries, which the CPU build shipped inside the package does not need.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: scripts/make-oracle.sh OUTDIR [MODEL_PACK_DIR]" >&2
  exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
models=${2:-$root/models/default}
shared=${FACESIM_SHARED_DIR:-$root/../shared}
oracle=$root/tests/oracle

if [ ! -f "$models/fr_feature.onnx" ]; then
  echo "make-oracle: error: $models/fr_feature.onnx not found; run scripts/fetch-models.sh $models" >&2
  exit 1
fi
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import cv2, numpy, skimage, onnx' 2>/dev/null; then
  echo "make-oracle: error: /usr/bin/python3 lacks cv2, numpy, skimage or onnx; run scripts/install-deps.sh" >&2
  exit 1
fi

"$root/scripts/oracle-npm-ci.sh"

shared_args=()
if [ -d "$shared/faces" ]; then
  shared_args=(--shared "$shared")
else
  echo "make-oracle: shared data folder $shared not found: writing only the random-input cases of the default pack"
fi

mkdir -p "$out"
/usr/bin/python3 "$oracle/make_inputs.py" --out "$out" --models "$models" "${shared_args[@]}" \
  --generated "$(dirname "$out")/generated-models"
node "$oracle/run_ort.mjs" "$out"
