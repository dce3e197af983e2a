/**
 * Integer block downsampling of volume arrays, so that display payloads stay under a voxel cap.
 * Pure typed-array code (no TensorFlow.js).
 */
import type { Mat4, Vec3 } from '../io/volume.js';

/**
 * Smallest integer factors that bring a grid under `maxVoxels`: the factor of the axis with the
 * finest current spacing grows first, so the result tends to isotropic voxels.
 *
 * @param shape - Voxel counts along i, j, k.
 * @param spacingMm - Voxel size along i, j, k in mm.
 * @param maxVoxels - Cap on `ceil(n_i / f_i) * ceil(n_j / f_j) * ceil(n_k / f_k)`, >= 1.
 * @returns Factors `[f_i, f_j, f_k]`, each >= 1.
 */
export function downsampleFactors(shape: Vec3, spacingMm: Vec3, maxVoxels: number): Vec3 {
  const factors: Vec3 = [1, 1, 1];
  const count = (): number =>
    Math.ceil(shape[0] / factors[0]) *
    Math.ceil(shape[1] / factors[1]) *
    Math.ceil(shape[2] / factors[2]);
  while (count() > maxVoxels) {
    let axis = -1;
    for (let a = 0; a < 3; a++) {
      if (factors[a] >= shape[a]) continue;
      if (axis < 0 || spacingMm[a] * factors[a] < spacingMm[axis] * factors[axis]) axis = a;
    }
    if (axis < 0) break;
    factors[axis]++;
  }
  return factors;
}

/** Shape after downsampling by `factors` (partial blocks at the far edges are kept). */
export function downsampledShape(shape: Vec3, factors: Vec3): Vec3 {
  return [0, 1, 2].map((a) => Math.ceil(shape[a] / factors[a])) as Vec3;
}

/**
 * Affine of the downsampled grid: columns scaled by the factors, origin moved to the centre of
 * the first block (block means sit there). Partial blocks at the far edges are off by up to
 * half a block; that is below one output voxel.
 */
export function downsampledAffine(affine: Mat4, factors: Vec3): Mat4 {
  return affine.map((row) => {
    const shift = [0, 1, 2].reduce((sum, a) => sum + row[a] * ((factors[a] - 1) / 2), 0);
    return [row[0] * factors[0], row[1] * factors[1], row[2] * factors[2], row[3] + shift];
  }) as Mat4;
}

/**
 * Block reduction of a volume array.
 *
 * @param data - Values, x fastest, length `shape[0] * shape[1] * shape[2]`.
 * @param shape - Voxel counts along i, j, k.
 * @param factors - Integer block size along i, j, k.
 * @param mode - `mean` (intensities; non-finite values skipped) or `max` (masks: a label
 *   survives if any voxel of the block has it; the largest label wins).
 * @returns Float64Array on the downsampled grid (NaN where a block had no finite value).
 */
export function downsampleBlocks(
  data: ArrayLike<number>,
  shape: Vec3,
  factors: Vec3,
  mode: 'mean' | 'max',
): Float64Array {
  const [nx, ny, nz] = shape;
  const out = downsampledShape(shape, factors);
  const [ox, oy] = out;
  const size = out[0] * out[1] * out[2];
  const sum = new Float64Array(size);
  const count = new Uint32Array(size);
  if (mode === 'max') sum.fill(-Infinity);
  for (let k = 0; k < nz; k++) {
    const kk = Math.floor(k / factors[2]) * ox * oy;
    for (let j = 0; j < ny; j++) {
      const jj = kk + Math.floor(j / factors[1]) * ox;
      const base = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        const v = data[base + i];
        if (!Number.isFinite(v)) continue;
        const o = jj + Math.floor(i / factors[0]);
        if (mode === 'mean') sum[o] += v;
        else if (v > sum[o]) sum[o] = v;
        count[o]++;
      }
    }
  }
  for (let o = 0; o < size; o++) {
    if (count[o] === 0) sum[o] = NaN;
    else if (mode === 'mean') sum[o] /= count[o];
  }
  return sum;
}
