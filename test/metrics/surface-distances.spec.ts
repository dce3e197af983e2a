import assert from 'node:assert/strict';

import type { Vec3 } from '../../src/io/volume.js';
import {
  quantileLinear,
  surfaceDistances,
  surfaceMask,
} from '../../src/metrics/surface-distances.js';
import { bruteAsd, bruteHd95, bruteSurface, randomMask, seededRandom } from './reference.js';

function box(shape: Vec3, lo: Vec3, hi: Vec3): Uint8Array {
  const mask = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let k = lo[2]; k <= hi[2]; k++) {
    for (let j = lo[1]; j <= hi[1]; j++) {
      for (let i = lo[0]; i <= hi[0]; i++) mask[i + shape[0] * (j + shape[1] * k)] = 1;
    }
  }
  return mask;
}

describe('surfaceMask', () => {
  it('keeps 56 of the 64 voxels of a 4 x 4 x 4 cube (the 2 x 2 x 2 core is interior)', () => {
    const shape: Vec3 = [8, 8, 8];
    const surface = surfaceMask(box(shape, [2, 2, 2], [5, 5, 5]), shape);
    assert.equal(
      surface.reduce((s, v) => s + v, 0),
      56,
    );
    assert.equal(surface[3 + 8 * (3 + 8 * 3)], 0);
  });

  it('counts voxels on the volume border as surface (outside is background)', () => {
    const shape: Vec3 = [3, 3, 3];
    const surface = surfaceMask(new Uint8Array(27).fill(1), shape);
    assert.equal(
      surface.reduce((s, v) => s + v, 0),
      26,
    );
  });
});

describe('quantileLinear', () => {
  it('matches numpy.percentile([1, 2, 3, 4, 10], 95) = 8.8', () => {
    assert.ok(Math.abs(quantileLinear([1, 2, 3, 4, 10], 0.95) - 8.8) < 1e-12);
    assert.equal(quantileLinear([5], 0.95), 5);
  });
});

describe('surfaceDistances', () => {
  it('gives 7.5 mm between two voxels 3 slices apart on a 1 x 1 x 2.5 mm grid', () => {
    const shape: Vec3 = [5, 5, 6];
    const pred = box(shape, [2, 2, 1], [2, 2, 1]);
    const ref = box(shape, [2, 2, 4], [2, 2, 4]);
    const result = surfaceDistances(pred, ref, shape, [1, 1, 2.5]);
    assert.equal(result.hd95Mm, 7.5);
    assert.equal(result.asdMm, 7.5);
    assert.equal(result.hausdorffMm, 7.5);
  });

  it('gives 0 for two empty masks and Infinity when exactly one is empty', () => {
    const shape: Vec3 = [4, 4, 4];
    const empty = new Uint8Array(64);
    const one = box(shape, [1, 1, 1], [2, 2, 2]);
    assert.equal(surfaceDistances(empty, empty, shape, [1, 1, 1]).hd95Mm, 0);
    assert.equal(surfaceDistances(one, empty, shape, [1, 1, 1]).hd95Mm, Infinity);
    assert.equal(surfaceDistances(empty, one, shape, [1, 1, 1]).asdMm, Infinity);
  });

  it('gives 2 mm for a 6 x 6 x 6 cube shifted by one voxel along i with 2 mm spacing', () => {
    // Every surface voxel is 0 or 1 voxel (2 mm) along i from the other surface; the face
    // x = 2 of the prediction alone holds 36 of its 152 surface voxels at 2 mm, more than 5 %.
    const shape: Vec3 = [12, 10, 10];
    const pred = box(shape, [2, 2, 2], [7, 7, 7]);
    const ref = box(shape, [3, 2, 2], [8, 7, 7]);
    const result = surfaceDistances(pred, ref, shape, [2, 1, 1]);
    assert.equal(result.hd95Mm, 2);
    assert.equal(result.hausdorffMm, 2);
  });

  it('matches a brute-force HD95 and ASD on 40 random 10 x 8 x 7 mask pairs', () => {
    const random = seededRandom(2021);
    for (let trial = 0; trial < 40; trial++) {
      const shape: Vec3 = [10, 8, 7];
      const spacing: Vec3 = [0.6 + random(), 0.6 + random(), 1 + random() * 4];
      const pred = randomMask(shape, random, 1 + (trial % 4));
      const ref = randomMask(shape, random, 1 + ((trial + 1) % 4));
      const got = surfaceDistances(pred, ref, shape, spacing);
      const hd95 = bruteHd95(pred, ref, shape, spacing);
      const asd = bruteAsd(pred, ref, shape, spacing);
      assert.ok(Math.abs(got.hd95Mm - hd95) < 1e-9, `trial ${trial}: ${got.hd95Mm} vs ${hd95}`);
      assert.ok(Math.abs(got.asdMm - asd) < 1e-9, `trial ${trial}: ${got.asdMm} vs ${asd}`);
      assert.equal(got.surfaceVoxels.pred, bruteSurface(pred, shape).length);
    }
  });

  it('handles a 512 x 512 x 300 scan with two pancreas-sized masks in seconds', function () {
    this.timeout(60000);
    const shape: Vec3 = [512, 512, 300];
    const pred = box(shape, [200, 250, 100], [280, 300, 150]);
    const ref = box(shape, [203, 250, 100], [280, 300, 152]);
    const started = Date.now();
    const result = surfaceDistances(pred, ref, shape, [0.8, 0.8, 1]);
    const elapsedMs = Date.now() - started;
    // Shifted faces: 3 voxels * 0.8 mm along i, 2 slices * 1 mm along k; above 5 % of surface.
    assert.ok(Math.abs(result.hd95Mm - 2.4) < 1e-9, `hd95 ${result.hd95Mm}`);
    assert.ok(elapsedMs < 20000, `took ${elapsedMs} ms`);
  });
});
