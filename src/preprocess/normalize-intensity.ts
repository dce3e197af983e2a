/**
 * Intensity normalisation for the network input (`../shared/DESIGN.md`, training recipe:
 * z-score, then scale to [0, 1]). Pure typed-array code.
 */

import type { Volume } from '../io/volume.js';
import { ShapeError } from '../util/errors.js';

/** Options of `normalizeCt`. */
export interface NormalizeCtOptions {
  /** HU window `[low, high]` to clip to first (default `[-100, 240]`, soft-tissue window). */
  windowHu?: [number, number];
}

/** Options of `normalizeMri`. */
export interface NormalizeMriOptions {
  /** Percentiles `[low, high]` in [0, 100] to clip to first (default `[0.5, 99.5]`). */
  percentiles?: [number, number];
}

/** Default HU window of `normalizeCt`. */
export const DEFAULT_WINDOW_HU: [number, number] = [-100, 240];

/**
 * Percentile of values with numpy's default (linear) interpolation.
 *
 * @param sorted - Values sorted ascending (non-empty).
 * @param q - Percentile in [0, 100].
 */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Clips to [low, high], z-scores, then maps min..max to [0, 1] (all zeros when constant). */
function clipZscoreUnit(volume: Volume, low: number, high: number): Volume {
  const n = volume.data.length;
  const out = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = volume.data[i];
    const c = Number.isNaN(v) ? low : v < low ? low : v > high ? high : v;
    out[i] = c;
    sum += c;
  }
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (out[i] - mean) ** 2;
  const std = Math.sqrt(sq / n);

  // z-score (population std, as numpy and MONAI NormalizeIntensity), then min-max to [0, 1].
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const z = std > 0 ? (out[i] - mean) / std : 0;
    out[i] = z;
    if (z < min) min = z;
    if (z > max) max = z;
  }
  const range = max - min;
  for (let i = 0; i < n; i++) out[i] = range > 0 ? (out[i] - min) / range : 0;
  return {
    data: out,
    shape: [...volume.shape],
    spacingMm: [...volume.spacingMm],
    affine: volume.affine.map((row) => [...row]) as Volume['affine'],
    meta: { ...volume.meta, warnings: [...(volume.meta.warnings ?? [])] },
  };
}

/**
 * Normalises a CT for the network: clip to an HU window, z-score, scale to [0, 1].
 *
 * @param volume - CT in Hounsfield units (any typed array; NaN counts as the window's low end).
 * @param options - `windowHu` (default `[-100, 240]`).
 * @returns Float32Array volume in [0, 1] on the same grid (all 0 for a constant input).
 * @throws ShapeError when the window is not `[low, high]` with low < high, or the volume is empty.
 */
export function normalizeCt(volume: Volume, options: NormalizeCtOptions = {}): Volume {
  const [low, high] = options.windowHu ?? DEFAULT_WINDOW_HU;
  if (!(Number.isFinite(low) && Number.isFinite(high) && low < high)) {
    throw new ShapeError(
      'normalizeCt(options.windowHu): expected [low, high] with low < high, ' +
        `got [${low}, ${high}].`,
    );
  }
  if (volume.data.length === 0) throw new ShapeError('normalizeCt(volume): the volume is empty.');
  return clipZscoreUnit(volume, low, high);
}

/**
 * Normalises an MRI for the network: clip to intensity percentiles, z-score, scale to [0, 1].
 *
 * @param volume - MRI in scanner units.
 * @param options - `percentiles` (default `[0.5, 99.5]`, numpy linear interpolation).
 * @returns Float32Array volume in [0, 1] on the same grid.
 * @throws ShapeError when the percentiles are not `[low, high]` in [0, 100] with low < high.
 */
export function normalizeMri(volume: Volume, options: NormalizeMriOptions = {}): Volume {
  const [pLow, pHigh] = options.percentiles ?? [0.5, 99.5];
  if (!(pLow >= 0 && pHigh <= 100 && pLow < pHigh)) {
    throw new ShapeError(
      'normalizeMri(options.percentiles): expected 0 <= low < high <= 100, ' +
        `got [${pLow}, ${pHigh}].`,
    );
  }
  if (volume.data.length === 0) throw new ShapeError('normalizeMri(volume): the volume is empty.');
  const finite = Float64Array.from(volume.data)
    .filter((v) => Number.isFinite(v))
    .sort();
  if (finite.length === 0) throw new ShapeError('normalizeMri(volume): no finite voxel values.');
  return clipZscoreUnit(volume, percentileSorted(finite, pLow), percentileSorted(finite, pHigh));
}
