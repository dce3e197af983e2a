/**
 * The training loop of the recipe in DESIGN.md: patches centred 80% on pancreas, flips and
 * quarter turns, deep-supervision soft Dice, Adam with a decaying learning rate, validation by
 * sliding window. A run folder holds `metrics.jsonl`, `last/` (model, optimizer, random stream,
 * epoch: what `resume` needs) and `best/` (a model checkpoint), each written atomically.
 */

import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { TfjsEngine } from '../infer/tfjs-engine.js';
import { slidingWindowInference } from '../infer/sliding-window.js';
import { countConfusion, overlapMetrics, type ConfusionCounts } from '../metrics/index.js';
import { validateOptions, type PankNetOptions, type Triple } from '../model/architecture.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointMeta } from '../model/checkpoint.js';
import { PankNet } from '../model/panknet.js';
import type { StateDict } from '../model/state-dict.js';
import type { PreprocessingSpec } from '../preprocess/prepare-for-network.js';
import { InputFileError, PankNetError, WeightsError } from '../util/errors.js';
import type { ProgressCallback } from '../util/log.js';
import { log } from '../util/log.js';
import { RandomStream, type RandomState } from '../util/random.js';
import { panknetVersion } from '../util/version.js';
import { writeFileAtomic } from '../util/write-atomic.js';
import { Adam } from './adam.js';
import { loadTrainingCase } from './case-cache.js';
import type { TrainingRow } from '../display/payload-types.js';
import type { DatasetSelection, ImageLabelPair } from './datasets.js';
import { deepSupervisionLoss, oneHotBinary } from './dice-loss.js';
import { samplePatch, type TrainingCase } from './patches.js';

/**
 * One line of `metrics.jsonl`, also what `show.training` plots: loss (the mean over the epoch's
 * steps of the sum of 5 soft Dice losses), learning rate, the pancreas Dice of each decoder map
 * (`dice_map<tap>`) and of the fused map on the training patches (thresholded at 0.5), and the
 * mean fused pancreas Dice of the validation cases (sliding window) when validation ran.
 */
export interface EpochMetrics extends TrainingRow {
  val_dice?: number;
  /** Seconds the epoch took. */
  seconds: number;
}

/** Options of `trainPankNet`. */
export interface TrainOptions {
  /** Cases, from `loadDataset`; `test` cases serve for validation when `validation` is unset. */
  dataset: DatasetSelection;
  /** Run folder (created). */
  runDir: string;
  /** Total epochs of the run (a resumed run continues up to this number). */
  epochs: number;
  /** Continue from `runDir/last`. */
  resume?: boolean;
  /** Architecture (width multipliers, taps, patch `[D, H, W]`). */
  architecture?: Partial<PankNetOptions>;
  /** Preprocessing (spacing, modality, normalisation); default 1 mm CT, [-100, 240] HU. */
  preprocessing?: PreprocessingSpec;
  /** Patches per step (DESIGN.md: 8 on a GPU). */
  batchSize?: number;
  /** Steps per epoch (default: training cases / batch, at least 1). */
  stepsPerEpoch?: number;
  /** Learning rate decayed from the first to the second value over the run (cosine). */
  learningRate?: [number, number];
  /** Validate every this many epochs (and at the last epoch); 0 turns validation off. */
  validateEvery?: number;
  /** Validation cases; default the dataset's `test` list. */
  validation?: ImageLabelPair[];
  /** Seed of the random stream (patches, augmentation, initial weights). */
  seed?: number;
  /** A checkpoint folder with encoder weights (from `panknet import-s3d`) to start from. */
  encoderWeights?: string;
  /** Where preprocessed cases are cached (default `runDir/cache`). */
  cacheDir?: string;
  /** Progress of steps within an epoch and of validation windows. */
  onProgress?: ProgressCallback;
  /** Called after each epoch with its metrics (live curves). */
  onEpoch?: (metrics: EpochMetrics) => void;
  /** Stops after the current step; `last` then holds the last finished epoch. */
  signal?: AbortSignal;
}

/** What `trainPankNet` returns. */
export interface TrainResult {
  /** Epochs finished in all (including those before a resume). */
  epochs: number;
  /** Best validation Dice (or, without validation, 1 - best training loss / 5). */
  bestScore: number;
  /** Metrics of the epochs run in this call. */
  history: EpochMetrics[];
  /** Whether the run stopped early because the signal was aborted. */
  stopped: boolean;
}

/** What `last/state.json` holds besides the model and the optimizer. */
interface RunState {
  epoch: number;
  adamStep: number;
  random: RandomState;
  bestScore: number;
  /** The settings the run was started with; a resumed run keeps them. */
  recipe: Recipe;
}

/** The settings of a run that `resume` must keep to continue the same run. */
interface Recipe {
  architecture: PankNetOptions;
  preprocessing: PreprocessingSpec;
  batchSize: number;
  /** Steps per epoch, or undefined for training cases / batch. */
  stepsPerEpoch?: number;
  learningRate: [number, number];
  validateEvery: number;
}

/** The paper's preprocessing for CT (DESIGN.md): 1 mm, [-100, 240] HU. */
const DEFAULT_PREPROCESSING: PreprocessingSpec = {
  spacingMm: [1, 1, 1],
  modality: 'ct',
  windowHu: [-100, 240],
};

const CASES_IN_MEMORY = 8;

/** Cosine decay from `from` to `to` over `total` epochs; epoch counts from 1. */
export function learningRateAt(epoch: number, total: number, [from, to]: [number, number]): number {
  if (total <= 1) return from;
  const t = Math.min(1, Math.max(0, (epoch - 1) / (total - 1)));
  return to + ((from - to) * (1 + Math.cos(Math.PI * t))) / 2;
}

/** Writes a folder atomically: build it beside `dir`, then swap it in. */
async function writeFolderAtomically(
  dir: string,
  fill: (tmp: string) => Promise<void>,
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await fill(tmp);
  if (existsSync(dir)) {
    await rm(old, { recursive: true, force: true });
    await rename(dir, old);
  }
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

/** `last/` of a run, or its `.old` copy when a kill fell between the two renames. */
function lastFolder(runDir: string): string | undefined {
  const last = join(runDir, 'last');
  if (existsSync(join(last, 'state.json'))) return last;
  if (existsSync(join(`${last}.old`, 'state.json'))) return `${last}.old`;
  return undefined;
}

function stateDictOf(entries: [string, { shape: number[]; data: Float32Array }][]): StateDict {
  return new Map(entries);
}

/**
 * Trains PankNet, or continues a run with `resume`.
 *
 * @param options - Data, run folder, epochs, architecture, preprocessing, schedule, callbacks.
 * @returns Epochs finished, best score and this call's metrics.
 * @throws InputFileError for unreadable cases; WeightsError for a mismatched resume or encoder.
 */
export async function trainPankNet(options: TrainOptions): Promise<TrainResult> {
  const { dataset, runDir } = options;
  if (dataset.train.length === 0) {
    throw new PankNetError(`trainPankNet: no training cases in ${runDir}'s dataset; check --data.`);
  }
  const cacheDir = options.cacheDir ?? join(runDir, 'cache');
  const validation = options.validation ?? dataset.test;
  const metricsPath = join(runDir, 'metrics.jsonl');

  // Model, optimizer and random stream: fresh, or exactly as the last finished epoch left them.
  const resumeFrom = checkRunFolder(runDir, options.resume ?? false);
  await mkdir(runDir, { recursive: true });
  let state: RunState | undefined;
  if (resumeFrom !== undefined) {
    state = JSON.parse(await readFile(join(resumeFrom, 'state.json'), 'utf8')) as RunState;
  }
  const recipe: Recipe = state?.recipe ?? {
    architecture: validateOptions(options.architecture),
    preprocessing: options.preprocessing ?? DEFAULT_PREPROCESSING,
    batchSize: options.batchSize ?? 2,
    stepsPerEpoch: options.stepsPerEpoch,
    learningRate: options.learningRate ?? [1e-3, 1e-4],
    validateEvery: options.validateEvery ?? 5,
  };
  if (state !== undefined) warnAboutIgnoredSettings(runDir, recipe, options);
  const { architecture, preprocessing, batchSize, validateEvery } = recipe;
  const schedule = recipe.learningRate;
  const rng = new RandomStream(state?.random ?? options.seed ?? 0);
  const net = new PankNet(architecture, options.seed ?? 0);
  const adam = new Adam();
  const variables = net.namedTrainableVariables();
  if (resumeFrom !== undefined && state !== undefined) {
    net.loadStateDict(loadCheckpoint(join(resumeFrom, 'model')).stateDict, resumeFrom);
    const moments = loadCheckpointMoments(
      await readFile(join(resumeFrom, 'optimizer.json'), 'utf8'),
    );
    const buffer = await readFile(join(resumeFrom, 'optimizer.bin'));
    adam.loadStateDict(moments(buffer), state.adamStep, variables);
    await truncateMetrics(metricsPath, state.epoch);
    log.info(`resuming ${runDir} after epoch ${state.epoch}`);
  } else if (options.encoderWeights !== undefined) {
    loadEncoderWeights(net, options.encoderWeights);
  }
  const graphOptions = net.graph.options;
  const patch: Triple = graphOptions.patch;
  const meta: CheckpointMeta = {
    architecture: graphOptions,
    patch,
    targetSpacingMm: preprocessing.spacingMm,
    orientation: 'RAS',
    normalisation: {
      modality: preprocessing.modality,
      windowHu: preprocessing.windowHu,
      percentiles: preprocessing.percentiles,
      method: 'clip, z-score, min-max to [0, 1]',
    },
    labels: { '0': 'background', '1': 'pancreas' },
  };
  const steps = recipe.stepsPerEpoch ?? Math.max(1, Math.floor(dataset.train.length / batchSize));
  // Provenance recorded with every checkpoint: data, recipe, backend and versions.
  const provenance = {
    data: {
      layout: dataset.layout,
      train: dataset.train.map((pair) => pair.id),
      validation: validation.map((pair) => pair.id),
    },
    recipe: {
      epochs: options.epochs,
      batchSize,
      steps,
      learningRate: schedule,
      seed: options.seed,
    },
    backend: tf.getBackend(),
    versions: { panknet: panknetVersion(), tfjs: tf.version_core },
  };

  // Cases are prepared once (cached on disk) and kept in memory up to a few at a time.
  const memory = new Map<string, TrainingCase>();
  const caseOf = async (pair: ImageLabelPair): Promise<TrainingCase> => {
    const hit = memory.get(pair.id);
    if (hit) return hit;
    const loaded = await loadTrainingCase(pair, preprocessing, dataset.labelMap, cacheDir);
    if (memory.size >= CASES_IN_MEMORY) memory.delete(memory.keys().next().value!);
    memory.set(pair.id, loaded);
    return loaded;
  };

  const startEpoch = (state?.epoch ?? 0) + 1;
  let bestScore = state?.bestScore ?? -Infinity;
  const history: EpochMetrics[] = [];
  const validationEngine = new TfjsEngine(net);
  let stopped = false;

  for (let epoch = startEpoch; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    const lr = learningRateAt(epoch, options.epochs, schedule);
    let lossSum = 0;
    const counts: ConfusionCounts[] = Array.from({ length: graphOptions.taps.length + 1 }, () => ({
      tp: 0,
      fp: 0,
      fn: 0,
      tn: 0,
    }));
    for (let step = 0; step < steps; step++) {
      if (options.signal?.aborted) {
        stopped = true;
        break;
      }
      const patches = [];
      for (let b = 0; b < batchSize; b++) {
        const pair = dataset.train[rng.int(dataset.train.length)]!;
        patches.push(samplePatch(await caseOf(pair), patch, rng));
      }
      const { loss, overlaps } = trainStep(net, adam, variables, patches, patch, lr);
      lossSum += loss;
      overlaps.forEach((o, i) => {
        for (const key of ['tp', 'fp', 'fn', 'tn'] as const) counts[i]![key] += o[key];
      });
      options.onProgress?.({ stage: `epoch ${epoch}`, done: step + 1, total: steps });
    }
    if (stopped) break;

    const dice = counts.map((c) => overlapMetrics(c).dice);
    const row: EpochMetrics = {
      epoch,
      loss: lossSum / steps,
      lr,
      ...Object.fromEntries(graphOptions.taps.map((tap, i) => [`dice_map${tap}`, dice[i]!])),
      dice_fused: dice.at(-1)!,
      seconds: 0,
    };
    const validate =
      validateEvery > 0 &&
      validation.length > 0 &&
      (epoch % validateEvery === 0 || epoch === options.epochs);
    if (validate) {
      row.val_dice = await validateCases(validationEngine, validation, caseOf, options.onProgress);
    }
    row.seconds = (performance.now() - started) / 1000;

    // Score for `best`: validation Dice when measured, else the training loss.
    const score = row.val_dice ?? 1 - row.loss / (graphOptions.taps.length + 1);
    const stateDict = net.stateDict();
    if (score > bestScore || !existsSync(join(runDir, 'best', 'panknet.json'))) {
      bestScore = Math.max(bestScore, score);
      saveCheckpoint(join(runDir, 'best'), stateDict, {
        ...meta,
        training: { ...provenance, epoch, score, val_dice: row.val_dice, loss: row.loss },
      });
    }
    await writeFolderAtomically(join(runDir, 'last'), async (tmp) => {
      saveCheckpoint(join(tmp, 'model'), stateDict, {
        ...meta,
        training: { ...provenance, epoch, loss: row.loss },
      });
      const moments = adam.stateDict();
      const { index, bytes } = packStateDict(moments);
      await writeFile(join(tmp, 'optimizer.bin'), bytes);
      await writeFile(join(tmp, 'optimizer.json'), JSON.stringify(index));
      const runState: RunState = {
        epoch,
        adamStep: adam.step,
        random: rng.state(),
        bestScore,
        recipe,
      };
      await writeFile(join(tmp, 'state.json'), JSON.stringify(runState, null, 2));
    });
    await appendFile(metricsPath, `${JSON.stringify(row)}\n`);
    history.push(row);
    options.onEpoch?.(row);
  }

  adam.dispose();
  net.dispose();
  const finished = history.at(-1)?.epoch ?? state?.epoch ?? 0;
  return { epochs: finished, bestScore, history, stopped };
}

/**
 * Checks a run folder before training: a new run needs a folder without a run in it.
 *
 * @param runDir - The run folder.
 * @param resume - Whether the caller asks to continue the run.
 * @returns The folder to resume from (`last/`), or undefined for a new run.
 * @throws InputFileError when `runDir` holds a run and `resume` is false.
 */
export function checkRunFolder(runDir: string, resume: boolean): string | undefined {
  const existing = lastFolder(runDir);
  if (!resume && (existing !== undefined || existsSync(join(runDir, 'metrics.jsonl')))) {
    throw new InputFileError(
      runDir,
      'already holds a training run. Pass --resume (resume: true) to continue it, ' +
        'or choose a new run folder.',
    );
  }
  if (resume && existing === undefined) {
    log.warn(`${runDir} has no finished epoch to resume from; starting a new run.`);
  }
  return resume ? existing : undefined;
}

/** Warns when a resumed run is asked for settings other than those it was started with. */
function warnAboutIgnoredSettings(runDir: string, recipe: Recipe, options: TrainOptions): void {
  const asked: Partial<Record<keyof Recipe, unknown>> = {
    architecture:
      options.architecture === undefined ? undefined : validateOptions(options.architecture),
    preprocessing: options.preprocessing,
    batchSize: options.batchSize,
    stepsPerEpoch: options.stepsPerEpoch,
    learningRate: options.learningRate,
    validateEvery: options.validateEvery,
  };
  const differing = (Object.keys(asked) as (keyof Recipe)[]).filter(
    (key) => asked[key] !== undefined && JSON.stringify(asked[key]) !== JSON.stringify(recipe[key]),
  );
  if (differing.length > 0) {
    log.warn(
      `${runDir} was started with other ${differing.join(', ')}; resuming keeps the run's own ` +
        'settings. Start a new run folder to change them.',
    );
  }
}

/** One optimisation step; returns the loss and tp/fp/fn per map (decoders, then fused). */
export function trainStep(
  net: PankNet,
  adam: Adam,
  variables: Map<string, tf.Variable>,
  patches: { image: Float32Array; label: Uint8Array }[],
  patch: Triple,
  lr: number,
): { loss: number; overlaps: ConfusionCounts[] } {
  const n = patches.length;
  const voxels = patch[0] * patch[1] * patch[2];
  const images = new Float32Array(n * voxels);
  const labels = new Float32Array(n * voxels);
  patches.forEach((p, b) => {
    images.set(p.image, b * voxels);
    for (let i = 0; i < voxels; i++) labels[b * voxels + i] = p.label[i]!;
  });
  let overlaps: ConfusionCounts[] = [];
  const loss = tf.tidy(() => {
    const x = tf.tensor5d(images, [n, 1, ...patch]);
    const y = tf.tensor5d(labels, [n, 1, ...patch]);
    const target = oneHotBinary(y);
    const { value, grads } = tf.variableGrads(() => {
      const out = net.forward(x, { training: true });
      // Hard Dice bookkeeping on the pancreas channel (logits: pancreas > background).
      overlaps = [...out.maps, out.logits].map((logits) => {
        const predicted = tf.greater(
          tf.slice(logits, [0, 1, 0, 0, 0], [-1, 1, -1, -1, -1]),
          tf.slice(logits, [0, 0, 0, 0, 0], [-1, 1, -1, -1, -1]),
        );
        const p = tf.cast(predicted, 'float32');
        const tp = tf.sum(tf.mul(p, y)).dataSync()[0]!;
        const fp = tf.sum(p).dataSync()[0]! - tp;
        const fn = tf.sum(y).dataSync()[0]! - tp;
        return { tp, fp, fn, tn: p.size - tp - fp - fn };
      });
      return deepSupervisionLoss(out.maps, out.logits, target);
    }, [...variables.values()]);
    const byName: Record<string, tf.Tensor> = {};
    for (const [name, variable] of variables) {
      const gradient = grads[variable.name];
      if (gradient) byName[name] = gradient;
    }
    adam.apply(variables, byName, lr);
    return value.dataSync()[0]!;
  });
  return { loss, overlaps };
}

/** Mean fused pancreas Dice of the validation cases on the network grid. */
async function validateCases(
  engine: TfjsEngine,
  cases: ImageLabelPair[],
  caseOf: (pair: ImageLabelPair) => Promise<TrainingCase>,
  onProgress: ProgressCallback | undefined,
): Promise<number> {
  let sum = 0;
  for (const pair of cases) {
    const c = await caseOf(pair);
    const result = await slidingWindowInference(c.image, c.shape, engine, { onProgress });
    const voxels = c.image.length;
    const predicted = new Uint8Array(voxels);
    for (let i = 0; i < voxels; i++) predicted[i] = result.fused[voxels + i]! >= 0.5 ? 1 : 0;
    sum += overlapMetrics(countConfusion(predicted, c.label)).dice;
  }
  return sum / cases.length;
}

/** Packs a state dict into one float32 buffer and an index of names, shapes and offsets. */
function packStateDict(stateDict: StateDict): {
  index: { name: string; shape: number[]; offset: number }[];
  bytes: Uint8Array;
} {
  let total = 0;
  const index = [...stateDict].map(([name, value]) => {
    const entry = { name, shape: value.shape, offset: total };
    total += value.data.length;
    return entry;
  });
  const packed = new Float32Array(total);
  index.forEach((entry) => packed.set(stateDict.get(entry.name)!.data, entry.offset));
  return { index, bytes: new Uint8Array(packed.buffer) };
}

/** Reader for a buffer packed by `packStateDict`, given its JSON index. */
function loadCheckpointMoments(indexJson: string): (buffer: Buffer) => StateDict {
  const index = JSON.parse(indexJson) as { name: string; shape: number[]; offset: number }[];
  return (buffer) => {
    const floats = new Float32Array(
      buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength),
    );
    return stateDictOf(
      index.map(({ name, shape, offset }) => {
        const size = shape.reduce((a, b) => a * b, 1);
        return [name, { shape, data: floats.slice(offset, offset + size) }];
      }),
    );
  };
}

/** Drops `metrics.jsonl` lines of epochs after `epoch` (written before a kill, then redone). */
async function truncateMetrics(path: string, epoch: number): Promise<void> {
  if (!existsSync(path)) return;
  const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line.trim() !== '');
  const kept = lines.filter((line) => (JSON.parse(line) as EpochMetrics).epoch <= epoch);
  await writeFileAtomic(path, kept.map((line) => `${line}\n`).join(''));
}

/**
 * Loads encoder weights (from `panknet import-s3d`) into a fresh network, decoders untouched.
 *
 * @param net - The network to update in place.
 * @param dir - A checkpoint folder, partial (encoder-only) or whole; only `encoder.*` is used.
 * @throws InputFileError or WeightsError for a bad folder or weights that do not fit `net`.
 */
export function loadEncoderWeights(net: PankNet, dir: string): void {
  const { stateDict } = loadCheckpoint(dir);
  const merged = net.stateDict();
  let loaded = 0;
  for (const [name, value] of stateDict) {
    if (!name.startsWith('encoder.')) continue;
    const current = merged.get(name);
    if (current === undefined || current.data.length !== value.data.length) {
      throw new WeightsError(
        `${dir}: encoder weight ${name} does not fit this network; ` +
          'use encoder width 1 with S3D Kinetics-400 weights.',
      );
    }
    merged.set(name, value);
    loaded++;
  }
  net.loadStateDict(merged, dir);
  log.info(`loaded ${loaded} encoder tensors from ${dir}`);
}
