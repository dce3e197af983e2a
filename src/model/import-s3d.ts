/**
 * Turns the S3D Kinetics-400 checkpoint (`S3D_kinetics400.pt`, a PyTorch state dict) into the
 * encoder part of a PankNet state dict, as ../shared/DESIGN.md describes: keys `base.*` become
 * `encoder.base.*`, the first convolution's RGB weights are averaged over the input channels, and
 * the Kinetics classifier `fc.*` is dropped. Decoders and fusion are left for training.
 */

import { readTorchCheckpoint } from '../io/read-torch.js';
import type { TorchTensor } from '../io/read-torch.js';
import { UnsupportedError, WeightsError } from '../util/errors.js';
import { log } from '../util/log.js';
import { buildPankNetGraph, type PankNetOptions } from './architecture.js';
import type { ParameterArray, StateDict } from './state-dict.js';

/** Key of the first convolution, `[64, 3, 1, 7, 7]` (RGB) in the Kinetics checkpoint. */
export const S3D_FIRST_CONV = 'base.0.conv_s.weight';
/** Prefix of the S3D `base` Sequential in the checkpoint. */
const S3D_PREFIX = 'base.';
/** Prefix of the same parameters in PankNet (architecture.ts). */
const ENCODER_PREFIX = 'encoder.';
/** Most keys of one kind that an error message lists before summing up the rest. */
const MAX_LISTED = 30;

/** Options of {@link importS3d}. */
export interface ImportS3dOptions {
  /**
   * Input channels of the PankNet network (1 for CT or MRI, the default). The averaged first
   * convolution is repeated once per channel.
   */
  inChannels?: number;
  /** Other architecture options; the encoder must be full width (`encoderWidth` 1). */
  architecture?: Partial<PankNetOptions>;
}

/** What {@link importS3d} read, kept and dropped. */
export interface S3dImport {
  /** Encoder tensors under PankNet keys (`encoder.base.*`), in the graph's parameter order. */
  stateDict: StateDict;
  /** Number of tensors in the checkpoint. */
  keysRead: number;
  /** Scalars imported, running statistics included. */
  scalars: number;
  /** Learnable scalars imported (weights and biases, not BN running statistics). */
  learnable: number;
  /** Checkpoint keys left out: the `fc.*` classifier and BN `num_batches_tracked` counters. */
  skipped: string[];
  /** Checkpoint shape of the first convolution before averaging, e.g. `[64, 3, 1, 7, 7]`. */
  firstConvShape: number[];
}

/**
 * Imports S3D Kinetics-400 weights as the PankNet encoder.
 *
 * The first convolution `base.0.conv_s.weight` `[64, 3, 1, 7, 7]` is averaged over its input
 * axis (in float64, rounded once to float32) into `[64, 1, 1, 7, 7]` and repeated to
 * `[64, inChannels, 1, 7, 7]`. float16 and float64 tensors are converted to float32. Dropped keys
 * are logged: `fc.*` as a warning, `num_batches_tracked` at debug level.
 *
 * @param path - The `.pt` file (zip or legacy format; a `module.` prefix or a `state_dict` /
 *   `model` wrapper is handled by `readTorchCheckpoint`).
 * @param options - Input channels and architecture options of the target network.
 * @returns The encoder state dict and counts for a summary.
 * @throws InputFileError when the file cannot be read as a PyTorch checkpoint.
 * @throws WeightsError listing every missing, unexpected, mis-shaped or non-float key at once.
 * @throws UnsupportedError for an encoder width other than 1 (no pretrained weights fit it).
 */
export async function importS3d(path: string, options: ImportS3dOptions = {}): Promise<S3dImport> {
  const inChannels = options.inChannels ?? options.architecture?.inChannels ?? 1;
  const graph = buildPankNetGraph({ ...options.architecture, inChannels });
  if (graph.options.encoderWidth !== 1) {
    throw new UnsupportedError(
      `importS3d("${path}"): S3D Kinetics-400 weights fit only encoderWidth 1, ` +
        `got ${graph.options.encoderWidth}; train that encoder from scratch instead.`,
    );
  }
  const expected = new Map<string, number[]>();
  for (const p of graph.parameters) {
    if (p.name.startsWith(ENCODER_PREFIX)) expected.set(p.name, p.shape);
  }

  const tensors = await readTorchCheckpoint(path);
  const found = new Map<string, ParameterArray>();
  const skipped: string[] = [];
  const unexpected: string[] = [];
  const misShaped: string[] = [];
  let firstConvShape: number[] = [];
  for (const [key, tensor] of tensors) {
    if (key.endsWith('.num_batches_tracked') || key.startsWith('fc.')) {
      skipped.push(key);
      continue;
    }
    const ours = `${ENCODER_PREFIX}${key}`;
    const shape = expected.get(ours);
    if (!key.startsWith(S3D_PREFIX) || !shape) {
      unexpected.push(key);
      continue;
    }
    if (!isFloat(tensor)) {
      misShaped.push(`${key} has dtype ${tensor.dtype}, expected a float type`);
      continue;
    }
    let entry: ParameterArray = { shape: tensor.shape, data: toFloat32(tensor) };
    if (key === S3D_FIRST_CONV) {
      firstConvShape = [...tensor.shape];
      if (tensor.shape.length === 5) entry = averageInputChannels(entry, inChannels);
    }
    if (!sameShape(entry.shape, shape)) {
      const actual = key === S3D_FIRST_CONV ? firstConvShape : entry.shape;
      const wanted = key === S3D_FIRST_CONV ? [shape[0], 'C', ...shape.slice(2)] : shape;
      misShaped.push(`${key} is [${actual.join(', ')}], expected [${wanted.join(', ')}]`);
      continue;
    }
    found.set(ours, entry);
  }
  const missing = [...expected.keys()]
    .filter((name) => !found.has(name) && !misShaped.some((m) => m.startsWith(strip(name) + ' ')))
    .map(strip);

  if (missing.length + unexpected.length + misShaped.length > 0) {
    throw new WeightsError(
      `importS3d("${path}"): the checkpoint does not fit the S3D encoder of PankNet: ` +
        [
          listed('missing', missing),
          listed('mis-shaped', misShaped),
          listed('unexpected', unexpected),
        ]
          .filter((part) => part !== '')
          .join('; ') +
        '. Pass the S3D Kinetics-400 state dict (S3D_kinetics400.pt, keys base.* and fc.*).',
    );
  }
  const classifier = skipped.filter((key) => key.startsWith('fc.'));
  if (classifier.length > 0) {
    log.warn(
      `importS3d: dropped ${classifier.length} Kinetics-400 classifier keys ` +
        `(${classifier.join(', ')}); PankNet has its own decoders.`,
    );
  }
  log.debug(`importS3d: dropped ${skipped.length - classifier.length} num_batches_tracked keys`);

  // Keep the graph's parameter order, which the checkpoint writer and the network both follow.
  const stateDict = new Map<string, ParameterArray>();
  let scalars = 0;
  let learnable = 0;
  for (const name of expected.keys()) {
    const entry = found.get(name)!;
    stateDict.set(name, entry);
    scalars += entry.data.length;
    if (!/running_(mean|var)$/.test(name)) learnable += entry.data.length;
  }
  log.info(`importS3d: ${stateDict.size} encoder tensors, ${learnable} learnable scalars`);
  return { stateDict, keysRead: tensors.size, scalars, learnable, skipped, firstConvShape };
}

/**
 * Averages a conv weight `[Cout, Cin, kD, kH, kW]` over Cin and repeats the mean `channels` times.
 *
 * @param weight - Conv weight, float32, row-major.
 * @param channels - Input channels of the result (1 for CT).
 * @returns `[Cout, channels, kD, kH, kW]`; each value is the float64 mean rounded to float32.
 */
export function averageInputChannels(weight: ParameterArray, channels: number): ParameterArray {
  const [cout, cin, ...kernel] = weight.shape as [number, number, ...number[]];
  const k = kernel.reduce((a, b) => a * b, 1);
  const data = new Float32Array(cout * channels * k);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < k; i++) {
      let sum = 0;
      for (let c = 0; c < cin; c++) sum += weight.data[(o * cin + c) * k + i]!;
      const mean = sum / cin;
      for (let c = 0; c < channels; c++) data[(o * channels + c) * k + i] = mean;
    }
  }
  return { shape: [cout, channels, ...kernel], data };
}

function toFloat32(tensor: TorchTensor): Float32Array {
  return tensor.data instanceof Float32Array
    ? tensor.data
    : Float32Array.from(tensor.data as Float64Array);
}

function isFloat(tensor: TorchTensor): boolean {
  return ['float32', 'float64', 'float16', 'bfloat16'].includes(tensor.dtype);
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((size, axis) => size === b[axis]);
}

function strip(name: string): string {
  return name.slice(ENCODER_PREFIX.length);
}

function listed(kind: string, items: string[]): string {
  if (items.length === 0) return '';
  const shown = items.slice(0, MAX_LISTED).join(', ');
  const more = items.length > MAX_LISTED ? ` and ${items.length - MAX_LISTED} more` : '';
  return `${items.length} ${kind} (${shown}${more})`;
}
