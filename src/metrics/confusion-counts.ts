import { ShapeError } from '../util/errors.js';

/** Voxel counts of a binary prediction against a binary reference. */
export interface ConfusionCounts {
  /** Voxels that are foreground in both (true positives). */
  tp: number;
  /** Voxels that are foreground in the prediction only (false positives). */
  fp: number;
  /** Voxels that are foreground in the reference only (false negatives). */
  fn: number;
  /** Voxels that are background in both (true negatives). */
  tn: number;
}

/**
 * Counts true/false positives and negatives of two masks of the same grid. This is the one count
 * behind every overlap metric of the library (Dice, Jaccard, precision, recall).
 *
 * @param pred - Prediction, any typed array or array, length `nx * ny * nz`; non-zero =
 *   foreground.
 * @param ref - Reference of the same length; non-zero = foreground.
 * @returns The four counts, in voxels; they add up to the array length.
 * @throws ShapeError if the two lengths differ.
 */
export function countConfusion(pred: ArrayLike<number>, ref: ArrayLike<number>): ConfusionCounts {
  if (pred.length !== ref.length) {
    throw new ShapeError(
      `countConfusion(pred, ref): pred has ${pred.length} voxels, ref has ${ref.length}; ` +
        'pass masks of the same grid.',
    );
  }

  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] !== 0;
    const g = ref[i] !== 0;
    if (p) {
      if (g) tp++;
      else fp++;
    } else if (g) fn++;
  }
  return { tp, fp, fn, tn: pred.length - tp - fp - fn };
}
