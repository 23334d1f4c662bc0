// Times one ONNX model in onnxruntime-node and prints one JSON line in the format of
// bench_engine (facesim's engine benchmark), so bench/run-engine.sh can compare them.
//
// Usage: node bench/ort_bench.mjs MODEL [--shape 1x3x640x640] [--threads N]
//                                 [--runs 15] [--warmup 3]
//
//   --shape    shape of the model's first input; needed when the model declares a
//              symbolic dimension there (default: the declared shape). Other inputs
//              must have fixed declared shapes.
//   --threads  onnxruntime intra-op threads (default 1); inter-op threads are 1 and
//              nodes run sequentially, as facesim's engine does.
//   --runs     timed runs (default 15); --warmup: untimed runs before them (default 3).
//
// Output fields: model, runtime, threads, shape, load_ms (session creation including
// graph optimisation at level "all"), median_ms and min_ms (one session.run each),
// peak_rss_mb (the process's maximum resident set, which includes Node.js itself: 51 MB
// with onnxruntime-node loaded and no model, on Node.js 20). Inputs are deterministic
// pseudo-random values, because the timings do not depend on them.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

// onnxruntime-node is installed under tests/oracle by scripts/oracle-npm-ci.sh.
const benchDir = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(benchDir, '..', 'tests', 'oracle', 'package.json'));

const usage = 'usage: node bench/ort_bench.mjs MODEL [--shape 1x3x640x640] [--threads N] [--runs 15] [--warmup 3]';

function fail(message) {
  console.error(`ort_bench: error: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const options = { model: null, shape: null, threads: 1, runs: 15, warmup: 3 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${arg} needs a value\n${usage}`);
      return argv[++i];
    };
    const count = (name, min) => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min) fail(`${name} must be an integer >= ${min}`);
      return n;
    };
    if (arg === '--shape') {
      const text = value();
      const dims = text.split('x').map(Number);
      if (dims.some((d) => !Number.isInteger(d) || d < 1)) fail(`invalid --shape "${text}", expected e.g. 1x3x640x640`);
      options.shape = dims;
    } else if (arg === '--threads') {
      options.threads = count('--threads', 1);
    } else if (arg === '--runs') {
      options.runs = count('--runs', 1);
    } else if (arg === '--warmup') {
      options.warmup = count('--warmup', 0);
    } else if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else if (arg.startsWith('--') || options.model !== null) {
      fail(`unexpected argument "${arg}"\n${usage}`);
    } else {
      options.model = arg;
    }
  }
  if (options.model === null) fail(`missing MODEL\n${usage}`);
  if (!existsSync(options.model)) fail(`model ${options.model} not found`);
  return options;
}

// Deterministic values in [-1, 1) from a 32-bit linear congruential generator.
function fillPseudoRandom(data, seed) {
  let state = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2147483648 - 1;
  }
  return data;
}

function inputShape(meta, index, requested) {
  const declared = meta.shape ?? [];
  if (index === 0 && requested) {
    if (requested.length !== declared.length) {
      fail(`--shape ${requested.join('x')} has rank ${requested.length}, input ${meta.name} has rank ${declared.length}`);
    }
    declared.forEach((d, axis) => {
      if (typeof d === 'number' && d !== requested[axis]) {
        fail(`--shape ${requested.join('x')} does not match input ${meta.name}, declared [${declared}];` +
             ' a model with a fixed batch of 1 needs a copy with a symbolic batch' +
             ' (scripts/make-dynamic-batch.py)');
      }
    });
    return requested;
  }
  if (declared.some((d) => typeof d !== 'number' || d < 1)) {
    fail(`input ${meta.name} has symbolic dimensions [${declared}]; pass --shape`);
  }
  return declared;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (error) {
    fail(`cannot load onnxruntime-node from tests/oracle/node_modules (${error.message.split('\n')[0]});` +
         ' install it with scripts/oracle-npm-ci.sh');
  }

  const loadStart = performance.now();
  const session = await ort.InferenceSession.create(options.model, {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = performance.now() - loadStart;

  const feeds = {};
  session.inputMetadata.forEach((meta, index) => {
    if (meta.type !== 'float32') fail(`input ${meta.name} has type ${meta.type}; only float32 inputs are supported`);
    const dims = inputShape(meta, index, options.shape);
    const count = dims.reduce((a, b) => a * b, 1);
    feeds[meta.name] = new ort.Tensor('float32', fillPseudoRandom(new Float32Array(count), 12345 + index), dims);
  });

  for (let i = 0; i < options.warmup; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < options.runs; i++) {
    const start = performance.now();
    await session.run(feeds);
    times.push(performance.now() - start);
  }
  await session.release();

  const round = (x) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({
    model: resolve(options.model),
    runtime: `onnxruntime-node ${ort.env.versions?.node ?? ''}`.trim(),
    threads: options.threads,
    shape: feeds[session.inputNames[0]].dims.join('x'),
    load_ms: round(loadMs),
    median_ms: round(median(times)),
    min_ms: round(Math.min(...times)),
    peak_rss_mb: round(process.resourceUsage().maxRSS / 1024),
  }));
}

await main();
