import assert from 'node:assert/strict';

import { buildVolumePayload, fromBase64 } from '../../src/display/volume-payload.js';
import { WINDOW_PRESETS } from '../../src/display/window.js';
import { readNifti } from '../../src/io/read-nifti.js';
import type { Volume } from '../../src/io/volume.js';
import { ShapeError, UnsupportedError } from '../../src/util/errors.js';
import { sharedData } from '../helpers/data.js';

function int16s(base64: string): Int16Array {
  const bytes = fromBase64(base64);
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
}

describe('buildVolumePayload', () => {
  let ct: Volume;
  let mask: Volume;

  before(async () => {
    ct = await readNifti(sharedData('ct-abdomen-3mm.nii.gz'));
    mask = await readNifti(sharedData('ct-abdomen-3mm.pancreas.nii.gz'));
  });

  it('keeps the 122 x 101 x 112 CT at full size, windowed W400/L40, with exact int16 HU', () => {
    const payload = buildVolumePayload(ct, { mask });
    assert.deepEqual(payload.grid.shape, [122, 101, 112]);
    assert.deepEqual(payload.grid.downsample, [1, 1, 1]);
    assert.deepEqual(payload.grid.axisCodes, ['R', 'A', 'S']);
    assert.deepEqual(payload.window, WINDOW_PRESETS.abdomen);
    const voxels = fromBase64(payload.voxels);
    assert.equal(voxels.length, 122 * 101 * 112);
    // Independent window arithmetic: -160 HU -> 0, 240 HU -> 255, linear between.
    for (let n = 0; n < voxels.length; n += 997) {
      const hu = ct.data[n];
      const expected = hu <= -160 ? 0 : hu >= 240 ? 255 : Math.round(((hu + 160) / 400) * 255);
      assert.equal(voxels[n], expected, `voxel ${n} (${hu} HU)`);
    }
    const raw = int16s(payload.raw?.data ?? '');
    assert.equal(payload.raw?.slope, 1);
    assert.equal(payload.raw?.intercept, 0);
    assert.deepEqual(Array.from(raw), Array.from(ct.data));
    assert.equal(payload.unit, 'HU');
    assert.deepEqual(
      payload.presets.map((p) => p.name),
      ['abdomen', 'pancreas', 'bone'],
    );
  });

  it('carries the 818-voxel pancreas mask (22.086 mL at 27 mm3 per voxel)', () => {
    const payload = buildVolumePayload(ct, { mask });
    assert.ok(payload.mask);
    assert.equal(payload.mask.sourceVoxelCount, 818);
    assert.ok(Math.abs(payload.mask.volumeMl - 22.086) < 1e-9);
    assert.deepEqual(payload.mask.labels, [1]);
    const bytes = fromBase64(payload.mask.data);
    let ones = 0;
    bytes.forEach((b, n) => {
      assert.equal(b, mask.data[n] > 0 ? 1 : 0);
      ones += b;
    });
    assert.equal(ones, 818);
  });

  it('block-averages under a 200 000-voxel cap: factors 2 x 2 x 2, grid 61 x 51 x 56', () => {
    const payload = buildVolumePayload(ct, { mask, maxVoxels: 200_000 });
    const { grid } = payload;
    assert.deepEqual(grid.downsample, [2, 2, 2]);
    assert.deepEqual(grid.shape, [61, 51, 56]);
    assert.deepEqual(grid.sourceShape, [122, 101, 112]);
    assert.deepEqual(grid.spacingMm, [6, 6, 6]);
    // The first output voxel is the centre of the 2 x 2 x 2 block: origin + 1.5 mm per axis.
    for (let a = 0; a < 3; a++) {
      assert.ok(Math.abs(grid.affine[a][3] - (ct.affine[a][3] + 1.5)) < 1e-9);
      assert.equal(grid.affine[a][a], 6);
    }
    assert.ok(fromBase64(payload.voxels).length <= 200_000);

    // Raw values are block means of the source (checked at a few blocks by hand-made sums).
    const raw = int16s(payload.raw?.data ?? '');
    const [nx, ny] = ct.shape;
    for (const [bi, bj, bk] of [
      [0, 0, 0],
      [30, 25, 28],
      [60, 50, 55],
    ]) {
      let sum = 0;
      let count = 0;
      for (let k = 2 * bk; k < Math.min(112, 2 * bk + 2); k++) {
        for (let j = 2 * bj; j < Math.min(101, 2 * bj + 2); j++) {
          for (let i = 2 * bi; i < Math.min(122, 2 * bi + 2); i++) {
            sum += ct.data[i + nx * (j + ny * k)];
            count++;
          }
        }
      }
      assert.equal(raw[bi + 61 * (bj + 51 * bk)], Math.round(sum / count));
    }

    // Every source mask voxel survives in its block; every marked block holds a mask voxel.
    const small = fromBase64(payload.mask?.data ?? '');
    const hit = new Uint8Array(small.length);
    for (let n = 0; n < mask.data.length; n++) {
      if (mask.data[n] === 0) continue;
      const i = n % nx;
      const j = Math.floor(n / nx) % ny;
      const k = Math.floor(n / nx / ny);
      const o = (i >> 1) + 61 * ((j >> 1) + 51 * (k >> 1));
      assert.equal(small[o], 1);
      hit[o] = 1;
    }
    assert.deepEqual(Array.from(small), Array.from(hit));
    assert.equal(payload.mask?.sourceVoxelCount, 818);
  });

  it('omits raw values above maxRawVoxels and stays under the stated size', () => {
    const payload = buildVolumePayload(ct, { maxRawVoxels: 1000 });
    assert.equal(payload.raw, undefined);
    assert.ok(JSON.stringify(payload).length < (4 * 122 * 101 * 112) / 3 + 10_000);
  });

  it('applies a named preset and keeps a hostile series description as plain data', () => {
    const hostile = '<img src=x onerror="alert(1)">';
    const volume: Volume = { ...ct, meta: { ...ct.meta, seriesDescription: hostile } };
    const payload = buildVolumePayload(volume, { window: 'bone' });
    assert.equal(payload.seriesDescription, hostile);
    assert.equal(payload.title, hostile);
    assert.deepEqual(payload.window, WINDOW_PRESETS.bone);
    const voxels = fromBase64(payload.voxels);
    const n = ct.data.findIndex((v) => v > 400 && v < 1000);
    assert.equal(voxels[n], Math.round(((ct.data[n] - (400 - 900)) / 1800) * 255));
  });

  it('rejects a mask of another shape and unknown presets with clear errors', () => {
    const wrong: Volume = { ...mask, shape: [122, 101, 111], data: mask.data.subarray(0, 10) };
    assert.throws(
      () => buildVolumePayload(ct, { mask: wrong }),
      (error: unknown) =>
        error instanceof ShapeError && /mask shape 122 x 101 x 111 differs/.test(error.message),
    );
    assert.throws(
      () => buildVolumePayload(ct, { window: 'lung' as 'bone' }),
      (error: unknown) => error instanceof UnsupportedError && /"lung"/.test(error.message),
    );
  });
});
