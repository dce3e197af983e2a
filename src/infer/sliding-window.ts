/**
 * One sliding window for `predict`, validation during training and the notebooks: overlapping
 * windows of the network's patch, run in batches, blended with a Gaussian importance map into
 * preallocated accumulators (no copy of the whole volume per window).
 */

import type { Triple } from '../model/architecture.js';
import { ShapeError } from '../util/errors.js';
import type { ProgressCallback } from '../util/log.js';
import type { SegmentationEngine } from './engine.js';

/** Options of `slidingWindowInference`. */
export interface SlidingWindowOptions {
  /** Fraction of a window shared with its neighbour along each axis, in [0, 1); default 0.5. */
  overlap?: number;
  /** Windows per engine call; default the engine's `maxBatch`. */
  batchSize?: number;
  /** Also blend the per-decoder maps (4 more accumulators of the volume's size). */
  decoderMaps?: boolean;
  /** Average over mirrored inputs (none, and flips of W, H and D): 4 times the work. */
  tta?: boolean;
  /** Gaussian sigma as a fraction of the patch size along each axis; default 1/8. */
  sigmaScale?: number;
  /** Called after each batch with `{ stage: 'windows', done, total }`. */
  onProgress?: ProgressCallback;
  /** Stops between batches when aborted (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Blended probabilities on the input grid. */
export interface SlidingWindowResult {
  /** Fused probabilities `[C, D, H, W]`, float32 in [0, 1]. */
  fused: Float32Array;
  /** Per-decoder probabilities `[C, D, H, W]` in ascending tap order, when asked for. */
  maps?: Float32Array[];
  /** `[D, H, W]` of the input. */
  shape: Triple;
  /** Number of windows run (times the TTA passes). */
  windows: number;
}

/**
 * Start positions of windows along one axis: evenly spread from 0 to `size - patch`, as many as
 * needed for at most `patch * (1 - overlap)` between starts. A size below the patch gives [0]
 * (the caller pads).
 */
export function windowStarts(size: number, patch: number, overlap: number): number[] {
  if (size <= patch) return [0];
  const step = Math.max(1, Math.floor(patch * (1 - overlap)));
  const count = Math.ceil((size - patch) / step) + 1;
  const starts: number[] = [];
  for (let i = 0; i < count; i++) starts.push(Math.round((i * (size - patch)) / (count - 1)));
  return starts;
}

/**
 * Gaussian importance map of a patch: highest at the centre, sigma `sigmaScale * patch` per axis,
 * scaled to a maximum of 1 and floored at a small positive value so that edges still count.
 *
 * @returns `[D, H, W]` float32.
 */
export function gaussianImportance(patch: Triple, sigmaScale = 0.125): Float32Array {
  const axes = patch.map((size) => {
    const sigma = Math.max(size * sigmaScale, 1e-6);
    const centre = (size - 1) / 2;
    return Float64Array.from({ length: size }, (_, i) =>
      Math.exp(-((i - centre) ** 2) / (2 * sigma ** 2)),
    );
  });
  const [d, h, w] = patch;
  const map = new Float32Array(d * h * w);
  let min = Infinity;
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      const zy = axes[0]![z]! * axes[1]![y]!;
      for (let x = 0; x < w; x++) {
        const value = zy * axes[2]![x]!;
        map[(z * h + y) * w + x] = value;
        if (value > 0 && value < min) min = value;
      }
    }
  }
  const floor = Math.max(min, 1e-3);
  for (let i = 0; i < map.length; i++) map[i] = Math.max(map[i]!, floor);
  return map;
}

/** Flips a `[C, D, H, W]` block in place along the given spatial axes (0 = D, 1 = H, 2 = W). */
function flipBlock(block: Float32Array, channels: number, shape: Triple, axes: number[]): void {
  if (axes.length === 0) return;
  const [d, h, w] = shape;
  const copy = block.slice();
  const flipD = axes.includes(0);
  const flipH = axes.includes(1);
  const flipW = axes.includes(2);
  for (let c = 0; c < channels; c++) {
    const base = c * d * h * w;
    for (let z = 0; z < d; z++) {
      const zs = flipD ? d - 1 - z : z;
      for (let y = 0; y < h; y++) {
        const ys = flipH ? h - 1 - y : y;
        const dst = base + (z * h + y) * w;
        const src = base + (zs * h + ys) * w;
        for (let x = 0; x < w; x++) block[dst + x] = copy[src + (flipW ? w - 1 - x : x)]!;
      }
    }
  }
}

/**
 * Segments a volume by running the engine over overlapping windows and blending them.
 *
 * @param image - Normalised volume `[D, H, W]` (W fastest, i.e. the volume's i), float32 in [0, 1].
 * @param shape - `[D, H, W]` of `image` in voxels.
 * @param engine - The network; its `patch` is the window size.
 * @param options - Overlap, batch size, decoder maps, TTA, progress, abort signal.
 * @returns Blended probabilities `[C, D, H, W]` on the input grid.
 * @throws ShapeError when `image.length` does not match `shape`.
 */
export async function slidingWindowInference(
  image: Float32Array,
  shape: Triple,
  engine: SegmentationEngine,
  options: SlidingWindowOptions = {},
): Promise<SlidingWindowResult> {
  const [sd, sh, sw] = shape;
  if (image.length !== sd * sh * sw) {
    throw new ShapeError(
      `slidingWindowInference: image has ${image.length} voxels, shape [${shape.join(', ')}] ` +
        `needs ${sd * sh * sw}.`,
    );
  }
  const overlap = options.overlap ?? 0.5;
  if (!(overlap >= 0 && overlap < 1)) {
    throw new ShapeError(`slidingWindowInference: overlap must be in [0, 1); got ${overlap}.`);
  }

  // A volume smaller than the patch along an axis is padded with zeros (the normalised minimum).
  const patch = engine.patch;
  const [pd, ph, pw] = patch;
  const padded: Triple = [Math.max(sd, pd), Math.max(sh, ph), Math.max(sw, pw)];
  const [gd, gh, gw] = padded;
  const channels = engine.outChannels;
  const withMaps = options.decoderMaps === true;
  const mapCount = withMaps ? engine.taps.length : 0;
  const gridVoxels = gd * gh * gw;
  const fused = new Float32Array(channels * gridVoxels);
  const maps = Array.from({ length: mapCount }, () => new Float32Array(channels * gridVoxels));
  const weights = new Float32Array(gridVoxels);
  const importance = gaussianImportance(patch, options.sigmaScale);

  const starts: Triple[] = [];
  for (const z of windowStarts(gd, pd, overlap)) {
    for (const y of windowStarts(gh, ph, overlap)) {
      for (const x of windowStarts(gw, pw, overlap)) starts.push([z, y, x]);
    }
  }
  const flips: number[][] = options.tta ? [[], [2], [1], [0]] : [[]];
  const jobs = flips.flatMap((axes) => starts.map((start) => ({ start, axes })));
  const batchSize = Math.max(1, options.batchSize ?? engine.maxBatch);
  const patchVoxels = pd * ph * pw;
  const input = new Float32Array(batchSize * patchVoxels);

  for (let first = 0; first < jobs.length; first += batchSize) {
    options.signal?.throwIfAborted();
    const batch = jobs.slice(first, first + batchSize);
    input.fill(0);
    batch.forEach(({ start: [z0, y0, x0], axes }, b) => {
      const window = input.subarray(b * patchVoxels, (b + 1) * patchVoxels);
      for (let z = 0; z < pd && z0 + z < sd; z++) {
        for (let y = 0; y < ph && y0 + y < sh; y++) {
          const src = ((z0 + z) * sh + (y0 + y)) * sw + x0;
          const count = Math.min(pw, sw - x0);
          if (count > 0) window.set(image.subarray(src, src + count), (z * ph + y) * pw);
        }
      }
      flipBlock(window, 1, patch, axes);
    });

    const output = await engine.run(input.subarray(0, batch.length * patchVoxels), batch.length, {
      decoderMaps: withMaps,
    });
    const blockSize = channels * patchVoxels;
    batch.forEach(({ start: [z0, y0, x0], axes }, b) => {
      const targets = [fused, ...maps];
      const sources = [output.fused, ...(withMaps ? (output.maps ?? []) : [])];
      targets.forEach((target, t) => {
        const block = sources[t]!.slice(b * blockSize, (b + 1) * blockSize);
        flipBlock(block, channels, patch, axes);
        for (let c = 0; c < channels; c++) {
          for (let z = 0; z < pd; z++) {
            for (let y = 0; y < ph; y++) {
              const src = (z * ph + y) * pw;
              const dst = c * gridVoxels + ((z0 + z) * gh + (y0 + y)) * gw + x0;
              const srcC = c * patchVoxels + src;
              for (let x = 0; x < pw; x++)
                target[dst + x]! += block[srcC + x]! * importance[src + x]!;
            }
          }
        }
      });
      for (let z = 0; z < pd; z++) {
        for (let y = 0; y < ph; y++) {
          const src = (z * ph + y) * pw;
          const dst = ((z0 + z) * gh + (y0 + y)) * gw + x0;
          for (let x = 0; x < pw; x++) weights[dst + x]! += importance[src + x]!;
        }
      }
    });
    options.onProgress?.({
      stage: 'windows',
      done: Math.min(first + batchSize, jobs.length),
      total: jobs.length,
    });
  }

  const finish = (accumulator: Float32Array): Float32Array => {
    const out = new Float32Array(channels * sd * sh * sw);
    for (let c = 0; c < channels; c++) {
      for (let z = 0; z < sd; z++) {
        for (let y = 0; y < sh; y++) {
          const src = (z * gh + y) * gw;
          const dst = c * sd * sh * sw + (z * sh + y) * sw;
          for (let x = 0; x < sw; x++)
            out[dst + x] = accumulator[c * gridVoxels + src + x]! / weights[src + x]!;
        }
      }
    }
    return out;
  };
  return {
    fused: finish(fused),
    maps: withMaps ? maps.map(finish) : undefined,
    shape,
    windows: jobs.length,
  };
}
