#!/usr/bin/env bash
# Times `facesim pairs` on the 406 pairs of the shared photos (every two of the 29
# photos in faces/identities.csv) at 1 and 2 threads, and the insightface reference,
# /usr/bin/python3 tools/reference_pipeline.py --pairs, on the same photos, models and
# settings. Writes the table into docs/benchmarks.md, section "Batch throughput".
#
# Usage: bench/bench-pairs.sh [--build DIR] [--repeat N] [--output FILE]
#   --build   CMake build folder with the facesim program (default: build)
#   --repeat  runs per row; the table shows the median wall time (default 3)
#   --output  markdown file to update (default: docs/benchmarks.md)
# Needs the default pack in models/default (for fr_feature.onnx), the shared data
# folder ($FACESIM_SHARED_DIR or ../shared) and Debian's python3-opencv for the
# reference. Both sides use SCRFD-500M (scrfd_500m_bnkps.onnx, 640x640) and the
# default pack's fr_feature.onnx with (x - 127) / 128 input normalisation.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
repeat=3
output=$root/docs/benchmarks.md
command_line="bench/bench-pairs.sh $*"

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(realpath -m "$2"); shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --output) output=$(realpath -m "$2"); shift 2 ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "bench-pairs: error: unknown argument $1; see --help" >&2; exit 2 ;;
  esac
done

shared=${FACESIM_SHARED_DIR:-$root/../shared}
facesim=$build/facesim
detector=$shared/models/scrfd_500m_bnkps.onnx
recogniser=$root/models/default/fr_feature.onnx
reference=$shared/tools/reference_pipeline.py
for needed in "$facesim" "$detector" "$recogniser" "$reference" "$shared/faces/identities.csv"; do
  if [ ! -e "$needed" ]; then
    echo "bench-pairs: error: $needed not found (build the facesim_cli target, run" \
         "scripts/fetch-models.sh, or set FACESIM_SHARED_DIR)" >&2
    exit 1
  fi
done

work=$build/bench/pairs
mkdir -p "$work/pack"
ln -sf "$detector" "$work/pack/scrfd_500m_bnkps.onnx"
ln -sf "$recogniser" "$work/pack/fr_feature.onnx"

# The pair list and the photo list, in identities.csv order.
photos=()
while IFS=, read -r file identity; do
  [ "$file" = file ] && continue
  photos+=("$shared/faces/$file")
done < "$shared/faces/identities.csv"
/usr/bin/python3 - "$work/pairs.csv" "${photos[@]}" <<'EOF'
import itertools, sys
with open(sys.argv[1], 'w') as out:
    for a, b in itertools.combinations(sys.argv[2:], 2):
        out.write(f'{a},{b}\n')
EOF
pair_count=$(wc -l < "$work/pairs.csv")

# Prints the median wall time in seconds of running "$@" $repeat times.
median_seconds() {
  local times=()
  for _ in $(seq "$repeat"); do
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g |
    awk '{ t[NR] = $1 } END { printf "%.2f\n", t[int((NR + 1) / 2)] }'
}

run_facesim() { "$facesim" pairs --models "$work/pack" --threads "$1" --json --no-progress \
                  -o "$work/facesim_$1.json" "$work/pairs.csv"; }
run_cached() { "$facesim" pairs --models "$work/pack" --threads 2 --json --no-progress \
                 --cache "$work/embeddings.cache" -o "$work/facesim_cached.json" "$work/pairs.csv"; }
run_reference() { OMP_NUM_THREADS=$1 OPENCV_FOR_THREADS_NUM=$1 /usr/bin/python3 "$reference" \
                    --det "$detector" --rec "$recogniser" --rec-mean 127 --rec-std 128 \
                    --pairs "${photos[@]}" > "$work/reference_$1.jsonl"; }

echo "bench-pairs: $pair_count pairs of ${#photos[@]} photos, $repeat runs per row"
reference_1=$(median_seconds run_reference 1)
reference_2=$(median_seconds run_reference 2)
facesim_1=$(median_seconds run_facesim 1)
facesim_2=$(median_seconds run_facesim 2)
rm -f "$work/embeddings.cache"
run_cached > /dev/null
cached_2=$(median_seconds run_cached)

# Largest cosine difference between facesim and the reference over all pairs.
difference=$(/usr/bin/python3 - "$work/facesim_2.json" "$work/reference_2.jsonl" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))['rows']
ours = {(r['path_a'], r['path_b']): r['cosine'] for r in rows}
theirs = {}
for line in open(sys.argv[2]):
    record = json.loads(line)
    if 'cosine' in record:
        theirs[(record['a'], record['b'])] = record['cosine']
common = [abs(ours[k] - theirs[k]) for k in theirs if ours.get(k) is not None]
print(f'{max(common):.5f} over {len(common)} pairs')
EOF
)

rate() { printf "%.0f" "$(echo "$pair_count / $1" | bc -l)"; }
ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
table=$(cat <<EOF
Measured $(date -u +%Y-%m-%d) with \`$command_line\`
on $(nproc) cores ($cpu), load average $(cut -d' ' -f1 /proc/loadavg) at the end.
Wall time of the whole program (model loading, decoding, detection, alignment,
embedding, output), median of $repeat runs. Each of the ${#photos[@]} photos is decoded
and embedded once by both programs.

| program | threads | wall s | pairs/s | speed-up vs reference at 2 threads |
|---|---:|---:|---:|---:|
| reference_pipeline.py (OpenCV DNN) | 1 | $reference_1 | $(rate "$reference_1") | $(ratio "$reference_2" "$reference_1") |
| reference_pipeline.py (OpenCV DNN) | 2 | $reference_2 | $(rate "$reference_2") | 1.00 |
| facesim pairs | 1 | $facesim_1 | $(rate "$facesim_1") | $(ratio "$reference_2" "$facesim_1") |
| facesim pairs | 2 | $facesim_2 | $(rate "$facesim_2") | $(ratio "$reference_2" "$facesim_2") |
| facesim pairs --cache, rerun | 2 | $cached_2 | $(rate "$cached_2") | $(ratio "$reference_2" "$cached_2") |

Largest cosine difference between facesim and the reference: $difference.
The reference's thread count is set through OMP_NUM_THREADS and OPENCV_FOR_THREADS_NUM.
EOF
)

begin='<!-- batch:begin (bench/bench-pairs.sh replaces this block) -->'
end='<!-- batch:end -->'
if ! grep -qF "$begin" "$output"; then
  printf '\n## Batch throughput\n\n%s\n%s\n' "$begin" "$end" >> "$output"
fi
/usr/bin/python3 - "$output" "$begin" "$end" "$table" <<'EOF'
import sys
path, begin, end, table = sys.argv[1:]
text = open(path).read()
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, 'w').write(head + begin + '\n' + table + '\n' + end + tail)
EOF
echo "$table"
echo "bench-pairs: updated $output"
