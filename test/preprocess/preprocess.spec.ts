import assert from 'node:assert/strict';

import { voxelToWorld } from '../../src/io/affine.js';
import { readNifti } from '../../src/io/read-nifti.js';
import type { Mat4, Volume, VoxelArray } from '../../src/io/volume.js';
import { labelsToMask } from '../../src/preprocess/labels-to-mask.js';
import { normalizeCt, normalizeMri } from '../../src/preprocess/normalize-intensity.js';
import { reorientToRas } from '../../src/preprocess/reorient-to-ras.js';
import { resampleToReference, resampleToSpacing } from '../../src/preprocess/resample.js';
import { sharedData } from '../helpers/data.js';

function vol(data: VoxelArray, shape: [number, number, number], affine: Mat4): Volume {
  const spacingMm = [0, 1, 2].map((c) => Math.hypot(affine[0][c], affine[1][c], affine[2][c]));
  return {
    data,
    shape,
    spacingMm: spacingMm as Volume['spacingMm'],
    affine,
    meta: { datatype: 'int16' },
  };
}

const at = (v: Volume, i: number, j: number, k: number): number =>
  v.data[i + v.shape[0] * (j + v.shape[1] * k)];

describe('reorientToRas', function () {
  it('flips i and j of a 3 x 2 x 2 LPS grid: same value at every world position', function () {
    const affine: Mat4 = [
      [-2, 0, 0, 10],
      [0, -3, 0, 20],
      [0, 0, 4, 30],
      [0, 0, 0, 1],
    ];
    const v = vol(
      Int16Array.from({ length: 12 }, (_, n) => n),
      [3, 2, 2],
      affine,
    );
    const r = reorientToRas(v);
    assert.ok(r.data instanceof Int16Array);
    assert.deepEqual(r.shape, [3, 2, 2]);
    // Hand-derived: new (i, j, k) = old (2 - i, 1 - j, k); origin moves to old voxel (2, 1, 0).
    assert.deepEqual(r.affine, [
      [2, 0, 0, 6],
      [0, 3, 0, 17],
      [0, 0, 4, 30],
      [0, 0, 0, 1],
    ]);
    assert.deepEqual(Array.from(r.data), [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6]);
  });

  it('permutes a P-S-L stack (2 x 3 x 4) into R-A-S order (4 x 2 x 3)', function () {
    const affine: Mat4 = [
      [0, 0, -1, 0],
      [-1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 0, 1],
    ];
    const v = vol(
      Int16Array.from({ length: 24 }, (_, n) => n),
      [2, 3, 4],
      affine,
    );
    const r = reorientToRas(v);
    assert.deepEqual(r.shape, [4, 2, 3]);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 2; j++) {
        for (let k = 0; k < 3; k++) {
          // Old voxel (1 - j, k, 3 - i) sits at the same world point.
          assert.equal(at(r, i, j, k), at(v, 1 - j, k, 3 - i));
          assert.deepEqual(
            voxelToWorld(r.affine, [i, j, k]),
            voxelToWorld(affine, [1 - j, k, 3 - i]),
          );
        }
      }
    }
  });
});

describe('resampleToSpacing', function () {
  const affine: Mat4 = [
    [2, 0, 0, -5],
    [0, 2, 0, 0],
    [0, 0, 3, 1],
    [0, 0, 0, 1],
  ];

  it('linear: ramp x + 2y - z, 4 x 3 x 3 at 2 x 2 x 3 mm -> 7 x 5 x 7 at 1 mm, exact', function () {
    const v = vol(new Float32Array(36), [4, 3, 3], affine);
    const f = (p: number[]): number => p[0] + 2 * p[1] - p[2];
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < 4; i++)
          v.data[i + 4 * (j + 3 * k)] = f(voxelToWorld(affine, [i, j, k]));
      }
    }
    const r = resampleToSpacing(v, [1, 1, 1]);
    // (n - 1) * old / new + 1 voxels: 3 * 2 + 1, 2 * 2 + 1, 2 * 3 + 1; same origin.
    assert.deepEqual(r.shape, [7, 5, 7]);
    assert.deepEqual(r.affine, [
      [1, 0, 0, -5],
      [0, 1, 0, 0],
      [0, 0, 1, 1],
      [0, 0, 0, 1],
    ]);
    assert.ok(r.data instanceof Float32Array);
    for (let k = 0; k < 7; k++) {
      for (let j = 0; j < 5; j++) {
        for (let i = 0; i < 7; i++) {
          const want = f(voxelToWorld(r.affine, [i, j, k]));
          assert.ok(Math.abs(at(r, i, j, k) - want) < 1e-4, `(${i}, ${j}, ${k})`);
        }
      }
    }
  });

  it('nearest keeps Uint8 labels {0, 2, 4} and the world position of each label', function () {
    const labels = Uint8Array.from({ length: 36 }, (_, n) => [0, 2, 4][n % 3]);
    const v = vol(labels, [4, 3, 3], affine);
    const r = resampleToSpacing(v, [1, 1, 1], { mode: 'nearest' });
    assert.ok(r.data instanceof Uint8Array);
    assert.deepEqual([...new Set(r.data)].sort(), [0, 2, 4]);
    // Output voxel (2, 0, 0) is at x = -3 mm, the centre of input voxel (1, 0, 0) -> label 2.
    assert.equal(at(r, 2, 0, 0), at(v, 1, 0, 0));
    assert.equal(at(r, 4, 2, 3), at(v, 2, 1, 1));
    assert.throws(() => resampleToSpacing(v, [1, 0, 1]), /three positive sizes/);
  });
});

describe('resampleToReference', function () {
  it('puts a 2 mm mask back onto the 3 mm input grid: shape and affine exact', async function () {
    const input = await readNifti(sharedData('ct-abdomen-3mm-30slices.labels.nii.gz'));
    // Simulate the predict path: RAS, 2 mm, pick pancreas (7), then back onto the input grid.
    const ras = reorientToRas(input);
    const coarse = resampleToSpacing(ras, [2, 2, 2], { mode: 'nearest' });
    const mask = labelsToMask(coarse, 7);
    const back = resampleToReference(mask, input, 'nearest');
    assert.deepEqual(back.shape, input.shape);
    assert.deepEqual(back.affine, input.affine);
    assert.ok(back.data instanceof Uint8Array);
    const truth = labelsToMask(input, 7);
    let both = 0;
    let sum = 0;
    for (let n = 0; n < truth.data.length; n++) {
      both += truth.data[n] & back.data[n];
      sum += truth.data[n] + back.data[n];
    }
    // 644 pancreas voxels at 3 mm; a 2 mm nearest round trip keeps most of them (Dice > 0.9).
    assert.equal(
      truth.data.reduce((s: number, x: number) => s + x, 0),
      644,
    );
    assert.ok((2 * both) / sum > 0.9, `Dice ${(2 * both) / sum}`);
  });

  it('fills reference voxels more than half a voxel outside the source with 0', function () {
    const src = vol(
      Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1]),
      [2, 2, 2],
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    );
    const ref = vol(
      new Uint8Array(64),
      [4, 4, 4],
      [
        [1, 0, 0, -1],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    );
    const out = resampleToReference(src, ref, 'nearest');
    // x = -1 and x = 2 lie a whole voxel outside [0, 1]; x = 0 and 1 are inside.
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => at(out, i, 0, 0)),
      [0, 1, 1, 0],
    );
    assert.equal(at(out, 1, 2, 0), 0);
  });
});

describe('normalizeCt and normalizeMri', function () {
  const id: Mat4 = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];

  it('normalizeCt clips to [-100, 240] HU and maps the window onto [0, 1]', function () {
    const v = vol(Int16Array.from([-1000, -100, 70, 240, 3000, 0, 40, 240]), [2, 2, 2], id);
    const r = normalizeCt(v);
    assert.ok(r.data instanceof Float32Array);
    // z-score then min-max equals (clip(v) - low) / (high - low) when both ends occur.
    const want = [0, 0, 0.5, 1, 1, 100 / 340, 140 / 340, 1];
    want.forEach((w, n) => assert.ok(Math.abs(r.data[n] - w) < 1e-6, `voxel ${n}`));
    assert.throws(() => normalizeCt(v, { windowHu: [10, 10] }), /low < high/);
  });

  it('normalizeMri clips to the 0.5 / 99.5 percentiles (numpy linear) before scaling', function () {
    const data = Float32Array.from({ length: 201 }, (_, n) => n);
    data[200] = 100000;
    const r = normalizeMri(vol(data, [201, 1, 1], id));
    // numpy.percentile of 0..199 plus 1e5 at 0.5 and 99.5 gives 1 and 199.
    assert.ok(Math.abs(r.data[199] - 1) < 1e-6);
    assert.ok(Math.abs(r.data[200] - 1) < 1e-6, 'the outlier is clipped');
    assert.ok(Math.abs(r.data[0] - 0) < 1e-6);
    assert.ok(Math.abs(r.data[100] - (100 - 1) / (199 - 1)) < 1e-5);
  });
});

describe('labelsToMask', function () {
  it('picks pancreas (7) out of the 30-slice label map: 644 voxels, uint8', async function () {
    const labels = await readNifti(sharedData('ct-abdomen-3mm-30slices.labels.nii.gz'));
    const mask = labelsToMask(labels, 7);
    assert.ok(mask.data instanceof Uint8Array);
    assert.equal(mask.meta.datatype, 'uint8');
    assert.equal(
      mask.data.reduce((s: number, x: number) => s + x, 0),
      644,
    );
    const two = labelsToMask(labels, [7, 7]);
    assert.deepEqual(two.data, mask.data);
    assert.throws(() => labelsToMask(labels, []), /finite label values/);
  });
});
