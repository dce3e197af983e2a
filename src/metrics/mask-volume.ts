import type { Vec3 } from '../io/volume.js';

/**
 * Volume of a mask in millilitres: foreground voxel count times the voxel volume.
 *
 * @param mask - Mask, any typed array or array; non-zero = foreground.
 * @param spacingMm - Voxel size along i, j, k in mm.
 * @returns Volume in mL (1 mL = 1000 mm^3).
 */
export function maskVolumeMl(mask: ArrayLike<number>, spacingMm: Vec3): number {
  let count = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) count++;
  return (count * spacingMm[0] * spacingMm[1] * spacingMm[2]) / 1000;
}
