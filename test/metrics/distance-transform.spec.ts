import assert from 'node:assert/strict';

import type { Vec3 } from '../../src/io/volume.js';
import { squaredDistanceTransform } from '../../src/metrics/distance-transform.js';
import { ShapeError } from '../../src/util/errors.js';
import { randomMask, seededRandom } from './reference.js';

describe('squaredDistanceTransform', () => {
  it('gives (2.5 mm * 3)^2 = 56.25 along k from a single voxel on a 1 x 1 x 2.5 mm grid', () => {
    const shape: Vec3 = [3, 3, 5];
    const feature = new Uint8Array(45);
    feature[1 + 3 * (1 + 3 * 0)] = 1;
    const d2 = squaredDistanceTransform(feature, shape, [1, 1, 2.5]);
    assert.equal(d2[1 + 3 * (1 + 3 * 0)], 0);
    assert.equal(d2[1 + 3 * (1 + 3 * 3)], 56.25);
    // Corner (0, 0, 4): 1 + 1 + (4 * 2.5)^2.
    assert.equal(d2[0 + 3 * (0 + 3 * 4)], 102);
  });

  it('is Infinity everywhere for a 4 x 3 x 2 mask without features', () => {
    const d2 = squaredDistanceTransform(new Uint8Array(24), [4, 3, 2], [1, 1, 1]);
    assert.ok(d2.every((v) => v === Infinity));
  });

  it('equals the brute-force minimum over all features on 20 random 9 x 7 x 6 masks', () => {
    const random = seededRandom(7);
    for (let trial = 0; trial < 20; trial++) {
      const shape: Vec3 = [9, 7, 6];
      const spacing: Vec3 = [0.5 + random() * 2, 0.5 + random() * 2, 0.5 + random() * 4];
      const feature = randomMask(shape, random, 1 + (trial % 3), 0.3);
      const d2 = squaredDistanceTransform(feature, shape, spacing);
      for (let k = 0; k < 6; k++) {
        for (let j = 0; j < 7; j++) {
          for (let i = 0; i < 9; i++) {
            let best = Infinity;
            for (let at = 0; at < feature.length; at++) {
              if (!feature[at]) continue;
              const fi = at % 9;
              const fj = Math.floor(at / 9) % 7;
              const fk = Math.floor(at / 63);
              const d =
                ((i - fi) * spacing[0]) ** 2 +
                ((j - fj) * spacing[1]) ** 2 +
                ((k - fk) * spacing[2]) ** 2;
              best = Math.min(best, d);
            }
            const got = d2[i + 9 * (j + 7 * k)];
            if (best === Infinity) assert.equal(got, Infinity);
            else assert.ok(Math.abs(got - best) < 1e-9, `trial ${trial} (${i},${j},${k})`);
          }
        }
      }
    }
  });

  it('throws ShapeError when the mask length does not match the shape [4, 4, 4]', () => {
    assert.throws(
      () => squaredDistanceTransform(new Uint8Array(10), [4, 4, 4], [1, 1, 1]),
      (error: unknown) => error instanceof ShapeError && /10 voxels.*needs 64/.test(error.message),
    );
  });

  it('transforms a 512 x 512 x 60 slab with one feature voxel in a few seconds', function () {
    this.timeout(60000);
    const shape: Vec3 = [512, 512, 60];
    const feature = new Uint8Array(512 * 512 * 60);
    feature[0] = 1;
    const d2 = squaredDistanceTransform(feature, shape, [0.7, 0.7, 2.5]);
    const last = d2.length - 1;
    assert.ok(Math.abs(d2[last] - ((511 * 0.7) ** 2 * 2 + (59 * 2.5) ** 2)) < 1e-6);
  });
});
