/**
 * `npm run bench`: PankNet engines side by side with PyTorch CPU (Debian python3-torch through
 * /usr/bin/python3), same graph, weights and input, in the same run. Not part of `npm test`.
 *
 * Sections (`--sections forward,predict,grow,train`, default all):
 * - forward: one full-width forward pass on a 48 x 128 x 128 patch: PyTorch, onnxruntime-node,
 *   tfjs wasm (one run: it is slow); ms, ratio to PyTorch, peak RSS, max difference to PyTorch.
 * - predict: `predictVolume` on the example CT resampled to `--spacing` mm (default 1) with a
 *   network of width `--width` (default 0.25) for the onnx and tfjs engines, and the same
 *   windows, overlap and blending in PyTorch (scripts/bench-sliding-window.py).
 * - grow: the same at `--grow-spacing` mm (default 0.8, about twice the voxels).
 * - train: one training step (`trainStep` of src/train/train.ts: forward in training mode,
 *   deep-supervision soft Dice over the 4 maps and the fused logits, backward, Adam) at batch
 *   `--train-batch` (2) on a 48 x 128 x 128 patch, tfjs wasm at `--train-width` and tfjs cpu at
 *   `--train-cpu-width` (both 0.125: a full-width step does not fit tfjs), beside PyTorch doing
 *   the same step with the same weights, input and label (scripts/bench-train.py, the reference
 *   network of test/fixtures/panknet_reference.py) at each of those widths. PyTorch and wasm:
 *   one warm-up step, then best of `--train-repeats` (2); cpu (minutes per step): one cold step
 *   unless `--train-cpu-repeats` is above 0. ms per step, ratio to PyTorch, peak RSS, and the
 *   first step's loss against PyTorch's (relative 1e-3; a mismatch sets exit code 1). An engine
 *   that fails (tfjs wasm runs out of its wasm heap at batch 2) gets a row saying why.
 * tfjs on wasm takes seconds per window even at small widths, so by default its whole-CT time is
 * an estimate: `--tfjs-samples` (6) real windows timed, times the window count, marked ESTIMATE
 * in the table; `--tfjs-full` runs its whole predictVolume instead.
 * `--torch-estimate`: PyTorch's whole-CT time is one window's time (best of 3) times the
 *   window count, marked ESTIMATE, instead of its sliding window (slow on a loaded machine).
 * `--quick`: forward at width 0.25, 1 repeat; whole CT at 2 and 1.6 mm, width 0.125.
 * Every engine runs in its own child process, so each peak RSS is that engine's alone.
 *
 * Usage: npm run bench [-- --quick] [-- --sections forward,predict,grow,train --repeats 3
 *   --width 0.25 --forward-width 1 --spacing 1 --grow-spacing 0.8 --overlap 0.5 --tfjs-samples 6
 *   --tfjs-full --train-width 0.125 --train-cpu-width 0.125 --train-batch 2 --train-repeats 2
 *   --train-cpu-repeats 0 --train-backends wasm,cpu]
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import type { SegmentationEngine } from '../src/infer/engine.js';
import { loadModel } from '../src/infer/load-model.js';
import { predictVolume } from '../src/infer/predict-volume.js';
import { windowStarts } from '../src/infer/sliding-window.js';
import { readVolume } from '../src/io/read-volume.js';
import { selectBackend } from '../src/backend/select-backend.js';
import { buildPankNetGraph, type PankNetGraph, type Triple } from '../src/model/architecture.js';
import { saveCheckpoint } from '../src/model/checkpoint.js';
import { PankNet } from '../src/model/panknet.js';
import type { StateDict } from '../src/model/state-dict.js';
import {
  prepareForNetwork,
  type PreprocessingSpec,
} from '../src/preprocess/prepare-for-network.js';
import { Adam } from '../src/train/adam.js';
import { trainStep } from '../src/train/train.js';
import { PROJECT_ROOT } from '../test/helpers/data.js';
import {
  TORCH_PYTHON,
  maxAbsDiff,
  runTorchReference,
  seededInput,
  seededRandom,
  seededStateDict,
} from '../test/onnx/torch-reference.js';

const EXAMPLE_CT = join(PROJECT_ROOT, 'examples', 'ct-abdomen-3mm.nii.gz');
const SLIDING_SCRIPT = join(PROJECT_ROOT, 'scripts', 'bench-sliding-window.py');
const TRAIN_SCRIPT = join(PROJECT_ROOT, 'scripts', 'bench-train.py');
/** Learning rate of the timed Adam steps (the first value of the training recipe's schedule). */
const TRAIN_LR = 1e-3;
/** Largest relative difference allowed between the tfjs and PyTorch first-step losses. */
const LOSS_TOLERANCE = 1e-3;
/** Default width of the train section for PyTorch and tfjs wasm. */
const TRAIN_WIDTH = 0.125;
/** Default width of the train section for tfjs cpu. */
const TRAIN_CPU_WIDTH = 0.125;
const SELF = fileURLToPath(import.meta.url);

/** Work for one child process. */
type ChildJob =
  | { kind: 'prepare'; modelDir: string; threads: number }
  | {
      kind: 'forward';
      engine: 'onnx' | 'tfjs';
      modelDir: string;
      inputFile: string;
      outputFile: string;
      repeats: number;
      threads: number;
    }
  | {
      kind: 'predict';
      engine: 'onnx' | 'tfjs';
      modelDir: string;
      spacingMm: number;
      overlap: number;
      threads: number;
    }
  | {
      kind: 'sample';
      modelDir: string;
      spacingMm: number;
      overlap: number;
      samples: number;
    }
  | {
      kind: 'train';
      backend: 'wasm' | 'cpu';
      width: number;
      /** Folder of weights.json/.bin, input.bin and label.bin (see `writeTrainData`). */
      dataDir: string;
      /** Warm-up step included. */
      steps: number;
    };

/** What a child reports. */
interface ChildResult {
  engineName: string;
  /** Forward: best ms; predict: seconds of the windows stage. */
  ms: number;
  totalMs?: number;
  windows?: number;
  networkShape?: [number, number, number];
  pancreasMean?: number;
  maxRssMb: number;
  /** Train: ms of each step, warm-up first. */
  stepMs?: number[];
  /** Train: loss of each step (before its update). */
  losses?: number[];
}

/** One row of the printed table. */
export interface BenchRow {
  test: string;
  engine: string;
  /** Forward: ms per pass; predict: seconds of the sliding window. */
  time: number;
  unit: 'ms' | 's';
  /** PyTorch time over this time (above 1: faster than PyTorch). */
  speedVsTorch?: number;
  windowsPerSecond?: number;
  secondsPerMvox?: number;
  maxRssMb: number;
  note: string;
}

/**
 * Times `engine.run` on one window: best of `repeats` after one warm-up; `repeats` 0 times the
 * first run alone (for tfjs on wasm, where one pass takes many seconds).
 */
export async function timeEngineForward(
  engine: SegmentationEngine,
  window: Float32Array,
  repeats: number,
): Promise<{ bestMs: number; fused: Float32Array }> {
  let start = performance.now();
  let fused = (await engine.run(window, 1)).fused;
  let bestMs = repeats === 0 ? performance.now() - start : Infinity;
  for (let r = 0; r < repeats; r++) {
    start = performance.now();
    fused = (await engine.run(window, 1)).fused;
    bestMs = Math.min(bestMs, performance.now() - start);
  }
  return { bestMs, fused };
}

/** One training patch as `trainStep` takes it: image `[D, H, W]` in [0, 1], label 0/1. */
export interface TrainPatch {
  image: Float32Array;
  label: Uint8Array;
}

/**
 * Times `steps` training steps of `net` on the same batch through `trainStep`
 * (src/train/train.ts) with a fresh Adam at learning rate `lr`; each step is synchronous on the
 * wasm and cpu backends (it reads the loss back), so its wall time covers forward, loss,
 * backward and update.
 *
 * @param net - The network; its weights change with every step.
 * @param patches - The batch, each patch of `net.graph.options.patch` voxels.
 * @param steps - Steps to run (the caller treats the first as warm-up).
 * @param lr - Adam learning rate.
 * @returns ms of each step and its loss (the summed deep-supervision soft Dice, before the
 *   step's update), in order.
 */
export function timeTrainSteps(
  net: PankNet,
  patches: TrainPatch[],
  steps: number,
  lr: number,
): { stepMs: number[]; losses: number[] } {
  const adam = new Adam();
  const variables = net.namedTrainableVariables();
  const stepMs: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const start = performance.now();
    const { loss } = trainStep(net, adam, variables, patches, net.graph.options.patch, lr);
    stepMs.push(performance.now() - start);
    losses.push(loss);
    process.stderr.write(`    step ${s + 1}: ${stepMs.at(-1)!.toFixed(0)} ms, loss ${loss}\n`);
  }
  adam.dispose();
  return { stepMs, losses };
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function numberFlag(name: string, fallback: number): number {
  const value = flag(name);
  return value === undefined ? fallback : Number(value);
}

function rssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function runChild(job: ChildJob): Promise<ChildResult> {
  if (job.kind === 'prepare') {
    // Exports and caches the ONNX model beside the checkpoint, outside the timed children.
    const model = await loadModel(job.modelDir, { engine: 'onnx', threads: job.threads });
    await model.engine.dispose();
    return { engineName: model.engine.name, ms: 0, maxRssMb: rssMb() };
  }
  if (job.kind === 'sample') return sampleWindows(job);
  if (job.kind === 'train') return trainChild(job);
  const backend = job.engine === 'tfjs' ? 'wasm' : undefined;
  const model = await loadModel(job.modelDir, {
    engine: job.engine,
    backend,
    threads: job.threads,
  });
  const engine = model.engine;
  if (job.kind === 'forward') {
    const bytes = readFileSync(job.inputFile);
    const window = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const timed = await timeEngineForward(engine, window, job.repeats);
    writeFileSync(job.outputFile, new Uint8Array(timed.fused.buffer));
    await engine.dispose();
    return { engineName: engine.name, ms: timed.bestMs, maxRssMb: rssMb() };
  }
  const volume = await readVolume(EXAMPLE_CT);
  const spacingMm: [number, number, number] = [job.spacingMm, job.spacingMm, job.spacingMm];
  const started = performance.now();
  const result = await predictVolume(
    volume,
    engine,
    { ...model.preprocessing, spacingMm },
    { overlap: job.overlap },
  );
  const totalMs = performance.now() - started;
  await engine.dispose();
  const p = result.probability.data;
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += p[i]!;
  return {
    engineName: engine.name,
    ms: result.timingsMs.windows!,
    totalMs,
    windows: result.windows,
    networkShape: result.networkShape,
    pancreasMean: sum / p.length,
    maxRssMb: rssMb(),
  };
}

/**
 * tfjs on wasm needs seconds per window, too slow for a whole CT by default: runs `samples`
 * real windows of the prepared CT, evenly picked from the sliding window's list, and reports
 * the mean time per window and the window count (the caller extrapolates and says so).
 */
async function sampleWindows(job: Extract<ChildJob, { kind: 'sample' }>): Promise<ChildResult> {
  const model = await loadModel(job.modelDir, { engine: 'tfjs', backend: 'wasm' });
  const engine = model.engine;
  const volume = await readVolume(EXAMPLE_CT);
  const spacingMm: [number, number, number] = [job.spacingMm, job.spacingMm, job.spacingMm];
  const prepared = prepareForNetwork(volume, { ...model.preprocessing, spacingMm });
  const [sd, sh, sw] = prepared.shape;
  const [pd, ph, pw] = engine.patch;
  const starts: Array<[number, number, number]> = [];
  for (const z of windowStarts(sd, pd, job.overlap)) {
    for (const y of windowStarts(sh, ph, job.overlap)) {
      for (const x of windowStarts(sw, pw, job.overlap)) starts.push([z, y, x]);
    }
  }
  const count = Math.min(job.samples, starts.length);
  const window = new Float32Array(pd * ph * pw);
  let totalMs = 0;
  for (let i = 0; i < count; i++) {
    const [z0, y0, x0] = starts[Math.floor(((i + 0.5) * starts.length) / count)]!;
    for (let z = 0; z < pd; z++) {
      for (let y = 0; y < ph; y++) {
        const from = ((z0 + z) * sh + y0 + y) * sw + x0;
        window.set(prepared.image.subarray(from, from + pw), (z * ph + y) * pw);
      }
    }
    const start = performance.now();
    await engine.run(window, 1);
    totalMs += performance.now() - start;
  }
  await engine.dispose();
  return {
    engineName: engine.name,
    ms: totalMs / count,
    windows: starts.length,
    networkShape: prepared.shape,
    maxRssMb: rssMb(),
  };
}

/** Reads the weights `writeTorchModel` wrote back into a state dict. */
function readTorchWeights(dir: string): StateDict {
  const index = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8')) as {
    name: string;
    shape: number[];
    offset: number;
  }[];
  const bytes = readFileSync(join(dir, 'weights.bin'));
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const dict: StateDict = new Map();
  for (const { name, shape, offset } of index) {
    const size = shape.reduce((a, b) => a * b, 1);
    dict.set(name, { shape, data: all.slice(offset, offset + size) });
  }
  return dict;
}

/** Training steps of tfjs on one backend, on the weights, input and label of `dataDir`. */
async function trainChild(job: Extract<ChildJob, { kind: 'train' }>): Promise<ChildResult> {
  await selectBackend({ backend: job.backend });
  const net = new PankNet({ encoderWidth: job.width, decoderWidth: job.width });
  net.loadStateDict(readTorchWeights(job.dataDir), job.dataDir);
  const image = readFileSync(join(job.dataDir, 'input.bin'));
  const images = new Float32Array(image.buffer, image.byteOffset, image.byteLength / 4);
  const labels = new Uint8Array(readFileSync(join(job.dataDir, 'label.bin')));
  const voxels = net.graph.options.patch.reduce((a, b) => a * b, 1);
  const patches: TrainPatch[] = [];
  for (let b = 0; b < labels.length / voxels; b++) {
    patches.push({
      image: images.slice(b * voxels, (b + 1) * voxels),
      label: labels.slice(b * voxels, (b + 1) * voxels),
    });
  }
  const { stepMs, losses } = timeTrainSteps(net, patches, job.steps, TRAIN_LR);
  net.dispose();
  return {
    engineName: `tfjs (${job.backend})`,
    ms: Math.min(...(stepMs.length > 1 ? stepMs.slice(1) : stepMs)),
    stepMs,
    losses,
    maxRssMb: rssMb(),
  };
}

/** Runs one job in a fresh Node process (same loader as this one) and returns its result. */
function inChild(job: ChildJob): ChildResult {
  const args = [...process.execArgv, SELF, '--child', JSON.stringify(job)];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (child.status !== 0 || line === undefined) {
    throw new Error(`bench child ${job.kind} failed (status ${child.status}): ${child.stderr}`);
  }
  return JSON.parse(line.slice('RESULT '.length)) as ChildResult;
}

/** Writes a random-weight checkpoint of the given width; returns its folder. */
function writeModel(work: string, graph: PankNetGraph, stateDict: StateDict): string {
  const dir = join(work, `model-w${graph.options.encoderWidth}`);
  saveCheckpoint(dir, stateDict, {
    architecture: graph.options,
    patch: graph.options.patch,
    targetSpacingMm: [1, 1, 1],
    orientation: 'RAS',
    normalisation: { modality: 'ct', windowHu: [-100, 240] },
    labels: { '0': 'background', '1': 'pancreas' },
    training: { note: 'random weights for npm run bench' },
  });
  return dir;
}

/** Writes graph.json, weights.json and weights.bin as the PyTorch scripts read them. */
function writeTorchModel(work: string, graph: PankNetGraph, stateDict: StateDict): void {
  const { nodes, maps, fused, options } = graph;
  writeFileSync(join(work, 'graph.json'), JSON.stringify({ nodes, maps, fused, options }));
  const index: { name: string; shape: number[]; offset: number }[] = [];
  let offset = 0;
  for (const spec of graph.parameters) {
    index.push({ name: spec.name, shape: spec.shape, offset });
    offset += stateDict.get(spec.name)!.data.length;
  }
  const all = new Float32Array(offset);
  index.forEach((entry) => all.set(stateDict.get(entry.name)!.data, entry.offset));
  writeFileSync(join(work, 'weights.json'), JSON.stringify(index));
  writeFileSync(join(work, 'weights.bin'), new Uint8Array(all.buffer));
}

async function forwardSection(work: string, width: number, repeats: number): Promise<BenchRow[]> {
  const threads = availableParallelism();
  const graph = buildPankNetGraph({ encoderWidth: width, decoderWidth: width });
  const stateDict = seededStateDict(graph, 1);
  const window = seededInput(graph, 1, 2);
  const test = `forward ${graph.options.patch.join('x')} w${width}`;

  const torch = runTorchReference(graph, stateDict, window, 1, { repeats: repeats + 1, threads });
  const torchMs = Math.min(...torch.forwardMs.slice(1));
  const rows: BenchRow[] = [
    {
      test,
      engine: `pytorch cpu (${torch.threads} threads)`,
      time: torchMs,
      unit: 'ms',
      speedVsTorch: 1,
      maxRssMb: torch.maxRssKb / 1024,
      note: `best of ${repeats}`,
    },
  ];

  const modelDir = writeModel(work, graph, stateDict);
  inChild({ kind: 'prepare', modelDir, threads });
  const inputFile = join(work, 'window.bin');
  writeFileSync(inputFile, new Uint8Array(window.buffer));
  for (const engine of ['onnx', 'tfjs'] as const) {
    const outputFile = join(work, `fused-${engine}.bin`);
    const engineRepeats = engine === 'tfjs' ? 0 : repeats;
    const job = { kind: 'forward', engine, modelDir, inputFile, outputFile, threads } as const;
    const result = inChild({ ...job, repeats: engineRepeats });
    const bytes = readFileSync(outputFile);
    const fused = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const diff = maxAbsDiff(fused, torch.fused);
    const runs = engineRepeats === 0 ? 'one cold run' : `best of ${repeats}`;
    rows.push({
      test,
      engine: result.engineName,
      time: result.ms,
      unit: 'ms',
      speedVsTorch: torchMs / result.ms,
      maxRssMb: result.maxRssMb,
      note: `${runs}; max diff ${diff.toExponential(1)}`,
    });
    process.stderr.write(`  ${test}: ${result.engineName} ${result.ms.toFixed(0)} ms\n`);
  }
  return rows;
}

/** How the whole-CT sections run. */
interface PredictOptions {
  width: number;
  overlap: number;
  /** Run tfjs over the whole CT instead of timing `tfjsSamples` windows. */
  tfjsFull: boolean;
  tfjsSamples: number;
  /** PyTorch: one window timed times the window count, instead of its sliding window. */
  torchEstimate: boolean;
}

/** result.json of scripts/bench-sliding-window.py. */
interface TorchSliding {
  seconds: number;
  windows: number;
  max_rss_kb: number;
  threads: number;
  pancreas_mean: number;
  /** Set when the time is an estimate: ms of one window. */
  estimateMs?: number;
}

async function predictSection(
  work: string,
  spacingMm: number,
  options: PredictOptions,
): Promise<BenchRow[]> {
  const { width, overlap } = options;
  const threads = availableParallelism();
  const graph = buildPankNetGraph({ encoderWidth: width, decoderWidth: width });
  const stateDict = seededStateDict(graph, 1);
  const modelDir = writeModel(work, graph, stateDict);
  inChild({ kind: 'prepare', modelDir, threads });

  // PyTorch gets the very image predictVolume feeds the window loop.
  const volume = await readVolume(EXAMPLE_CT);
  const spec: PreprocessingSpec = {
    spacingMm: [spacingMm, spacingMm, spacingMm],
    modality: 'ct',
    windowHu: [-100, 240],
  };
  const prepared = prepareForNetwork(volume, spec);
  const torchDir = mkdtempSync(join(work, 'torch-'));
  writeTorchModel(torchDir, graph, stateDict);
  writeFileSync(join(torchDir, 'volume.bin'), new Uint8Array(prepared.image.buffer));
  writeFileSync(join(torchDir, 'volume.json'), JSON.stringify({ shape: prepared.shape }));
  const mvox = prepared.shape.reduce((a, b) => a * b, 1) / 1e6;
  const test = `predict ${[...prepared.shape].reverse().join('x')} @${spacingMm} mm w${width}`;

  const rows: BenchRow[] = [];
  let torch: TorchSliding;
  if (!options.torchEstimate) {
    const args = [SLIDING_SCRIPT, torchDir, '--overlap', `${overlap}`, '--threads', `${threads}`];
    const py = spawnSync(TORCH_PYTHON, args, { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`PyTorch sliding window failed: ${py.stderr}`);
    torch = JSON.parse(readFileSync(join(torchDir, 'result.json'), 'utf8')) as TorchSliding;
  } else {
    // Estimate: best forward of one window (of 3) times the number of windows.
    const window = seededInput(graph, 1, 2);
    const run = runTorchReference(graph, stateDict, window, 1, { repeats: 4, threads });
    const [sd, sh, sw] = prepared.shape;
    const [pd, ph, pw] = graph.options.patch;
    const windows =
      windowStarts(sd, pd, overlap).length *
      windowStarts(sh, ph, overlap).length *
      windowStarts(sw, pw, overlap).length;
    const bestMs = Math.min(...run.forwardMs.slice(1));
    torch = {
      seconds: (bestMs * windows) / 1000,
      windows,
      max_rss_kb: run.maxRssKb,
      threads: run.threads,
      pancreas_mean: NaN,
      estimateMs: bestMs,
    };
  }
  process.stderr.write(`  ${test}: pytorch ${torch.seconds.toFixed(1)} s\n`);
  rows.push({
    test,
    engine: `pytorch cpu (${torch.threads} threads)`,
    time: torch.seconds,
    unit: 's',
    speedVsTorch: 1,
    windowsPerSecond: torch.windows / torch.seconds,
    secondsPerMvox: torch.seconds / mvox,
    maxRssMb: torch.max_rss_kb / 1024,
    note:
      torch.estimateMs === undefined
        ? `${torch.windows} windows, overlap ${overlap}; window loop only`
        : `ESTIMATE: ${torch.estimateMs.toFixed(0)} ms per window (best of 3) x ` +
          `${torch.windows} windows; RSS of one window`,
  });
  const onnx = inChild({ kind: 'predict', engine: 'onnx', modelDir, spacingMm, overlap, threads });
  const tfjs = options.tfjsFull
    ? inChild({ kind: 'predict', engine: 'tfjs', modelDir, spacingMm, overlap, threads })
    : inChild({ kind: 'sample', modelDir, spacingMm, overlap, samples: options.tfjsSamples });
  for (const r of [onnx, tfjs]) {
    const sampled = r.totalMs === undefined;
    const seconds = sampled ? (r.ms * r.windows!) / 1000 : r.ms / 1000;
    rows.push({
      test,
      engine: r.engineName,
      time: seconds,
      unit: 's',
      speedVsTorch: torch.seconds / seconds,
      windowsPerSecond: r.windows! / seconds,
      secondsPerMvox: seconds / mvox,
      maxRssMb: r.maxRssMb,
      note: sampled
        ? `ESTIMATE: ${options.tfjsSamples} windows timed (${r.ms.toFixed(0)} ms each) x ` +
          `${r.windows} windows; RSS of that run`
        : `${r.windows} windows; whole predictVolume ${(r.totalMs! / 1000).toFixed(1)} s; ` +
          `mean p ${r.pancreasMean!.toFixed(3)} on the CT grid ` +
          (Number.isNaN(torch.pancreas_mean)
            ? ''
            : `(PyTorch ${torch.pancreas_mean.toFixed(3)} on the network grid)`),
    });
    process.stderr.write(`  ${test}: ${r.engineName} ${seconds.toFixed(1)} s\n`);
  }
  return rows;
}

/**
 * A seeded binary label `[n, D, H, W]`: one ellipsoid of pancreas per patch, its centre and
 * radii drawn from `seed` (a few percent of the voxels), so both classes are present.
 */
function seededLabel(patch: Triple, n: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const [d, h, w] = patch;
  const label = new Uint8Array(n * d * h * w);
  for (let b = 0; b < n; b++) {
    const centre = [d, h, w].map((s) => s * (0.3 + 0.4 * random()));
    const radius = [d, h, w].map((s) => s * (0.15 + 0.1 * random()));
    for (let z = 0; z < d; z++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const r =
            ((z - centre[0]!) / radius[0]!) ** 2 +
            ((y - centre[1]!) / radius[1]!) ** 2 +
            ((x - centre[2]!) / radius[2]!) ** 2;
          if (r <= 1) label[((b * d + z) * h + y) * w + x] = 1;
        }
      }
    }
  }
  return label;
}

/** How the train section runs. */
interface TrainOptions {
  /** Width (encoder and decoders) of PyTorch and tfjs wasm. */
  width: number;
  /** Width of tfjs cpu (and of a second PyTorch run when it differs). */
  cpuWidth: number;
  /** Patches per step. */
  batch: number;
  /** Timed steps after the warm-up step (PyTorch, wasm). */
  repeats: number;
  /** Timed steps of tfjs cpu after a warm-up step; 0: one cold step alone. */
  cpuRepeats: number;
  backends: ('wasm' | 'cpu')[];
}

/** result.json of scripts/bench-train.py. */
interface TorchTrain {
  step_ms: number[];
  losses: number[];
  max_rss_kb: number;
  threads: number;
}

async function trainSection(work: string, options: TrainOptions): Promise<BenchRow[]> {
  const threads = availableParallelism();
  const batch = options.batch;
  const runsOf = (repeats: number): string =>
    repeats === 0
      ? 'one cold step'
      : `${repeats > 1 ? `best of ${repeats}` : 'one step'} after 1 warm-up`;
  const rows: BenchRow[] = [];
  const widths = [
    ...new Set(options.backends.map((b) => (b === 'wasm' ? options.width : options.cpuWidth))),
  ];
  for (const width of widths) {
    const graph = buildPankNetGraph({ encoderWidth: width, decoderWidth: width });
    const patch = graph.options.patch;
    const dataDir = mkdtempSync(join(work, `train-w${width}-`));
    writeTorchModel(dataDir, graph, seededStateDict(graph, 1));
    const input = seededInput(graph, batch, 2);
    writeFileSync(join(dataDir, 'input.bin'), new Uint8Array(input.buffer));
    writeFileSync(
      join(dataDir, 'input.json'),
      JSON.stringify({ shape: [batch, graph.options.inChannels, ...patch] }),
    );
    writeFileSync(join(dataDir, 'label.bin'), seededLabel(patch, batch, 3));
    const test = `train ${patch.join('x')} b${batch} w${width}`;
    const params = graph.parameters
      .filter((p) => !/running_(mean|var)$/.test(p.name))
      .reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
    process.stderr.write(`  ${test} (${(params / 1e6).toFixed(2)}M parameters): pytorch\n`);

    const args = [TRAIN_SCRIPT, dataDir, '--width', `${width}`];
    args.push('--steps', `${options.repeats + 1}`);
    args.push('--lr', `${TRAIN_LR}`, '--threads', `${threads}`);
    const py = spawnSync(TORCH_PYTHON, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (py.status !== 0) throw new Error(`PyTorch training step failed (status ${py.status})`);
    const torch = JSON.parse(readFileSync(join(dataDir, 'result.json'), 'utf8')) as TorchTrain;
    const torchMs = Math.min(...torch.step_ms.slice(1));
    const torchLoss = torch.losses[0]!;
    rows.push({
      test,
      engine: `pytorch cpu (${torch.threads} threads)`,
      time: torchMs,
      unit: 'ms',
      speedVsTorch: 1,
      maxRssMb: torch.max_rss_kb / 1024,
      note: `${runsOf(options.repeats)}; first loss ${torchLoss.toFixed(6)}`,
    });
    process.stderr.write(`  ${test}: pytorch ${torchMs.toFixed(0)} ms\n`);

    for (const backend of options.backends) {
      if ((backend === 'wasm' ? options.width : options.cpuWidth) !== width) continue;
      process.stderr.write(`  ${test}: tfjs ${backend}\n`);
      const repeats = backend === 'cpu' ? options.cpuRepeats : options.repeats;
      const steps = repeats + 1;
      let result: ChildResult;
      try {
        result = inChild({ kind: 'train', backend, width, dataDir, steps });
      } catch (error) {
        // The last error line of the child's stderr (its first lines are minified wasm glue).
        const lines = (error as Error).message.split('\n');
        const why = lines.filter((l) => /Error\b/.test(l)).at(-1) ?? lines[0]!;
        process.stderr.write(`  ${test}: tfjs ${backend} failed: ${why}\n`);
        process.exitCode = 1;
        rows.push({
          test,
          engine: `tfjs (${backend})`,
          time: NaN,
          unit: 'ms',
          maxRssMb: NaN,
          note: `failed: ${why.slice(0, 160)}`,
        });
        continue;
      }
      const loss = result.losses![0]!;
      const relative = Math.abs(loss - torchLoss) / Math.abs(torchLoss);
      const agrees = relative <= LOSS_TOLERANCE;
      if (!agrees) process.exitCode = 1;
      process.stdout.write(
        `loss check ${test}, ${result.engineName}: tfjs ${loss.toFixed(6)}, PyTorch ` +
          `${torchLoss.toFixed(6)}, relative difference ${relative.toExponential(1)} ` +
          `(${agrees ? 'within' : 'OUTSIDE'} ${LOSS_TOLERANCE}); second step: tfjs ` +
          `${result.losses![1]?.toFixed(6) ?? '-'}, PyTorch ${torch.losses[1]?.toFixed(6) ?? '-'}\n`,
      );
      rows.push({
        test,
        engine: result.engineName,
        time: result.ms,
        unit: 'ms',
        speedVsTorch: torchMs / result.ms,
        maxRssMb: result.maxRssMb,
        note:
          `${runsOf(repeats)} (${result.stepMs!.map((m) => m.toFixed(0)).join(', ')} ms); ` +
          `first loss ${loss.toFixed(6)}, rel. diff ${relative.toExponential(1)}`,
      });
      process.stderr.write(`  ${test}: ${result.engineName} ${result.ms.toFixed(0)} ms\n`);
    }
  }
  return rows;
}

function printTable(rows: BenchRow[]): void {
  const header = [
    'test',
    'engine',
    'time',
    'speed vs PyTorch',
    'windows/s',
    's per M voxels',
    'peak RSS MB',
    'note',
  ];
  process.stdout.write(`\n| ${header.join(' | ')} |\n| ${header.map(() => '---').join(' | ')} |\n`);
  for (const r of rows) {
    const cells = [
      r.test,
      r.engine,
      !Number.isFinite(r.time)
        ? '-'
        : r.unit === 'ms'
          ? `${r.time.toFixed(0)} ms`
          : `${r.time.toFixed(1)} s`,
      r.speedVsTorch === undefined ? '-' : `${r.speedVsTorch.toFixed(2)}x`,
      r.windowsPerSecond === undefined ? '-' : r.windowsPerSecond.toFixed(2),
      r.secondsPerMvox === undefined ? '-' : r.secondsPerMvox.toFixed(2),
      Number.isFinite(r.maxRssMb) ? r.maxRssMb.toFixed(0) : '-',
      r.note,
    ];
    process.stdout.write(`| ${cells.join(' | ')} |\n`);
  }
}

async function main(): Promise<void> {
  const childJob = flag('child');
  if (childJob !== undefined) {
    const result = await runChild(JSON.parse(childJob) as ChildJob);
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    return;
  }

  const quick = process.argv.includes('--quick');
  const sections = (flag('sections') ?? 'forward,predict,grow,train').split(',');
  const repeats = numberFlag('repeats', quick ? 1 : 3);
  const forwardWidth = numberFlag('forward-width', quick ? 0.25 : 1);
  const width = numberFlag('width', quick ? 0.125 : 0.25);
  const spacing = numberFlag('spacing', quick ? 2 : 1);
  const growSpacing = numberFlag('grow-spacing', quick ? 1.6 : 0.8);
  const overlap = numberFlag('overlap', 0.5);
  const load = loadavg().map((l) => l.toFixed(2));
  process.stdout.write(
    `${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ` +
      `load average ${load.join(' ')}; sections ${sections.join(', ')}\n`,
  );

  const work = mkdtempSync(join(tmpdir(), 'panknet-bench-'));
  const rows: BenchRow[] = [];
  try {
    if (sections.includes('forward')) {
      rows.push(...(await forwardSection(work, forwardWidth, repeats)));
    }
    const predict: PredictOptions = {
      width,
      overlap,
      tfjsFull: process.argv.includes('--tfjs-full'),
      tfjsSamples: numberFlag('tfjs-samples', quick ? 2 : 6),
      torchEstimate: process.argv.includes('--torch-estimate'),
    };
    if (sections.includes('predict')) rows.push(...(await predictSection(work, spacing, predict)));
    if (sections.includes('grow')) rows.push(...(await predictSection(work, growSpacing, predict)));
    if (sections.includes('train')) {
      const train: TrainOptions = {
        width: numberFlag('train-width', quick ? 0.125 : TRAIN_WIDTH),
        cpuWidth: numberFlag('train-cpu-width', quick ? 0.125 : TRAIN_CPU_WIDTH),
        batch: numberFlag('train-batch', 2),
        repeats: numberFlag('train-repeats', quick ? 1 : 2),
        cpuRepeats: numberFlag('train-cpu-repeats', 0),
        backends: (flag('train-backends') ?? 'wasm,cpu').split(',') as ('wasm' | 'cpu')[],
      };
      rows.push(...(await trainSection(work, train)));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  printTable(rows);
  process.stdout.write(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
}

await main();
