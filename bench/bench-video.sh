#!/usr/bin/env bash
# Frames per second of `facesim video` on a 720p test video against the reference
# pipeline (reference_pipeline.py, insightface's steps in OpenCV DNN) doing the same
# work: detect, align and embed the largest face of every frame and of the reference
# photo. Both use scrfd_500m_bnkps.onnx + fr_feature.onnx, run at 1 and 2 cores (pinned
# with taskset), interleaved in one run.
#
# The reference reads frames as PNG files that ffmpeg extracts beforehand, outside the
# timing, since the script takes only images; facesim's time includes video decoding.
#
# Usage: bench/bench-video.sh [SECONDS_PER_PHOTO] [REPEATS]   (defaults 4 and 3)
# Needs: build/facesim, models/default, ../shared, ffmpeg, Debian's python3-opencv and
# python3-skimage. Writes its section into docs/benchmarks.md between the video markers
# and prints it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds_per_photo=${1:-4}
repeats=${2:-3}
shared=${FACESIM_SHARED_DIR:-$root/../shared}
cli=${FACESIM_CLI:-$root/build/facesim}
recogniser=${FACESIM_MODEL_DIR:-$root/models}/default/fr_feature.onnx
detector=$shared/models/scrfd_500m_bnkps.onnx
doc=$root/docs/benchmarks.md

for need in "$cli" "$recogniser" "$detector" "$shared/faces/a01.jpg"; do
    if [ ! -e "$need" ]; then
        echo "bench-video: missing $need (build first, fetch the models, keep ../shared beside the repo)" >&2
        exit 1
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pack" "$work/frames"
ln -s "$detector" "$work/pack/scrfd_500m_bnkps.onnx"
ln -s "$recogniser" "$work/pack/fr_feature.onnx"

# A 1280x720, 25 fps video: a01.jpg, then a02.jpg, then b01.jpg, each for
# SECONDS_PER_PHOTO seconds, letterboxed.
video=$work/test-720p.mp4
inputs=()
filters=""
index=0
for photo in a01 a02 b01; do
    inputs+=(-loop 1 -t "$seconds_per_photo" -i "$shared/faces/$photo.jpg")
    filters+="[$index:v]scale=-2:720,pad=1280:720:(ow-iw)/2:0,setsar=1,fps=25[v$index];"
    index=$((index + 1))
done
filters+="[v0][v1][v2]concat=n=3:v=1:a=0[out]"
ffmpeg -loglevel error -y "${inputs[@]}" -filter_complex "$filters" -map '[out]' \
    -c:v libx264 -pix_fmt yuv420p "$video"
ffmpeg -loglevel error -y -i "$video" "$work/frames/%05d.png"
frame_count=$(find "$work/frames" -name '*.png' | wc -l)
reference=$shared/faces/a03.jpg

time_ms() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

min_of() { sort -n | head -n 1; }

declare -A best
for _ in $(seq "$repeats"); do
    for cores in 1 2; do
        cpus=$([ "$cores" = 1 ] && echo 0 || echo 0,1)
        best[facesim_$cores]+="$(time_ms taskset -c "$cpus" "$cli" video "$reference" "$video" \
            --models "$work/pack" --threads "$cores" --csv -o /dev/null) "
        best[reference_$cores]+="$(time_ms taskset -c "$cpus" /usr/bin/python3 \
            "$shared/tools/reference_pipeline.py" --det "$detector" --rec "$recogniser" \
            --rec-mean 127 --rec-std 128 "$reference" "$work"/frames/*.png) "
    done
done

fps() { awk -v n="$frame_count" -v ms="$1" 'BEGIN { printf "%.1f", n / (ms / 1000) }'; }

rows=""
for cores in 1 2; do
    facesim_ms=$(tr ' ' '\n' <<< "${best[facesim_$cores]}" | grep . | min_of)
    reference_ms=$(tr ' ' '\n' <<< "${best[reference_$cores]}" | grep . | min_of)
    ratio=$(awk -v a="$reference_ms" -v b="$facesim_ms" 'BEGIN { printf "%.2f", a / b }')
    rows+="| $cores | $facesim_ms | $(fps "$facesim_ms") | $reference_ms | $(fps "$reference_ms") | $ratio |"$'\n'
done

section=$(cat <<TEXT
<!-- video:begin (bench/bench-video.sh replaces this block) -->
$(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average
$(cut -d' ' -f1-3 /proc/loadavg) at the end. A 1280x720 H.264 video of $frame_count frames
(three photos, $seconds_per_photo s each at 25 fps), reference photo a03.jpg, detector
scrfd_500m_bnkps.onnx at 640, recogniser fr_feature.onnx. Fastest of $repeats interleaved runs.
The reference pipeline reads the frames as PNG files extracted beforehand (not timed);
facesim decodes the video itself.

| cores | facesim ms | facesim frames/s | reference ms | reference frames/s | speed-up |
|---|---|---|---|---|---|
$rows
Command: \`bench/bench-video.sh $seconds_per_photo $repeats\`
<!-- video:end -->
TEXT
)

echo "$section"
if grep -q '<!-- video:begin' "$doc"; then
    python3 - "$doc" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"<!-- video:begin.*?<!-- video:end -->", lambda _: section, text, flags=re.S)
open(path, "w").write(text)
PY
else
    printf '\n## Video throughput\n\n%s\n' "$section" >> "$doc"
fi
