#!/usr/bin/env bash
# Wall time of one `facesim compare` process against the insightface-style reference
# pipeline (reference_pipeline.py, OpenCV DNN) on the same two photos with the same
# models, both pinned to one core, runs interleaved so machine load hits both alike.
#
# Usage: bench/bench-compare.sh [RUNS]   (default 15)
# Needs: build/facesim, models/default (scripts/fetch-models.sh), ../shared, and
# Debian's python3-opencv + python3-skimage for the reference.
# Writes its section into docs/benchmarks.md between the compare markers and prints it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
shared=${FACESIM_SHARED_DIR:-$root/../shared}
cli=${FACESIM_CLI:-$root/build/facesim}
recogniser=${FACESIM_MODEL_DIR:-$root/models}/default/fr_feature.onnx
detector=$shared/models/scrfd_500m_bnkps.onnx
photo_a=$shared/faces/a01.jpg
photo_b=$shared/faces/a02.jpg

for need in "$cli" "$recogniser" "$detector" "$photo_a" "$photo_b"; do
    if [ ! -e "$need" ]; then
        echo "bench-compare: missing $need (build first, fetch the models, and keep ../shared beside the repo)" >&2
        exit 1
    fi
done

pack=$(mktemp -d)
trap 'rm -rf "$pack"' EXIT
ln -s "$detector" "$pack/scrfd_500m_bnkps.onnx"
ln -s "$recogniser" "$pack/fr_feature.onnx"

# Prints the wall time of the command in milliseconds.
time_ms() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

facesim_times=()
reference_times=()
for _ in $(seq "$runs"); do
    facesim_times+=("$(time_ms taskset -c 0 "$cli" compare "$photo_a" "$photo_b" --models "$pack" --threads 1)")
    reference_times+=("$(time_ms taskset -c 0 /usr/bin/python3 "$shared/tools/reference_pipeline.py" \
        --det "$detector" --rec "$recogniser" --rec-mean 127 --rec-std 128 --pairs "$photo_a" "$photo_b")")
done

facesim_median=$(printf '%s\n' "${facesim_times[@]}" | median)
reference_median=$(printf '%s\n' "${reference_times[@]}" | median)
ratio=$(awk -v a="$facesim_median" -v b="$reference_median" 'BEGIN { printf "%.3f", a / b }')
cosine=$("$cli" compare "$photo_a" "$photo_b" --models "$pack" --threads 1 -q)

section=$(cat <<TEXT
<!-- compare:begin (bench/bench-compare.sh replaces this block) -->
$(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average
$(cut -d' ' -f1-3 /proc/loadavg) at the end. Both programs pinned to core 0 with taskset,
$runs interleaved runs each, median. Photos a01.jpg and a02.jpg, detector
scrfd_500m_bnkps.onnx, recogniser fr_feature.onnx (cosine $cosine).

| program | median wall time (ms) |
|---|---|
| facesim compare --threads 1 | $facesim_median |
| reference_pipeline.py (OpenCV DNN) | $reference_median |
| ratio facesim / reference | $ratio |

Command: \`bench/bench-compare.sh $runs\`
<!-- compare:end -->
TEXT
)

echo "$section"
doc=$root/docs/benchmarks.md
if grep -q '<!-- compare:begin' "$doc"; then
    python3 - "$doc" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"<!-- compare:begin.*?<!-- compare:end -->", lambda _: section, text, flags=re.S)
open(path, "w").write(text)
PY
else
    printf '\n## facesim compare: whole-process wall time\n\n%s\n' "$section" >> "$doc"
fi
