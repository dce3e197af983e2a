import type { Vec3 } from '../io/volume.js';
import { ShapeError } from '../util/errors.js';

/**
 * Exact squared Euclidean distance transform on an anisotropic 3D grid, by the separable
 * lower-envelope-of-parabolas method of Felzenszwalb and Huttenlocher ("Distance Transforms of
 * Sampled Functions", Theory of Computing 8, 2012): one linear-time pass per axis, so the cost is
 * O(voxels) whatever the shape of the mask.
 *
 * @param feature - Mask `[nz][ny][nx]` flattened x fastest (`i + nx * (j + ny * k)`), length
 *   `nx * ny * nz`; non-zero voxels are the features.
 * @param shape - Voxel counts `[nx, ny, nz]`.
 * @param spacingMm - Voxel size along i, j, k in mm (anisotropic allowed, each > 0).
 * @returns Float64Array of the same length: squared distance in mm^2 from each voxel centre to
 *   the nearest feature voxel centre (0 on features); `Infinity` everywhere if there is none.
 * @throws ShapeError if the length does not match the shape or a spacing is not positive.
 */
export function squaredDistanceTransform(
  feature: ArrayLike<number>,
  shape: Vec3,
  spacingMm: Vec3,
): Float64Array {
  const [nx, ny, nz] = shape;
  if (feature.length !== nx * ny * nz) {
    throw new ShapeError(
      `squaredDistanceTransform(feature, shape): feature has ${feature.length} voxels, ` +
        `shape [${shape.join(', ')}] needs ${nx * ny * nz}; pass the mask's own shape.`,
    );
  }
  if (!spacingMm.every((s) => Number.isFinite(s) && s > 0)) {
    throw new ShapeError(
      `squaredDistanceTransform(spacingMm): got [${spacingMm.join(', ')}], expected three ` +
        'positive voxel sizes in mm; fix the volume header.',
    );
  }

  const out = new Float64Array(feature.length);
  for (let i = 0; i < out.length; i++) out[i] = feature[i] !== 0 ? 0 : Infinity;

  const longest = Math.max(nx, ny, nz);
  const work: LineBuffers = {
    f: new Float64Array(longest),
    d: new Float64Array(longest),
    v: new Int32Array(longest),
    z: new Float64Array(longest + 1),
  };
  const strides: Vec3 = [1, nx, nx * ny];
  for (let axis = 0; axis < 3; axis++) {
    const [a, b] = [0, 1, 2].filter((other) => other !== axis);
    const w2 = spacingMm[axis] * spacingMm[axis];
    for (let ib = 0; ib < shape[b]; ib++) {
      for (let ia = 0; ia < shape[a]; ia++) {
        const start = ia * strides[a] + ib * strides[b];
        transformLine(out, start, strides[axis], shape[axis], w2, work);
      }
    }
  }
  return out;
}

interface LineBuffers {
  f: Float64Array;
  d: Float64Array;
  v: Int32Array;
  z: Float64Array;
}

/** One 1D pass in place: d(p) = min over q of f(q) + w2 (p - q)^2. */
function transformLine(
  data: Float64Array,
  start: number,
  stride: number,
  length: number,
  w2: number,
  { f, d, v, z }: LineBuffers,
): void {
  let finite = 0;
  for (let q = 0; q < length; q++) {
    f[q] = data[start + q * stride];
    if (f[q] !== Infinity) finite++;
  }
  if (finite === 0) return;

  // Lower envelope of the parabolas rooted at the finite samples: v holds their roots, z the
  // boundaries between consecutive parabolas.
  let k = -1;
  for (let q = 0; q < length; q++) {
    if (f[q] === Infinity) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    const fq = f[q] + w2 * q * q;
    let s = 0;
    for (;;) {
      const p = v[k];
      s = (fq - (f[p] + w2 * p * p)) / (2 * w2 * (q - p));
      // z[0] is -Infinity, so k never drops below 0.
      if (s > z[k]) break;
      k--;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }

  k = 0;
  for (let q = 0; q < length; q++) {
    while (z[k + 1] < q) k++;
    const p = v[k];
    d[q] = w2 * (q - p) * (q - p) + f[p];
  }
  for (let q = 0; q < length; q++) data[start + q * stride] = d[q];
}
