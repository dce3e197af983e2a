import assert from 'node:assert/strict';

import {
  affineToQuaternion,
  axcodes,
  invert4,
  multiply4,
  quaternionToAffine,
  rasTransform,
  spacingFromAffine,
  voxelToWorld,
  worldGrid,
  worldToVoxel,
} from '../../src/io/affine.js';
import type { Mat4 } from '../../src/io/volume.js';

const LPS: Mat4 = [
  [-0.8, 0, 0, 12.4],
  [0, -0.8, 0, 40],
  [0, 0, 2.5, -20],
  [0, 0, 0, 1],
];

describe('affine helpers', function () {
  it('axcodes: LPS, RAS and a permuted PSL grid, as nibabel aff2axcodes', function () {
    assert.deepEqual(axcodes(LPS), ['L', 'P', 'S']);
    assert.deepEqual(
      axcodes([
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]),
      ['R', 'A', 'S'],
    );
    // i runs toward -y (P), j toward +z (S), k toward -x (L): a sagittal stack.
    const psl: Mat4 = [
      [0, 0, -2, 0],
      [-1, 0, 0, 0],
      [0, 1.5, 0, 0],
      [0, 0, 0, 1],
    ];
    assert.deepEqual(axcodes(psl), ['P', 'S', 'L']);
    // Oblique by 20 degrees about z: still closest to R, A, S.
    const a = (20 * Math.PI) / 180;
    const oblique: Mat4 = [
      [Math.cos(a), -Math.sin(a), 0, 0],
      [Math.sin(a), Math.cos(a), 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
    assert.deepEqual(axcodes(oblique), ['R', 'A', 'S']);
  });

  it('spacing, voxel <-> world and inversion on the LPS grid', function () {
    assert.deepEqual(spacingFromAffine(LPS), [0.8, 0.8, 2.5]);
    assert.deepEqual(voxelToWorld(LPS, [31, 31, 11]), [12.4 - 24.8, 40 - 24.8, 7.5]);
    const ijk = worldToVoxel(LPS, [6, 32, -5]);
    [8, 10, 6].forEach((x, n) => assert.ok(Math.abs(ijk[n] - x) < 1e-9));
    const id = multiply4(LPS, invert4(LPS));
    id.forEach((row, r) =>
      row.forEach((x, c) => assert.ok(Math.abs(x - (r === c ? 1 : 0)) < 1e-12)),
    );
    assert.throws(
      () =>
        invert4([
          [1, 0, 0, 0],
          [0, 0, 0, 0],
          [0, 0, 1, 0],
          [0, 0, 0, 1],
        ]),
      /singular/,
    );
  });

  it('quaternion <-> affine: 90 degrees about z with qfac -1, both ways', function () {
    // b, c, d = (0, 0, sin 45deg): R = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]; qfac -1 flips k.
    const s = Math.SQRT1_2;
    const m = quaternionToAffine({
      b: 0,
      c: 0,
      d: s,
      qfac: -1,
      pixdimMm: [2, 3, 4],
      offsetMm: [1, 2, 3],
    });
    const want = [
      [0, -3, 0, 1],
      [2, 0, 0, 2],
      [0, 0, -4, 3],
      [0, 0, 0, 1],
    ];
    want.forEach((row, r) => row.forEach((x, c) => assert.ok(Math.abs(m[r][c] - x) < 1e-12)));
    const q = affineToQuaternion(m);
    assert.equal(q.qfac, -1);
    [q.b, q.c, q.d].forEach((x, n) => assert.ok(Math.abs(x - [0, 0, s][n]) < 1e-12));
    assert.deepEqual(q.pixdimMm, [2, 3, 4]);
    assert.deepEqual(q.offsetMm, [1, 2, 3]);
  });

  it('rasTransform: LPS 32 x 32 x 12 flips i and j; new affine RAS, same voxels', function () {
    const t = rasTransform(LPS, [32, 32, 12]);
    assert.deepEqual(t.sourceAxis, [0, 1, 2]);
    assert.deepEqual(t.flip, [true, true, false]);
    const ras = multiply4(LPS, t.newToOld);
    assert.deepEqual(ras, [
      [0.8, 0, 0, 12.4 - 31 * 0.8],
      [0, 0.8, 0, 40 - 31 * 0.8],
      [0, 0, 2.5, -20],
      [0, 0, 0, 1],
    ]);
  });

  it('worldGrid: shape, spacing and bbox along R, A, S; undefined when oblique', function () {
    const g = worldGrid(LPS, [32, 32, 12]);
    assert.ok(g);
    assert.deepEqual(g.shape, [32, 32, 12]);
    assert.deepEqual(g.spacingMm, [0.8, 0.8, 2.5]);
    [
      [-12.4, 12.4],
      [15.2, 40],
      [-20, 7.5],
    ].forEach((b, w) => b.forEach((x, n) => assert.ok(Math.abs(g.bboxMm[w][n] - x) < 1e-9)));
    const a = 0.2;
    const oblique: Mat4 = [
      [Math.cos(a), -Math.sin(a), 0, 0],
      [Math.sin(a), Math.cos(a), 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
    assert.equal(worldGrid(oblique, [2, 2, 2]), undefined);
  });
});
