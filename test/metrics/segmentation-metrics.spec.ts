import assert from 'node:assert/strict';

import type { Mat4, Vec3, Volume } from '../../src/io/volume.js';
import {
  assertSameGrid,
  evaluateMasks,
  labelMask,
} from '../../src/metrics/segmentation-metrics.js';
import { InputFileError, ShapeError } from '../../src/util/errors.js';

function volume(file: string, shape: Vec3, affine: Mat4): Volume {
  return {
    data: new Uint8Array(shape[0] * shape[1] * shape[2]),
    shape,
    spacingMm: [1, 1, 2.5],
    affine,
    meta: { datatype: 'uint8', sourceFile: file },
  };
}

const AFFINE: Mat4 = [
  [1, 0, 0, -12],
  [0, 1, 0, -10],
  [0, 0, 2.5, -12.5],
  [0, 0, 0, 1],
];

describe('labelMask', () => {
  it('selects label 7 only from a TotalSegmentator-style map, or every non-zero voxel', () => {
    const labels = new Uint8Array([0, 1, 7, 7, 3, 0, 7]);
    assert.deepEqual([...labelMask(labels, 7)], [0, 0, 1, 1, 0, 0, 1]);
    assert.deepEqual([...labelMask(labels)], [0, 1, 1, 1, 1, 0, 1]);
  });
});

describe('evaluateMasks', () => {
  it('reports Dice 0.5, HD95 2.5 mm and volumes 0.005 mL for two 2-voxel masks', () => {
    // Two voxels each on a 1 x 1 x 2.5 mm grid, sharing one voxel; the other two are one
    // slice apart (2.5 mm) from the shared voxel and from each other: all distances 0 or 2.5.
    const shape: Vec3 = [3, 3, 4];
    const pred = new Uint8Array(36);
    const ref = new Uint8Array(36);
    const at = (i: number, j: number, k: number): number => i + 3 * (j + 3 * k);
    pred[at(1, 1, 1)] = 1;
    pred[at(1, 1, 2)] = 1;
    ref[at(1, 1, 1)] = 1;
    ref[at(1, 1, 0)] = 1;
    const m = evaluateMasks(pred, ref, shape, [1, 1, 2.5]);
    assert.equal(m.dice, 0.5);
    assert.deepEqual(m.counts, { tp: 1, fp: 1, fn: 1, tn: 33 });
    // Directed sets {0, 2.5} both ways: 95th percentile = 0 + 0.95 * 2.5.
    assert.ok(Math.abs(m.hd95Mm - 2.375) < 1e-12);
    assert.equal(m.asdMm, 1.25);
    assert.equal(m.predVolumeMl, 0.005);
    assert.equal(m.refVolumeMl, 0.005);
  });

  it('throws ShapeError when the masks do not fit the shape', () => {
    assert.throws(
      () => evaluateMasks(new Uint8Array(8), new Uint8Array(9), [2, 2, 2], [1, 1, 1]),
      ShapeError,
    );
  });
});

describe('assertSameGrid', () => {
  it('accepts affines that differ by 5e-4 mm', () => {
    const moved = AFFINE.map((row) => [...row]) as Mat4;
    moved[0][3] += 5e-4;
    assertSameGrid(volume('p.nii', [4, 4, 4], moved), volume('r.nii', [4, 4, 4], AFFINE));
  });

  it('rejects a 0.5 mm shift, naming both files, the difference and the fix', () => {
    const moved = AFFINE.map((row) => [...row]) as Mat4;
    moved[1][3] += 0.5;
    assert.throws(
      () => assertSameGrid(volume('p.nii', [4, 4, 4], moved), volume('r.nii', [4, 4, 4], AFFINE)),
      (error: unknown) =>
        error instanceof InputFileError &&
        error.message.startsWith('p.nii: affine differs from reference r.nii by up to 0.5000 mm') &&
        /resample it there with nearest-neighbour/.test(error.message),
    );
  });

  it('rejects shapes [4, 4, 4] vs [4, 4, 5]', () => {
    assert.throws(
      () => assertSameGrid(volume('p.nii', [4, 4, 4], AFFINE), volume('r.nii', [4, 4, 5], AFFINE)),
      /p\.nii: shape \[4, 4, 4\] differs from reference r\.nii shape \[4, 4, 5\]/,
    );
  });
});
