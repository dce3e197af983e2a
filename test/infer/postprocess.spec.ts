import assert from 'node:assert/strict';

import type { Vec3 } from '../../src/io/volume.js';
import { fillHoles, keepLargestComponent, labelComponents } from '../../src/infer/postprocess.js';

function boxMask(shape: Vec3, boxes: [Vec3, Vec3][]): Uint8Array {
  const [nx, ny] = shape;
  const mask = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (const [lo, hi] of boxes) {
    for (let z = lo[2]; z <= hi[2]; z++) {
      for (let y = lo[1]; y <= hi[1]; y++) {
        for (let x = lo[0]; x <= hi[0]; x++) mask[x + nx * (y + ny * z)] = 1;
      }
    }
  }
  return mask;
}

const count = (mask: Uint8Array): number => mask.reduce((a, b) => a + b, 0);

describe('keepLargestComponent', () => {
  it('keeps a 3x3x3 box (27 voxels) and drops a 2x2x2 box (8 voxels) apart from it', () => {
    const shape: Vec3 = [12, 10, 8];
    const mask = boxMask(shape, [
      [
        [1, 1, 1],
        [3, 3, 3],
      ],
      [
        [8, 6, 5],
        [9, 7, 6],
      ],
    ]);
    keepLargestComponent(mask, shape);
    assert.equal(count(mask), 27);
    assert.equal(mask[2 + 12 * (2 + 10 * 2)], 1);
    assert.equal(mask[8 + 12 * (6 + 10 * 5)], 0);
  });

  it('treats boxes touching only at a corner as one 26-connected component', () => {
    const shape: Vec3 = [6, 6, 6];
    const mask = boxMask(shape, [
      [
        [0, 0, 0],
        [1, 1, 1],
      ],
      [
        [2, 2, 2],
        [2, 2, 2],
      ],
    ]);
    keepLargestComponent(mask, shape);
    assert.equal(count(mask), 9);
  });
});

describe('fillHoles', () => {
  it('fills the 1-voxel cavity of a hollow 5x5x5 cube but not a notch open to the border', () => {
    const shape: Vec3 = [9, 9, 9];
    const mask = boxMask(shape, [
      [
        [2, 2, 2],
        [6, 6, 6],
      ],
    ]);
    mask[4 + 9 * (4 + 9 * 4)] = 0;
    const border = boxMask(shape, [
      [
        [0, 0, 0],
        [8, 8, 0],
      ],
    ]);
    border[4 + 9 * 4] = 0;
    const both = mask.map((v, i) => v | border[i]!);
    fillHoles(both, shape);
    assert.equal(both[4 + 9 * (4 + 9 * 4)], 1);
    assert.equal(both[4 + 9 * 4], 0);
  });
});

describe('labelComponents', () => {
  it('counts 2 six-connected components for boxes that share only an edge', () => {
    const shape: Vec3 = [4, 4, 1];
    const mask = boxMask(shape, [
      [
        [0, 0, 0],
        [0, 0, 0],
      ],
      [
        [1, 1, 0],
        [1, 1, 0],
      ],
    ]);
    assert.equal(labelComponents(shape, (i) => mask[i] === 1, 6).sizes.length - 1, 2);
    assert.equal(labelComponents(shape, (i) => mask[i] === 1, 26).sizes.length - 1, 1);
  });
});
