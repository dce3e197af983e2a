import assert from 'node:assert/strict';

import { axisCodesOf, extractSlice, planeGeometry } from '../../src/display/planes.js';
import type { Mat4 } from '../../src/io/volume.js';

describe('axisCodesOf', () => {
  it('reads RAS, LPS and a permuted grid like nibabel aff2axcodes', () => {
    const ras: Mat4 = [
      [3, 0, 0, 0],
      [0, 3, 0, 0],
      [0, 0, 3, 0],
      [0, 0, 0, 1],
    ];
    const lps: Mat4 = [
      [-0.7, 0, 0, 0],
      [0, -0.7, 0, 0],
      [0, 0, 2.5, 0],
      [0, 0, 0, 1],
    ];
    // i runs inferior, j runs right, k runs posterior (a sagittal-like acquisition).
    const permuted: Mat4 = [
      [0, 1, 0, 0],
      [0, 0, -1, 0],
      [-1, 0, 0, 0],
      [0, 0, 0, 1],
    ];
    assert.deepEqual(axisCodesOf(ras), ['R', 'A', 'S']);
    assert.deepEqual(axisCodesOf(lps), ['L', 'P', 'S']);
    assert.deepEqual(axisCodesOf(permuted), ['I', 'R', 'P']);
  });
});

describe('planeGeometry and extractSlice', () => {
  it('shows an LPS axial slice with the right on the left and anterior on top', () => {
    // 3 x 2 x 1 grid, LPS: i runs to the left, j to posterior; value = 10 * j + i.
    const data = Uint8Array.from([0, 1, 2, 10, 11, 12]);
    const g = planeGeometry('axial', [3, 2, 1], [1, 1, 1], ['L', 'P', 'S']);
    assert.deepEqual([g.width, g.height, g.flipCol, g.flipRow], [3, 2, false, false]);
    const slice = (geometry: typeof g): number[] => [
      ...extractSlice(data, [3, 2, 1], geometry, 0, new Uint8Array(6)),
    ];
    assert.deepEqual(slice(g), [0, 1, 2, 10, 11, 12]);
    const ras = planeGeometry('axial', [3, 2, 1], [1, 1, 1], ['R', 'A', 'S']);
    assert.deepEqual(slice(ras), [12, 11, 10, 2, 1, 0]);
  });

  it('puts superior on top of a coronal slice of a 2 x 1 x 3 RAS grid', () => {
    const data = Uint8Array.from([0, 1, 10, 11, 20, 21]); // value = 10 * k + i
    const g = planeGeometry('coronal', [2, 1, 3], [0.8, 0.8, 5], ['R', 'A', 'S']);
    assert.deepEqual([g.width, g.height, g.pixelWidthMm, g.pixelHeightMm], [2, 3, 0.8, 5]);
    const slice = [...extractSlice(data, [2, 1, 3], g, 0, new Uint8Array(6))];
    assert.deepEqual(slice, [21, 20, 11, 10, 1, 0]);
  });
});
