/**
 * Training patches: crops of a preprocessed case centred on pancreas (80%) or anywhere (20%),
 * with the recipe's augmentation (DESIGN.md: random flip on the first spatial axis, random
 * 90-degree in-plane rotation). Pure code on typed arrays in `[D, H, W]` order (W fastest).
 */

import type { Triple } from '../model/architecture.js';
import type { RandomStream } from '../util/random.js';

/** A preprocessed training case on the model's grid. */
export interface TrainingCase {
  /** Case id (file name without extension). */
  id: string;
  /** Normalised image `[D, H, W]`, float32 in [0, 1]. */
  image: Float32Array;
  /** Binary label `[D, H, W]`: 1 pancreas, 0 background. */
  label: Uint8Array;
  /** `[D, H, W]` in voxels. */
  shape: Triple;
  /** Flat indices of the foreground voxels (for centring patches on pancreas). */
  foreground: Int32Array;
}

/** Options of `samplePatch`. */
export interface SamplePatchOptions {
  /** Probability of centring the patch on a foreground voxel (DESIGN.md: 0.8). */
  foregroundRatio?: number;
  /** Apply the random flip and in-plane rotation. */
  augment?: boolean;
}

/** Flat indices of the non-zero voxels of a label. */
export function foregroundIndices(label: Uint8Array): Int32Array {
  let count = 0;
  for (let i = 0; i < label.length; i++) if (label[i] !== 0) count++;
  const indices = new Int32Array(count);
  let next = 0;
  for (let i = 0; i < label.length; i++) if (label[i] !== 0) indices[next++] = i;
  return indices;
}

/**
 * Crops one `[D, H, W]` patch from a case: centred on a random pancreas voxel with probability
 * `foregroundRatio` (or anywhere when the case has none), otherwise on a random voxel; regions
 * outside the volume read 0 (image and label), so volumes smaller than the patch work.
 *
 * @returns Image and label patches, each `patch[0] * patch[1] * patch[2]` long.
 */
export function samplePatch(
  source: TrainingCase,
  patch: Triple,
  rng: RandomStream,
  options: SamplePatchOptions = {},
): { image: Float32Array; label: Uint8Array } {
  const [sd, sh, sw] = source.shape;
  const [pd, ph, pw] = patch;
  const onForeground =
    source.foreground.length > 0 && rng.next() < (options.foregroundRatio ?? 0.8);
  const centre = onForeground
    ? source.foreground[rng.int(source.foreground.length)]!
    : rng.int(sd * sh * sw);
  const cz = Math.floor(centre / (sh * sw));
  const cy = Math.floor(centre / sw) % sh;
  const cx = centre % sw;
  // Keep the patch inside the volume where the volume is large enough.
  const origin = (c: number, size: number, p: number): number =>
    size <= p ? Math.floor((size - p) / 2) : Math.min(Math.max(c - Math.floor(p / 2), 0), size - p);
  const z0 = origin(cz, sd, pd);
  const y0 = origin(cy, sh, ph);
  const x0 = origin(cx, sw, pw);

  const image = new Float32Array(pd * ph * pw);
  const label = new Uint8Array(pd * ph * pw);
  for (let z = 0; z < pd; z++) {
    const zz = z0 + z;
    if (zz < 0 || zz >= sd) continue;
    for (let y = 0; y < ph; y++) {
      const yy = y0 + y;
      if (yy < 0 || yy >= sh) continue;
      const xStart = Math.max(0, -x0);
      const xEnd = Math.min(pw, sw - x0);
      if (xEnd <= xStart) continue;
      const src = (zz * sh + yy) * sw + x0;
      const dst = (z * ph + y) * pw;
      image.set(source.image.subarray(src + xStart, src + xEnd), dst + xStart);
      label.set(source.label.subarray(src + xStart, src + xEnd), dst + xStart);
    }
  }
  if (options.augment !== false) {
    const flip = rng.next() < 0.5;
    const turns = ph === pw ? rng.int(4) : rng.int(2) * 2;
    augmentInPlace(image, patch, flip, turns);
    augmentInPlace(label, patch, flip, turns);
  }
  return { image, label };
}

/**
 * Flips along the first spatial axis (x, i.e. W) and rotates by `turns` quarter turns in the
 * H-W plane, in place. Quarter turns need H = W; half turns work for any shape.
 */
export function augmentInPlace<T extends Float32Array | Uint8Array>(
  block: T,
  shape: Triple,
  flipX: boolean,
  turns: number,
): T {
  const [d, h, w] = shape;
  const quarter = ((turns % 4) + 4) % 4;
  if (!flipX && quarter === 0) return block;
  const copy = block.slice();
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const xs = flipX ? w - 1 - x : x;
        // Where (y, xs) goes under the rotation.
        let ty = y;
        let tx = xs;
        if (quarter === 1) [ty, tx] = [xs, h - 1 - y];
        else if (quarter === 2) [ty, tx] = [h - 1 - y, w - 1 - xs];
        else if (quarter === 3) [ty, tx] = [w - 1 - xs, y];
        block[(z * h + ty) * w + tx] = copy[(z * h + y) * w + x]!;
      }
    }
  }
  return block;
}
