import type { Vec3 } from '../io/volume.js';
import { ShapeError } from '../util/errors.js';
import { squaredDistanceTransform } from './distance-transform.js';

/** Boundary distances between two binary masks, in mm. */
export interface SurfaceDistanceMetrics {
  /**
   * 95th-percentile Hausdorff distance: the larger of the two directed 95th percentiles (numpy's
   * default linear interpolation) of surface-to-surface distances. 0 when both masks are empty,
   * `Infinity` when exactly one is.
   */
  hd95Mm: number;
  /** Hausdorff distance (the largest surface-to-surface distance); same empty-mask rules. */
  hausdorffMm: number;
  /**
   * Average symmetric surface distance: the mean of all distances of both directed sets pooled
   * together. Same empty-mask rules.
   */
  asdMm: number;
  /** Number of surface voxels of the prediction and of the reference. */
  surfaceVoxels: { pred: number; ref: number };
}

/**
 * Marks the surface voxels of a mask: foreground voxels with at least one background
 * 6-neighbour, where outside the volume counts as background
 * (`../shared/cases/expected.json`, conventions.metrics).
 *
 * @param mask - Mask flattened x fastest, length `nx * ny * nz`; non-zero = foreground.
 * @param shape - Voxel counts `[nx, ny, nz]`.
 * @returns Uint8Array of the same length, 1 on surface voxels, else 0.
 * @throws ShapeError if the length does not match the shape.
 */
export function surfaceMask(mask: ArrayLike<number>, shape: Vec3): Uint8Array {
  const [nx, ny, nz] = shape;
  checkLength('surfaceMask', mask.length, shape);

  const out = new Uint8Array(mask.length);
  const sxy = nx * ny;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        const at = row + i;
        if (mask[at] === 0) continue;
        const onBorder =
          i === 0 || j === 0 || k === 0 || i === nx - 1 || j === ny - 1 || k === nz - 1;
        if (
          onBorder ||
          mask[at - 1] === 0 ||
          mask[at + 1] === 0 ||
          mask[at - nx] === 0 ||
          mask[at + nx] === 0 ||
          mask[at - sxy] === 0 ||
          mask[at + sxy] === 0
        ) {
          out[at] = 1;
        }
      }
    }
  }
  return out;
}

/**
 * The q-th quantile of sorted values with numpy's default ("linear") interpolation.
 *
 * @param sorted - Values in ascending order, at least one.
 * @param q - Quantile in [0, 1] (0.95 for HD95).
 * @returns The interpolated value.
 */
export function quantileLinear(sorted: ArrayLike<number>, q: number): number {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const fraction = position - below;
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

/**
 * Surface distances between a predicted and a reference mask on the same grid: HD95, Hausdorff
 * and average symmetric surface distance, in mm with the (anisotropic) voxel spacing.
 * Both masks are cropped to the bounding box of their union first, which changes no distance
 * and keeps a 512 x 512 x 300 scan with a pancreas-sized mask well under a second.
 *
 * @param pred - Prediction flattened x fastest, length `nx * ny * nz`; non-zero = foreground.
 * @param ref - Reference, same layout and grid.
 * @param shape - Voxel counts `[nx, ny, nz]`.
 * @param spacingMm - Voxel size along i, j, k in mm.
 * @returns The distances; empty-mask rules are on each field.
 * @throws ShapeError if a length does not match the shape.
 */
export function surfaceDistances(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  shape: Vec3,
  spacingMm: Vec3,
): SurfaceDistanceMetrics {
  checkLength('surfaceDistances', pred.length, shape);
  checkLength('surfaceDistances', ref.length, shape);

  const box = unionBoundingBox(pred, ref, shape);
  if (box === undefined) {
    return { hd95Mm: 0, hausdorffMm: 0, asdMm: 0, surfaceVoxels: { pred: 0, ref: 0 } };
  }
  const predSurface = surfaceMask(crop(pred, shape, box), box.shape);
  const refSurface = surfaceMask(crop(ref, shape, box), box.shape);
  const predToRef = directedDistances(predSurface, refSurface, box.shape, spacingMm);
  const refToPred = directedDistances(refSurface, predSurface, box.shape, spacingMm);
  const surfaceVoxels = { pred: predToRef.length, ref: refToPred.length };
  if (predToRef.length === 0 || refToPred.length === 0) {
    return { hd95Mm: Infinity, hausdorffMm: Infinity, asdMm: Infinity, surfaceVoxels };
  }

  predToRef.sort();
  refToPred.sort();
  let sum = 0;
  for (const d of predToRef) sum += d;
  for (const d of refToPred) sum += d;
  return {
    hd95Mm: Math.max(quantileLinear(predToRef, 0.95), quantileLinear(refToPred, 0.95)),
    hausdorffMm: Math.max(predToRef[predToRef.length - 1], refToPred[refToPred.length - 1]),
    asdMm: sum / (predToRef.length + refToPred.length),
    surfaceVoxels,
  };
}

/** Distance in mm from each surface voxel of `from` to the nearest surface voxel of `to`. */
function directedDistances(
  from: Uint8Array,
  to: Uint8Array,
  shape: Vec3,
  spacingMm: Vec3,
): Float64Array {
  let count = 0;
  for (let i = 0; i < from.length; i++) count += from[i];
  const distances = new Float64Array(count);
  if (count === 0) return distances;

  const squared = squaredDistanceTransform(to, shape, spacingMm);
  let n = 0;
  for (let i = 0; i < from.length; i++) if (from[i] !== 0) distances[n++] = Math.sqrt(squared[i]);
  return distances;
}

interface Box {
  start: Vec3;
  shape: Vec3;
}

function unionBoundingBox(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  shape: Vec3,
): Box | undefined {
  const [nx, ny, nz] = shape;
  const lo: Vec3 = [nx, ny, nz];
  const hi: Vec3 = [-1, -1, -1];
  let at = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, at++) {
        if (pred[at] === 0 && ref[at] === 0) continue;
        if (i < lo[0]) lo[0] = i;
        if (i > hi[0]) hi[0] = i;
        if (j < lo[1]) lo[1] = j;
        if (j > hi[1]) hi[1] = j;
        if (k < lo[2]) lo[2] = k;
        if (k > hi[2]) hi[2] = k;
      }
    }
  }
  if (hi[0] < 0) return undefined;
  return { start: lo, shape: [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1] };
}

/** Copies a box out of a mask as 0/1 bytes. Voxels outside the box are background in both. */
function crop(mask: ArrayLike<number>, shape: Vec3, box: Box): Uint8Array {
  const [bx, by, bz] = box.shape;
  const out = new Uint8Array(bx * by * bz);
  let at = 0;
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      const row = box.start[0] + shape[0] * (box.start[1] + j + shape[1] * (box.start[2] + k));
      for (let i = 0; i < bx; i++, at++) out[at] = mask[row + i] !== 0 ? 1 : 0;
    }
  }
  return out;
}

function checkLength(where: string, length: number, shape: Vec3): void {
  const expected = shape[0] * shape[1] * shape[2];
  if (length !== expected) {
    throw new ShapeError(
      `${where}(mask, shape): mask has ${length} voxels, shape [${shape.join(', ')}] needs ` +
        `${expected}; pass masks of the same grid as the shape.`,
    );
  }
}
