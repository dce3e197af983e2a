import { multiply4, rasTransform } from '../io/affine.js';
import type { Volume, VoxelArray } from '../io/volume.js';

/**
 * Reorders and flips the voxel axes so that i, j, k run toward R, A, S (the closest canonical
 * orientation, as nibabel `as_closest_canonical`). No interpolation: every voxel keeps its
 * value and its world position, so the result is exact; an oblique grid stays oblique.
 *
 * @param volume - Any 3D volume.
 * @returns A new volume (same typed array class) with axcodes RAS; `meta` is copied. When the
 *   input is already RAS the data is copied unchanged.
 * @throws ShapeError when the affine has a zero column.
 */
export function reorientToRas(volume: Volume): Volume {
  const { sourceAxis, flip, shape, newToOld } = rasTransform(volume.affine, volume.shape);
  const oldStrides = [1, volume.shape[0], volume.shape[0] * volume.shape[1]];

  // Walk the output in order; each output axis steps the input by a signed stride.
  const step = [0, 1, 2].map((n) => (flip[n] ? -1 : 1) * oldStrides[sourceAxis[n]]);
  const start = [0, 1, 2].reduce(
    (sum, n) => sum + (flip[n] ? (shape[n] - 1) * oldStrides[sourceAxis[n]] : 0),
    0,
  );
  const Ctor = volume.data.constructor as new (length: number) => VoxelArray;
  const data = new Ctor(volume.data.length);
  let out = 0;
  for (let k = 0; k < shape[2]; k++) {
    const baseK = start + k * step[2];
    for (let j = 0; j < shape[1]; j++) {
      let src = baseK + j * step[1];
      for (let i = 0; i < shape[0]; i++) {
        data[out++] = volume.data[src];
        src += step[0];
      }
    }
  }

  const affine = multiply4(volume.affine, newToOld);
  return {
    data,
    shape,
    spacingMm: [
      volume.spacingMm[sourceAxis[0]],
      volume.spacingMm[sourceAxis[1]],
      volume.spacingMm[sourceAxis[2]],
    ],
    affine,
    meta: { ...volume.meta, warnings: [...(volume.meta.warnings ?? [])] },
  };
}
