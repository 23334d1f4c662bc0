#!/bin/sh
# Builds the ONNX loader's libFuzzer target with AddressSanitizer and
# UndefinedBehaviorSanitizer, seeds a corpus from the small models, and fuzzes
# for a fixed time. Exits non-zero when the fuzzer finds a crash, a leak or a
# sanitizer report; the input that caused it is saved under BUILD_DIR/fuzz-artifacts/.
#
# Usage: scripts/fuzz-smoke.sh [BUILD_DIR] [SECONDS]
#   BUILD_DIR  CMake build directory to configure (default: build-fuzz in the repository)
#   SECONDS    fuzzing time in seconds (default: 60)
# Environment: FACESIM_MODEL_DIR (default: models in the repository) and
#   FACESIM_SHARED_DIR (default: ../shared next to the repository) are searched for
#   seed models; FUZZ_MAX_LEN caps the input size in bytes (default: 65536).
# Needs clang with libFuzzer (Debian: clang-14, libclang-rt-14-dev). Seeds are
# shrunk with /usr/bin/python3 and python3-onnx when available.
set -eu

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$source_dir/build-fuzz}
seconds=${2:-60}
max_len=${FUZZ_MAX_LEN:-65536}
model_dir=${FACESIM_MODEL_DIR:-$source_dir/models}
shared_dir=${FACESIM_SHARED_DIR:-$source_dir/../shared}

case $seconds in
    ''|*[!0-9]*) echo "fuzz-smoke: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac

# Every source file gets coverage instrumentation (fuzzer-no-link), so libFuzzer
# measures which loader branches an input reaches. Only the target links libFuzzer.
cmake -S "$source_dir" -B "$build_dir" \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" \
    -DFACESIM_FUZZ=ON -DFACESIM_SANITIZE=ON >/dev/null
cmake --build "$build_dir" --target fuzz_onnx_load -j2

fuzzer=$build_dir/tests/fuzz_onnx_load
corpus=$build_dir/fuzz-corpus/onnx_load
artifacts=$build_dir/fuzz-artifacts/
mkdir -p "$corpus" "$artifacts"

# Seeds: every model found, with each initializer shrunk to one element per axis so
# the graph structure (nodes, attributes, names) fits in max_len. Without Python the
# models are copied whole and libFuzzer reads only their first max_len bytes.
found=0
for dir in "$model_dir" "$shared_dir/models"; do
    [ -d "$dir" ] || continue
    find "$dir" -name '*.onnx' -size -8M > "$build_dir/fuzz-seeds.txt"
    while IFS= read -r model; do
        found=$((found + 1))
        seed=$corpus/seed-$found-$(basename "$model")
        if ! /usr/bin/python3 - "$model" "$seed" 2>/dev/null <<'PYTHON'
import sys
import numpy as np
import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
for tensor in model.graph.initializer:
    array = numpy_helper.to_array(tensor)
    if array.size > 1:
        small = array.reshape(-1)[:1].reshape([1] * array.ndim)
        tensor.CopyFrom(numpy_helper.from_array(small, tensor.name))
onnx.save(model, sys.argv[2])
PYTHON
        then
            cp "$model" "$seed"
        fi
    done < "$build_dir/fuzz-seeds.txt"
done
if [ "$found" -eq 0 ]; then
    echo "fuzz-smoke: no seed models in $model_dir or $shared_dir/models; starting empty" >&2
fi

echo "fuzz-smoke: fuzzing $fuzzer for $seconds s with $(ls "$corpus" | wc -l) corpus files"
"$fuzzer" "$corpus" \
    -max_total_time="$seconds" \
    -max_len="$max_len" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" \
    -print_final_stats=1
