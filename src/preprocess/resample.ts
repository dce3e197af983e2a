/**
 * Resampling between voxel grids through world coordinates: onto a new spacing (same origin
 * and directions) or onto another volume's grid. Pure typed-array code, no TensorFlow.js.
 */

import { invert4, multiply4, spacingFromAffine } from '../io/affine.js';
import type { Mat4, Vec3, Volume, VoxelArray } from '../io/volume.js';
import { voxelCount } from '../io/volume.js';
import { ShapeError } from '../util/errors.js';

/** Largest grid a resampling may produce: 1 billion voxels (4 GB as float32). */
export const MAX_RESAMPLED_VOXELS = 1e9;

/** Interpolation: `linear` (trilinear, for images) or `nearest` (for masks and label maps). */
export type ResampleMode = 'linear' | 'nearest';

/**
 * What a target voxel outside the source grid gets. `edge`: the nearest edge voxel's value
 * (for images, so no dark rim appears). `fill`: positions within half a voxel of the grid take
 * the edge value, farther ones take `fillValue` (for masks put back onto a larger grid).
 */
export type OutsideMode = 'edge' | 'fill';

/** Options of `resampleOnGrid`. */
export interface ResampleOnGridOptions {
  /** Interpolation (default `linear`). */
  mode?: ResampleMode;
  /** Handling of positions outside the source (default `edge`). */
  outside?: OutsideMode;
  /** Value for `outside: 'fill'` (default 0). */
  fillValue?: number;
}

/** Options of `resampleToSpacing`. */
export interface ResampleToSpacingOptions {
  /** Interpolation (default `linear`; use `nearest` for label maps). */
  mode?: ResampleMode;
}

function checkVolume(fn: string, volume: Volume): void {
  if (volume.data.length !== voxelCount(volume.shape)) {
    throw new ShapeError(
      `${fn}(volume): data holds ${volume.data.length} voxels but shape ` +
        `${volume.shape.join(' x ')} needs ${voxelCount(volume.shape)}.`,
    );
  }
}

/**
 * Samples `volume` at the voxel centres of a target grid (shape and affine, RAS+ mm).
 *
 * @param volume - Source volume.
 * @param shape - Target voxel counts along i, j, k.
 * @param affine - Target voxel-to-world affine, RAS+ mm.
 * @param options - Interpolation and outside handling.
 * @returns A volume on the target grid. `nearest` keeps the source typed array class; `linear`
 *   returns Float32Array (Float64Array for a Float64Array source).
 * @throws ShapeError when data length and shape disagree or an affine is singular.
 */
export function resampleOnGrid(
  volume: Volume,
  shape: Vec3,
  affine: Mat4,
  options: ResampleOnGridOptions = {},
): Volume {
  checkVolume('resampleOnGrid', volume);
  if (shape.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new ShapeError(`resampleOnGrid(shape): ${shape.join(' x ')} is not a valid grid size.`);
  }
  const mode = options.mode ?? 'linear';
  const fill = options.outside === 'fill';
  const fillValue = options.fillValue ?? 0;
  const src = volume.data;
  const [nx, ny, nz] = volume.shape;
  const sxy = nx * ny;

  // Target voxel -> source voxel, walked incrementally along i.
  const m = multiply4(invert4(volume.affine), affine);
  let out: VoxelArray;
  if (mode === 'nearest') {
    const Ctor = src.constructor as new (length: number) => VoxelArray;
    out = new Ctor(voxelCount(shape));
  } else {
    const count = voxelCount(shape);
    out = src instanceof Float64Array ? new Float64Array(count) : new Float32Array(count);
  }
  const lo = -0.5;
  const hi = [nx - 0.5, ny - 0.5, nz - 0.5];
  let index = 0;
  for (let k = 0; k < shape[2]; k++) {
    for (let j = 0; j < shape[1]; j++) {
      let x = m[0][1] * j + m[0][2] * k + m[0][3];
      let y = m[1][1] * j + m[1][2] * k + m[1][3];
      let z = m[2][1] * j + m[2][2] * k + m[2][3];
      for (let i = 0; i < shape[0]; i++, x += m[0][0], y += m[1][0], z += m[2][0]) {
        if (fill && (x < lo || y < lo || z < lo || x > hi[0] || y > hi[1] || z > hi[2])) {
          out[index++] = fillValue;
          continue;
        }
        const cx = x < 0 ? 0 : x > nx - 1 ? nx - 1 : x;
        const cy = y < 0 ? 0 : y > ny - 1 ? ny - 1 : y;
        const cz = z < 0 ? 0 : z > nz - 1 ? nz - 1 : z;
        if (mode === 'nearest') {
          // Round half up, with a tolerance so that exact centres survive float error.
          const ri = Math.floor(cx + 0.5 + 1e-9);
          const rj = Math.floor(cy + 0.5 + 1e-9);
          const rk = Math.floor(cz + 0.5 + 1e-9);
          const at = Math.min(ri, nx - 1) + nx * Math.min(rj, ny - 1) + sxy * Math.min(rk, nz - 1);
          out[index++] = src[at];
          continue;
        }
        const i0 = Math.min(Math.floor(cx), Math.max(nx - 2, 0));
        const j0 = Math.min(Math.floor(cy), Math.max(ny - 2, 0));
        const k0 = Math.min(Math.floor(cz), Math.max(nz - 2, 0));
        const fx = cx - i0;
        const fy = cy - j0;
        const fz = cz - k0;
        const di = nx > 1 ? 1 : 0;
        const dj = ny > 1 ? nx : 0;
        const dk = nz > 1 ? sxy : 0;
        const p = i0 + nx * j0 + sxy * k0;
        const c00 = src[p] + (src[p + di] - src[p]) * fx;
        const c10 = src[p + dj] + (src[p + dj + di] - src[p + dj]) * fx;
        const c01 = src[p + dk] + (src[p + dk + di] - src[p + dk]) * fx;
        const c11 = src[p + dk + dj] + (src[p + dk + dj + di] - src[p + dk + dj]) * fx;
        const c0 = c00 + (c10 - c00) * fy;
        const c1 = c01 + (c11 - c01) * fy;
        out[index++] = c0 + (c1 - c0) * fz;
      }
    }
  }

  return {
    data: out,
    shape: [...shape],
    spacingMm: spacingFromAffine(affine),
    affine: affine.map((row) => [...row]) as Mat4,
    meta: { ...volume.meta, warnings: [...(volume.meta.warnings ?? [])] },
  };
}

/**
 * The grid `resampleToSpacing` produces: same origin (voxel (0, 0, 0) keeps its centre) and axis
 * directions, new voxel size, and `round((n - 1) * old / new) + 1` voxels per axis so that the
 * voxel centres cover the same world extent (MONAI `Spacing` without `scale_extent`).
 *
 * @param affine - Source affine, RAS+ mm.
 * @param shape - Source voxel counts.
 * @param spacingMm - New voxel size along i, j, k in mm.
 * @returns Target shape and affine.
 */
export function spacingGrid(
  affine: Mat4,
  shape: Vec3,
  spacingMm: Vec3,
): { shape: Vec3; affine: Mat4 } {
  const old = spacingFromAffine(affine);
  const outShape = [0, 1, 2].map((a) =>
    Math.max(1, Math.round(((shape[a] - 1) * old[a]) / spacingMm[a] + 1e-9) + 1),
  ) as Vec3;
  const voxels = outShape[0] * outShape[1] * outShape[2];
  if (voxels > MAX_RESAMPLED_VOXELS) {
    throw new ShapeError(
      `resampling ${shape.join(' x ')} voxels of ${old.map((s) => +s.toFixed(3)).join(' x ')} mm ` +
        `to ${spacingMm.join(' x ')} mm would make ${outShape.join(' x ')} voxels, more than ` +
        `the ${MAX_RESAMPLED_VOXELS / 1e6} million this library resamples to; ` +
        'choose a coarser spacing.',
    );
  }
  const outAffine = affine.map((row) => [...row]) as Mat4;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) outAffine[r][c] = (affine[r][c] * spacingMm[c]) / old[c];
  }
  return { shape: outShape, affine: outAffine };
}

/**
 * Resamples a volume to a new voxel size, keeping its origin, directions and world extent (see
 * `spacingGrid`). Positions past the last source centre take the edge value.
 *
 * @param volume - Source volume (any orientation; reorient first for a RAS grid).
 * @param spacingMm - Target voxel size along i, j, k in mm, each > 0.
 * @param options - `mode`: `linear` for images (Float32Array out), `nearest` for masks and
 *   label maps (typed array class and values kept).
 * @returns The resampled volume.
 * @throws ShapeError when a spacing is not a positive number.
 */
export function resampleToSpacing(
  volume: Volume,
  spacingMm: Vec3,
  options: ResampleToSpacingOptions = {},
): Volume {
  if (spacingMm.length !== 3 || spacingMm.some((s) => !Number.isFinite(s) || s <= 0)) {
    throw new ShapeError(
      'resampleToSpacing(spacingMm): expected three positive sizes in mm, ' +
        `got [${spacingMm.join(', ')}].`,
    );
  }
  const grid = spacingGrid(volume.affine, volume.shape, spacingMm);
  return resampleOnGrid(volume, grid.shape, grid.affine, { mode: options.mode ?? 'linear' });
}

/**
 * Puts a volume computed on one grid onto another grid through world coordinates, for example a
 * mask computed on the 1 mm RAS grid back onto the original input grid. The result has exactly
 * the reference's shape and affine; reference voxels more than half a voxel outside the source
 * grid get 0.
 *
 * @param volume - Data on its own grid (a mask, probabilities, an image).
 * @param reference - The grid to land on; only `shape` and `affine` are read.
 * @param mode - `nearest` for masks and labels (typed array kept), `linear` for images.
 * @returns A volume with `reference.shape` and `reference.affine` and the meta of `reference`
 *   (so a writer keeps the reference's transform codes) with the source datatype.
 */
export function resampleToReference(
  volume: Volume,
  reference: Pick<Volume, 'shape' | 'affine' | 'meta'>,
  mode: ResampleMode = 'nearest',
): Volume {
  const out = resampleOnGrid(volume, reference.shape, reference.affine, {
    mode,
    outside: 'fill',
    fillValue: 0,
  });
  out.meta = {
    ...reference.meta,
    datatype: volume.meta.datatype,
    warnings: [...(reference.meta.warnings ?? [])],
  };
  return out;
}
