import assert from 'node:assert/strict';

import type { Triple } from '../../src/model/architecture.js';
import {
  augmentInPlace,
  foregroundIndices,
  samplePatch,
  type TrainingCase,
} from '../../src/train/patches.js';
import { RandomStream } from '../../src/util/random.js';

function makeCase(shape: Triple, box: [Triple, Triple]): TrainingCase {
  const [d, h, w] = shape;
  const image = new Float32Array(d * h * w);
  const label = new Uint8Array(d * h * w);
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (z * h + y) * w + x;
        image[i] = (i % 1000) / 1000;
        const inside = [z, y, x].every((v, a) => v >= box[0][a]! && v <= box[1][a]!);
        label[i] = inside ? 1 : 0;
      }
    }
  }
  return { id: 'synthetic', image, label, shape, foreground: foregroundIndices(label) };
}

describe('samplePatch', () => {
  it('centres about 80% of 8 x 16 x 16 patches on a small pancreas box', () => {
    const source = makeCase(
      [40, 80, 80],
      [
        [18, 38, 38],
        [21, 41, 41],
      ],
    );
    const rng = new RandomStream(3);
    let withForeground = 0;
    for (let n = 0; n < 400; n++) {
      const { label } = samplePatch(source, [8, 16, 16], rng, { augment: false });
      if (label.some((v) => v === 1)) withForeground++;
    }
    // Random centres hit the box only rarely, so the share is close to the 0.8 asked for.
    assert.ok(withForeground / 400 > 0.74 && withForeground / 400 < 0.9, `${withForeground}`);
  });

  it('copies image and label voxels unchanged when augmentation is off', () => {
    const source = makeCase(
      [10, 20, 20],
      [
        [4, 8, 8],
        [5, 9, 9],
      ],
    );
    const { image, label } = samplePatch(source, [4, 8, 8], new RandomStream(5), {
      augment: false,
      foregroundRatio: 1,
    });
    assert.ok(label.some((v) => v === 1));
    const values = new Set(source.image);
    assert.ok(image.every((v) => values.has(v)));
  });

  it('pads a 4 x 6 x 6 case up to an 8 x 16 x 16 patch with zeros and keeps all 8 labels', () => {
    const source = makeCase(
      [4, 6, 6],
      [
        [1, 1, 1],
        [2, 2, 2],
      ],
    );
    const { image, label } = samplePatch(source, [8, 16, 16], new RandomStream(9));
    assert.equal(image.length, 8 * 16 * 16);
    assert.equal(
      label.reduce((a, b) => a + b, 0),
      8,
    );
  });
});

describe('augmentInPlace', () => {
  it('maps (y, x) = (0, 1) of a 1 x 3 x 3 block to (1, 2) on a quarter turn', () => {
    const block = new Float32Array(9);
    block[1] = 5;
    augmentInPlace(block, [1, 3, 3], false, 1);
    assert.equal(block[1 * 3 + 2], 5);
    assert.equal(
      block.reduce((a, b) => a + b, 0),
      5,
    );
  });

  it('returns to the start after four quarter turns and after two flips', () => {
    const start = Float32Array.from({ length: 2 * 4 * 4 }, (_, i) => i);
    const block = start.slice();
    for (let i = 0; i < 4; i++) augmentInPlace(block, [2, 4, 4], false, 1);
    assert.deepEqual(block, start);
    augmentInPlace(block, [2, 4, 4], true, 0);
    assert.notDeepEqual(block, start);
    assert.equal(block[0], start[3]);
    augmentInPlace(block, [2, 4, 4], true, 0);
    assert.deepEqual(block, start);
  });
});
