import assert from 'node:assert/strict';

import { countConfusion } from '../../src/metrics/confusion-counts.js';
import { maskVolumeMl } from '../../src/metrics/mask-volume.js';
import { overlapMetrics } from '../../src/metrics/overlap-metrics.js';
import { ShapeError } from '../../src/util/errors.js';

describe('countConfusion', () => {
  it('counts tp 2, fp 1, fn 2, tn 5 on 10 voxels, any non-zero value being foreground', () => {
    const pred = new Float32Array([1, 1, 0.5, 0, 0, 0, 0, 0, 0, 0]);
    const ref = new Int16Array([7, -3, 0, 1, 2, 0, 0, 0, 0, 0]);
    assert.deepEqual(countConfusion(pred, ref), { tp: 2, fp: 1, fn: 2, tn: 5 });
  });

  it('throws ShapeError naming both lengths when they differ (3 vs 4)', () => {
    assert.throws(
      () => countConfusion([0, 1, 0], [0, 1, 0, 0]),
      (error: unknown) => error instanceof ShapeError && /3 voxels, ref has 4/.test(error.message),
    );
  });
});

describe('overlapMetrics', () => {
  it('gives Dice 4/7, Jaccard 0.4, precision 2/3, recall 0.5 for tp 2, fp 1, fn 2, tn 5', () => {
    const m = overlapMetrics({ tp: 2, fp: 1, fn: 2, tn: 5 });
    assert.ok(Math.abs(m.dice - 4 / 7) < 1e-12);
    assert.ok(Math.abs(m.jaccard - 0.4) < 1e-12);
    assert.ok(Math.abs(m.precision - 2 / 3) < 1e-12);
    assert.ok(Math.abs(m.recall - 0.5) < 1e-12);
    // Background: 2 * 5 / (2 * 5 + 1 + 2) = 10 / 13.
    assert.ok(Math.abs(m.diceBackground - 10 / 13) < 1e-12);
    assert.ok(Math.abs(m.diceMeanWithBackground - (4 / 7 + 10 / 13) / 2) < 1e-12);
  });

  it('gives 1 for everything when both masks are empty', () => {
    const m = overlapMetrics({ tp: 0, fp: 0, fn: 0, tn: 100 });
    assert.deepEqual([m.dice, m.jaccard, m.precision, m.recall, m.diceBackground], [1, 1, 1, 1, 1]);
  });

  it('gives Dice 0, precision 0, recall 0 for an empty prediction of a non-empty reference', () => {
    const m = overlapMetrics({ tp: 0, fp: 0, fn: 5, tn: 95 });
    assert.deepEqual([m.dice, m.precision, m.recall], [0, 0, 0]);
    assert.ok(Math.abs(m.diceBackground - 190 / 195) < 1e-12);
  });

  it('reads pancreas Dice 0.773 as about 0.886 once background is averaged in', () => {
    // A 512 x 512 x 200 scan: a pancreas of 80,000 voxels, 61,840 of them found, 18,160 extra.
    const tp = 61840;
    const fn = 80000 - tp;
    const fp = 18160;
    const m = overlapMetrics({ tp, fp, fn, tn: 512 * 512 * 200 - tp - fp - fn });
    assert.ok(Math.abs(m.dice - (2 * tp) / (2 * tp + fp + fn)) < 1e-12);
    assert.ok(m.dice > 0.77 && m.dice < 0.78);
    assert.ok(m.diceMeanWithBackground > 0.88 && m.diceMeanWithBackground < 0.89);
  });
});

describe('maskVolumeMl', () => {
  it('gives 818 voxels * 27 mm^3 = 22.086 mL on a 3 mm grid', () => {
    const mask = new Float64Array(2000);
    mask.fill(1, 0, 818);
    assert.ok(Math.abs(maskVolumeMl(mask, [3, 3, 3]) - 22.086) < 1e-9);
  });
});
