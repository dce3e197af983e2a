/**
 * The one preprocessing path shared by training, validation, `predict` and the notebooks: the
 * recipe of DESIGN.md (orient RAS, resample to the model's spacing, normalise), producing the
 * network's `[D, H, W]` float32 layout.
 */

import type { Vec3, Volume } from '../io/volume.js';
import { InputFileError } from '../util/errors.js';
import { log } from '../util/log.js';
import { normalizeCt, normalizeMri } from './normalize-intensity.js';
import { reorientToRas } from './reorient-to-ras.js';
import { resampleToSpacing } from './resample.js';

/** Modalities a model can be trained for. */
export type Modality = 'ct' | 'mri';

/** How a model's inputs were prepared; stored in a checkpoint's `panknet.json`. */
export interface PreprocessingSpec {
  /** Target voxel size along i, j, k in mm (the recipe: 1 x 1 x 1). */
  spacingMm: Vec3;
  /** Image kind the model was trained on. */
  modality: Modality;
  /** CT: HU window clipped before the z-score (default `[-100, 240]`). */
  windowHu?: [number, number];
  /** MRI: intensity percentiles clipped before the z-score (default `[0.5, 99.5]`). */
  percentiles?: [number, number];
}

/** A volume prepared for the network. */
export interface PreparedVolume {
  /** Normalised image `[D, H, W]` (D = k, slices; W = i), float32 in [0, 1]. */
  image: Float32Array;
  /** `[D, H, W]` in voxels. */
  shape: [number, number, number];
  /** The RAS, resampled grid: `data` is `image` itself (i fastest), geometry exact. */
  grid: Volume;
}

/**
 * Guesses whether intensities look like CT (Hounsfield units: air near -1000) or MRI (no
 * negative values), for the warning when a model meets the other kind.
 *
 * @returns `ct`, `mri`, or `undefined` when unclear.
 */
export function guessModality(volume: Volume): Modality | undefined {
  const declared = volume.meta.modality?.toUpperCase();
  if (declared === 'CT') return 'ct';
  if (declared === 'MR') return 'mri';
  const data = volume.data;
  const step = Math.max(1, Math.floor(data.length / 100_000));
  let below = 0;
  let negative = 0;
  let seen = 0;
  for (let i = 0; i < data.length; i += step, seen++) {
    const v = data[i]!;
    if (v < -500) below++;
    if (v < 0) negative++;
  }
  if (below / seen > 0.05) return 'ct';
  if (negative === 0) return 'mri';
  return undefined;
}

/**
 * Prepares a volume as the model's recipe says: RAS, target spacing (linear), normalisation.
 *
 * @param volume - Image on its own grid (HU for CT).
 * @param spec - The model's preprocessing.
 * @param labels - Optional label volume on the same grid, resampled with nearest neighbour.
 * @returns The network input and its grid, and the resampled label when given.
 */
export function prepareForNetwork(
  volume: Volume,
  spec: PreprocessingSpec,
  labels?: Volume,
): PreparedVolume & { label?: Volume } {
  if (!volume.data.some((v) => Number.isFinite(v))) {
    throw new InputFileError(
      volume.meta.sourceFile ?? 'volume',
      'holds no finite voxel value (all NaN or infinite), so there is nothing to segment. ' +
        'Check how the file was exported.',
    );
  }
  const seen = guessModality(volume);
  if (seen !== undefined && seen !== spec.modality) {
    const source = volume.meta.sourceFile ?? 'the input';
    log.warn(
      `${source} looks like ${seen === 'ct' ? 'CT' : 'MRI'} but the model was trained on ` +
        `${spec.modality === 'ct' ? 'CT' : 'MRI'}; expect a poor segmentation.`,
    );
  }
  const ras = resampleToSpacing(reorientToRas(volume), spec.spacingMm, { mode: 'linear' });
  const normalised =
    spec.modality === 'ct'
      ? normalizeCt(ras, { windowHu: spec.windowHu })
      : normalizeMri(ras, { percentiles: spec.percentiles });
  const [nx, ny, nz] = normalised.shape;
  const label = labels
    ? resampleToSpacing(reorientToRas(labels), spec.spacingMm, { mode: 'nearest' })
    : undefined;
  return {
    image: normalised.data as Float32Array,
    shape: [nz, ny, nx],
    grid: normalised,
    label,
  };
}
