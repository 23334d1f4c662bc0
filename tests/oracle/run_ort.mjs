// Runs onnxruntime on every oracle case and writes its outputs beside the inputs.
//
// Usage: node run_ort.mjs ORACLE_DIR [CASE...]
//
// A case is a folder ORACLE_DIR/<case>/ with model.txt (one line: the model path) and
// input_0.bin, input_1.bin, ... (written by make_inputs.py) in the order of the model's
// graph inputs. This script writes output_0.bin, output_1.bin, ... in the order of the
// model's graph outputs. Every .bin file is an ASCII header line
// "f32 <rank> <d0> <d1> ...\n" followed by little-endian float32 values in C order.
//
// onnxruntime runs with graph optimisations disabled, so the reference follows the graph
// node by node without fusions that change rounding (Conv+BatchNormalization and the like).
//
// A model that declares batch size 1 on an input receives a larger batch as that many
// batch-1 runs whose outputs are stacked along axis 0. fr_feature.onnx needs this: it
// declares batch 1 and reshapes to [1, -1] before its output.
import { readFileSync, writeFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const usage = 'usage: node run_ort.mjs ORACLE_DIR [CASE...]';

function readTensor(path) {
  const bytes = readFileSync(path);
  const newline = bytes.indexOf(0x0a);
  if (newline < 0 || newline > 256) {
    throw new Error(`${path}: missing header line "f32 <rank> <dims...>"`);
  }
  const fields = bytes.subarray(0, newline).toString('ascii').trim().split(/\s+/);
  if (fields[0] !== 'f32') {
    throw new Error(`${path}: element type "${fields[0]}" is not supported, expected f32`);
  }
  const rank = Number(fields[1]);
  const dims = fields.slice(2).map(Number);
  if (!Number.isInteger(rank) || dims.length !== rank || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${path}: invalid header "${fields.join(' ')}"`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const payload = bytes.length - newline - 1;
  if (payload !== count * 4) {
    throw new Error(`${path}: header shape [${dims}] needs ${count * 4} bytes of data, file has ${payload}`);
  }
  // Copy into a fresh buffer: the payload offset is not 4-byte aligned in general.
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(bytes.subarray(newline + 1));
  return { dims, data };
}

function writeTensor(path, dims, data) {
  const header = Buffer.from(`f32 ${dims.length} ${dims.join(' ')}\n`, 'ascii');
  const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  writeFileSync(path, Buffer.concat([header, payload]));
}

function listInputs(folder) {
  const inputs = [];
  while (existsSync(join(folder, `input_${inputs.length}.bin`))) {
    inputs.push(readTensor(join(folder, `input_${inputs.length}.bin`)));
  }
  return inputs;
}

// Returns the number of batch-1 runs a case needs: 1 when the inputs match the model's
// declared shapes, N when the model declares batch 1 and every input carries batch N.
function batchSplit(session, inputs, caseName) {
  let split = 1;
  session.inputMetadata.forEach((meta, i) => {
    const dims = inputs[i].dims;
    const declared = meta.shape ?? [];
    if (declared.length !== dims.length) {
      throw new Error(`${caseName}: input ${meta.name} has rank ${dims.length}, the model declares rank ${declared.length}`);
    }
    declared.forEach((d, axis) => {
      if (typeof d !== 'number' || d === dims[axis]) return;
      if (axis === 0 && d === 1 && (split === 1 || split === dims[0])) {
        split = dims[0];
        return;
      }
      throw new Error(`${caseName}: input ${meta.name} has shape [${dims}], the model declares [${declared}]`);
    });
  });
  if (split > 1 && inputs.some((t) => t.dims[0] !== split)) {
    throw new Error(`${caseName}: a batch of ${split} needs batch ${split} on every input`);
  }
  return split;
}

async function runOnce(session, inputs) {
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    feeds[name] = new ort.Tensor('float32', inputs[i].data, inputs[i].dims);
  });
  const results = await session.run(feeds);
  return session.outputNames.map((name) => {
    const tensor = results[name];
    if (tensor.type !== 'float32') {
      throw new Error(`output ${name} has type ${tensor.type}; the oracle format stores float32 only`);
    }
    return { dims: tensor.dims.map(Number), data: tensor.data };
  });
}

function sliceBatch(tensor, index) {
  const size = tensor.data.length / tensor.dims[0];
  return { dims: [1, ...tensor.dims.slice(1)], data: tensor.data.slice(index * size, (index + 1) * size) };
}

function stackBatch(parts) {
  const size = parts[0].data.length;
  const data = new Float32Array(size * parts.length);
  parts.forEach((p, i) => data.set(p.data, i * size));
  return { dims: [parts.length, ...parts[0].dims.slice(1)], data };
}

async function runCase(folder, caseName) {
  const model = readFileSync(join(folder, 'model.txt'), 'utf8').trim();
  if (!existsSync(model)) {
    throw new Error(`${caseName}: model ${model} named in model.txt not found`);
  }
  const inputs = listInputs(folder);
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'disabled',
    executionMode: 'sequential',
  });
  if (inputs.length !== session.inputNames.length) {
    throw new Error(`${caseName}: ${inputs.length} input files, the model has ${session.inputNames.length} inputs (${session.inputNames})`);
  }

  const split = batchSplit(session, inputs, caseName);
  let outputs;
  if (split === 1) {
    outputs = await runOnce(session, inputs);
  } else {
    const runs = [];
    for (let b = 0; b < split; b++) {
      runs.push(await runOnce(session, inputs.map((t) => sliceBatch(t, b))));
    }
    outputs = runs[0].map((_, o) => stackBatch(runs.map((r) => r[o])));
  }
  await session.release();

  outputs.forEach((t, o) => {
    if (!t.data.every(Number.isFinite)) {
      throw new Error(`${caseName}: output ${session.outputNames[o]} contains NaN or infinity`);
    }
    writeTensor(join(folder, `output_${o}.bin`), t.dims, t.data);
  });
  const shapes = outputs.map((t) => t.dims.join('x')).join(', ');
  const note = split > 1 ? ` (${split} batch-1 runs, stacked)` : '';
  console.log(`run_ort: ${caseName.padEnd(22)} ${shapes}${note}`);
}

async function main(argv) {
  if (argv.length < 1 || argv[0] === '--help' || argv[0] === '-h') {
    console.error(usage);
    return argv.length < 1 ? 2 : 0;
  }
  const root = argv[0];
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    console.error(`run_ort: error: oracle folder ${root} not found; create it with scripts/make-oracle.sh`);
    return 1;
  }
  const cases = argv.length > 1
    ? argv.slice(1)
    : readdirSync(root).filter((name) => existsSync(join(root, name, 'model.txt'))).sort();
  if (cases.length === 0) {
    console.error(`run_ort: error: no case folders with a model.txt in ${root}`);
    return 1;
  }

  let failed = 0;
  for (const name of cases) {
    try {
      await runCase(join(root, name), name);
    } catch (error) {
      failed++;
      console.error(`run_ort: error: ${error.message}`);
    }
  }
  console.log(`run_ort: ${cases.length - failed} cases written, ${failed} failed (onnxruntime-node ${ort.env.versions?.common ?? ''})`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
