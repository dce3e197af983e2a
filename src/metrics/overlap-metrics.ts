import type { ConfusionCounts } from './confusion-counts.js';

/** Overlap scores of one binary segmentation, each in [0, 1]. */
export interface OverlapMetrics {
  /** Foreground Dice `2TP / (2TP + FP + FN)`; 1 when both masks are empty. */
  dice: number;
  /** Background Dice `2TN / (2TN + FP + FN)`; 1 when both backgrounds are empty. */
  diceBackground: number;
  /**
   * Mean of background and foreground Dice. The paper's "about 88%" is this number
   * (`../shared/DESIGN.md`, "Reported accuracy"); report `dice` first and this one beside it.
   */
  diceMeanWithBackground: number;
  /** Jaccard index (IoU) `TP / (TP + FP + FN)`; 1 when both masks are empty. */
  jaccard: number;
  /**
   * Precision `TP / (TP + FP)`. With an empty prediction: 1 if the reference is empty too,
   * else 0.
   */
  precision: number;
  /**
   * Recall (sensitivity) `TP / (TP + FN)`. With an empty reference: 1 if the prediction is
   * empty too, else 0.
   */
  recall: number;
}

function ratio(numerator: number, denominator: number, whenEmpty: number): number {
  return denominator === 0 ? whenEmpty : numerator / denominator;
}

/**
 * Computes Dice (foreground, background, and their mean), Jaccard, precision and recall from
 * one confusion count.
 *
 * @param counts - Voxel counts from `countConfusion`.
 * @returns The scores in [0, 1]; empty-mask conventions are stated on each field.
 */
export function overlapMetrics(counts: ConfusionCounts): OverlapMetrics {
  const { tp, fp, fn, tn } = counts;
  const dice = ratio(2 * tp, 2 * tp + fp + fn, 1);
  const diceBackground = ratio(2 * tn, 2 * tn + fp + fn, 1);
  return {
    dice,
    diceBackground,
    diceMeanWithBackground: (dice + diceBackground) / 2,
    jaccard: ratio(tp, tp + fp + fn, 1),
    precision: ratio(tp, tp + fp, fn === 0 ? 1 : 0),
    recall: ratio(tp, tp + fn, fp === 0 ? 1 : 0),
  };
}
