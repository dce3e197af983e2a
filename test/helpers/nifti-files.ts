/**
 * Small NIfTI fixtures for the specs: volumes on the identity grid, written as real files with
 * our writer.
 */

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { identity4 } from '../../src/io/affine.js';
import type { Vec3, Volume, VolumeMeta, VoxelArray } from '../../src/io/volume.js';
import { writeNifti, type WriteNiftiOptions } from '../../src/io/write-nifti.js';

/**
 * A volume on a 1 mm grid with the identity affine: voxel (i, j, k) at (i, j, k) mm RAS.
 *
 * @param data - Voxels, x fastest; length `shape[0] * shape[1] * shape[2]`.
 * @param shape - `[nx, ny, nz]`.
 * @param meta - Its metadata (`datatype` at least).
 */
export function identityVolume(data: VoxelArray, shape: Vec3, meta: VolumeMeta): Volume {
  return { data, shape, spacingMm: [1, 1, 1], affine: identity4(), meta };
}

/**
 * Writes `volume` to `path` with `writeNifti`, creating the folders first.
 *
 * @returns `path`.
 */
export async function writeNiftiFile(
  path: string,
  volume: Volume,
  options?: WriteNiftiOptions,
): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  await writeNifti(volume, path, options);
  return path;
}
