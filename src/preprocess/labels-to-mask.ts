import type { Volume } from '../io/volume.js';
import { ShapeError } from '../util/errors.js';

/**
 * Picks labels out of a label map (e.g. pancreas = 7 in TotalSegmentator maps, 1 in MSD Task07).
 *
 * @param volume - Label map (any typed array; values compared exactly).
 * @param labels - One label or several; voxels equal to any of them become 1.
 * @returns A Uint8Array 0/1 mask on the same grid, `meta.datatype` `uint8`.
 * @throws ShapeError when no label is given or a label is not a finite number.
 */
export function labelsToMask(volume: Volume, labels: number | readonly number[]): Volume {
  const wanted = typeof labels === 'number' ? [labels] : [...labels];
  if (wanted.length === 0 || wanted.some((l) => !Number.isFinite(l))) {
    throw new ShapeError(
      `labelsToMask(labels): expected finite label values, got [${wanted.join(', ')}].`,
    );
  }
  const set = new Set(wanted);
  const out = new Uint8Array(volume.data.length);
  for (let i = 0; i < out.length; i++) out[i] = set.has(volume.data[i]) ? 1 : 0;
  return {
    data: out,
    shape: [...volume.shape],
    spacingMm: [...volume.spacingMm],
    affine: volume.affine.map((row) => [...row]) as Volume['affine'],
    meta: { ...volume.meta, datatype: 'uint8', warnings: [...(volume.meta.warnings ?? [])] },
  };
}
