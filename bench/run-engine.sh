#!/usr/bin/env bash
# Times facesim's engine (bench_engine) against onnxruntime-node (bench/ort_bench.mjs)
# on every benchmark model at 1 and 2 threads, and writes the table into
# docs/benchmarks.md between its "results" markers.
#
# Usage: bench/run-engine.sh [--build DIR] [--runs N] [--warmup N] [--timeout S]
#                            [--output FILE]
#   --build   CMake build folder with bench_engine (default: build). Without
#             bench_engine only onnxruntime is timed, and the facesim columns read
#             "bench_engine not built".
#   --runs    timed runs per measurement (default 15); --warmup: untimed runs (default 3).
#   --timeout seconds one measurement (load, warm-up and timed runs) may take before it
#             is stopped and reported as timed out (default 120).
#   --output  markdown file to update (default: docs/benchmarks.md).
# Needs the default pack (scripts/fetch-models.sh) and the oracle's onnxruntime-node
# (scripts/oracle-npm-ci.sh). The SCRFD models and the iresnet50 generator come from
# the shared data folder ($FACESIM_SHARED_DIR or ../shared). A row whose model is
# missing reads "model not found". Raw JSON lines go to BUILD/bench/results.jsonl.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
runs=15
warmup=3
timeout_seconds=120
output=$root/docs/benchmarks.md
command_line="bench/run-engine.sh $*"

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(realpath -m "$2"); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --timeout) timeout_seconds=$2; shift 2 ;;
    --output) output=$(realpath -m "$2"); shift 2 ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run-engine: error: unknown argument $1; see --help" >&2; exit 2 ;;
  esac
done

shared=${FACESIM_SHARED_DIR:-$root/../shared}
pack=$root/models/default
work=$build/bench
mkdir -p "$work"
results=$work/results.jsonl
: > "$results"

"$root/scripts/oracle-npm-ci.sh"
# Other processes distort the timings, so the table records the 1-minute load average.
load_start=$(cut -d' ' -f1 /proc/loadavg)

engine=$build/bench_engine
if [ ! -x "$engine" ]; then
  echo "run-engine: $engine not found: timing onnxruntime only (build the bench_engine target to compare)"
  engine=
fi

# fr_feature.onnx hard-codes batch 1, which onnxruntime enforces, so onnxruntime gets a
# copy with a symbolic batch for the batch-8 rows. facesim runs the original file.
feature_dynamic=
if [ -f "$pack/fr_feature.onnx" ]; then
  feature_dynamic=$work/fr_feature_dynamic_batch.onnx
  [ -f "$feature_dynamic" ] ||
    /usr/bin/python3 "$root/scripts/make-dynamic-batch.py" "$pack/fr_feature.onnx" "$feature_dynamic"
fi

iresnet=$build/test-work/generated-models/iresnet50_random.onnx
if [ ! -f "$iresnet" ] && [ -f "$shared/tools/make_iresnet50.py" ]; then
  mkdir -p "$(dirname "$iresnet")"
  /usr/bin/python3 "$shared/tools/make_iresnet50.py" "$iresnet.part" >/dev/null
  mv "$iresnet.part" "$iresnet"
fi

# name | facesim model | onnxruntime model | input shape
cases=(
  "scrfd_2.5g_bnkps|$shared/models/scrfd_2.5g_bnkps.onnx||1x3x640x640"
  "scrfd_2.5g_bnkps|$shared/models/scrfd_2.5g_bnkps.onnx||1x3x480x640"
  "scrfd_500m|$shared/models/scrfd_500m.onnx||1x3x640x640"
  "scrfd_500m_bnkps|$shared/models/scrfd_500m_bnkps.onnx||1x3x640x640"
  "fr_feature|$pack/fr_feature.onnx||1x3x112x112"
  "fr_feature|$pack/fr_feature.onnx|$feature_dynamic|8x3x112x112"
  "iresnet50 (random weights)|$iresnet||1x3x112x112"
  "iresnet50 (random weights)|$iresnet||8x3x112x112"
  "fr_detect|$pack/fr_detect.onnx||1x3x240x320"
  "fr_landmark|$pack/fr_landmark.onnx||1x1x64x64"
)

# Prints the JSON line of one measurement, or a JSON object with "error".
measure() {
  local runtime=$1 model=$2 shape=$3 threads=$4 line log status=0
  local options=(--threads "$threads" --runs "$runs" --warmup "$warmup")
  log=$work/last-error.txt
  if [ "$runtime" = facesim ]; then
    line=$(timeout "$timeout_seconds" "$engine" "$model" --input-shape "$shape" "${options[@]}" 2>"$log" | tail -n 1) || status=$?
  else
    line=$(timeout "$timeout_seconds" node "$root/bench/ort_bench.mjs" "$model" --shape "$shape" "${options[@]}" 2>"$log" | tail -n 1) || status=$?
  fi
  if [ "$status" -eq 124 ]; then
    echo "timed out after $timeout_seconds s" > "$log"
    line=
  fi
  if [ -z "$line" ] || ! node -e 'JSON.parse(process.argv[1])' "$line" 2>/dev/null; then
    line=$(node -e 'console.log(JSON.stringify({error: process.argv[1]}))' "$(head -c 300 "$log" | head -n 1)")
  fi
  echo "$line"
}

row=0
for entry in "${cases[@]}"; do
  IFS='|' read -r name model ort_model shape <<< "$entry"
  ort_model=${ort_model:-$model}
  for threads in 1 2; do
    row=$((row + 1))
    facesim='{"error":"not measured"}'
    ort='{"error":"not measured"}'
    if [ ! -f "$model" ]; then
      facesim='{"error":"model not found"}'
      ort=$facesim
    else
      # Alternate which runtime goes first, so slow drift of the machine's load does
      # not always favour the same one.
      if [ $((row % 2)) -eq 1 ]; then
        [ -n "$engine" ] && facesim=$(measure facesim "$model" "$shape" "$threads")
        ort=$(measure ort "$ort_model" "$shape" "$threads")
      else
        ort=$(measure ort "$ort_model" "$shape" "$threads")
        [ -n "$engine" ] && facesim=$(measure facesim "$model" "$shape" "$threads")
      fi
      [ -n "$engine" ] || facesim='{"error":"bench_engine not built"}'
    fi
    node -e 'const [name, shape, threads, f, o] = process.argv.slice(1);
      console.log(JSON.stringify({name, shape, threads: Number(threads), facesim: JSON.parse(f), onnxruntime: JSON.parse(o)}));' \
      "$name" "$shape" "$threads" "$facesim" "$ort" | tee -a "$results"
  done
done

load_end=$(cut -d' ' -f1 /proc/loadavg)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
cores=$(nproc)
date_utc=$(date -u '+%Y-%m-%d %H:%M UTC')
ort_version=$(node -p "require('$root/tests/oracle/node_modules/onnxruntime-node/package.json').version")

table=$(node - "$results" "$date_utc" "$cpu" "$cores" "$command_line" "$runs" "$warmup" "$ort_version" \
  "$load_start" "$load_end" <<'EOF'
const fs = require('node:fs');
const [file, date, cpu, cores, command, runs, warmup, ortVersion, loadStart, loadEnd] = process.argv.slice(2);
const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const ms = (r) => (r.error ? r.error : `${r.median_ms.toFixed(2)} (${r.min_ms.toFixed(2)})`);
const mb = (r) => (r.error ? '' : r.peak_rss_mb.toFixed(0));
const load = (r) => (r.error ? '' : (r.load_ms + (r.plan_ms ?? 0)).toFixed(0));
const lines = [
  `Measured ${date} on ${cpu}, ${cores} cores, with \`${command.trim()}\``,
  `(timed runs: ${runs}, untimed warm-up runs before them: ${warmup}; onnxruntime-node ${ortVersion}).`,
  `The 1-minute load average was ${loadStart} at the start and ${loadEnd} at the end; on an idle`,
  `machine it is near 0, and a value near or above the core count means other processes competed for the cores.`,
  '',
  '| model | input | threads | facesim ms, median (min) | onnxruntime ms, median (min) | onnxruntime / facesim, median (min) | facesim load+plan ms | onnxruntime load ms | facesim peak RSS MB | onnxruntime peak RSS MB |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const r of rows) {
  const f = r.facesim, o = r.onnxruntime;
  const ratio = f.error || o.error ? ''
    : `${(o.median_ms / f.median_ms).toFixed(2)} (${(o.min_ms / f.min_ms).toFixed(2)})`;
  lines.push(`| ${r.name} | ${r.shape} | ${r.threads} | ${ms(f)} | ${ms(o)} | ${ratio} | ${load(f)} | ${load(o)} | ${mb(f)} | ${mb(o)} |`);
}
console.log(lines.join('\n'));
EOF
)

begin='<!-- results:begin (bench/run-engine.sh replaces this block) -->'
end='<!-- results:end -->'
if [ ! -f "$output" ]; then
  printf '# Benchmarks\n\n%s\n%s\n' "$begin" "$end" > "$output"
fi
if ! grep -qF "$begin" "$output" || ! grep -qF "$end" "$output"; then
  printf '\n%s\n%s\n' "$begin" "$end" >> "$output"
fi
node - "$output" "$begin" "$end" "$table" <<'EOF'
const fs = require('node:fs');
const [file, begin, end, table] = process.argv.slice(2);
const text = fs.readFileSync(file, 'utf8');
const start = text.indexOf(begin) + begin.length;
const stop = text.indexOf(end);
fs.writeFileSync(file, text.slice(0, start) + '\n' + table + '\n' + text.slice(stop));
EOF
echo "run-engine: wrote the table to $output and the raw results to $results"
