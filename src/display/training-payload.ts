/**
 * Builds the training-curves payload (`application/vnd.panknet.training+json`) from the rows the
 * training loop logs: one column per series, non-finite numbers as `null` (JSON has no NaN).
 */
import { ShapeError } from '../util/errors.js';
import type { TrainingPayload, TrainingRow } from './payload-types.js';

function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * Builds the training-curves payload.
 *
 * @param rows - Metrics rows `{epoch, loss, lr, dice_map1..4, dice_fused, val_dice?}`, Dice in
 *   [0, 1]; rows are kept in the order given.
 * @param title - Title above the curves.
 * @returns Column arrays, all of length `rows.length`.
 * @throws ShapeError when a row has no finite `epoch`.
 */
export function buildTrainingPayload(
  rows: readonly TrainingRow[],
  title = 'PankNet training',
): TrainingPayload {
  rows.forEach((row, index) => {
    if (finiteOrNull(row.epoch) === null) {
      throw new ShapeError(
        `buildTrainingPayload: rows[${index}].epoch is ${String(row.epoch)}; ` +
          'every row needs a finite epoch number.',
      );
    }
  });

  const column = (pick: (row: TrainingRow) => unknown): (number | null)[] =>
    rows.map((row) => finiteOrNull(pick(row)));
  return {
    kind: 'panknet.training',
    version: 1,
    title,
    epoch: rows.map((row) => row.epoch),
    loss: column((row) => row.loss),
    lr: column((row) => row.lr),
    dice: {
      map1: column((row) => row.dice_map1),
      map2: column((row) => row.dice_map2),
      map3: column((row) => row.dice_map3),
      map4: column((row) => row.dice_map4),
      fused: column((row) => row.dice_fused),
    },
    valDice: column((row) => row.val_dice),
  };
}
