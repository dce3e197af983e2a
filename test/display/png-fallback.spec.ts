import assert from 'node:assert/strict';

import { PNG } from 'pngjs';

import { buildDecodersPayload } from '../../src/display/decoders-payload.js';
import { decodersPng, trainingPng, volumePng } from '../../src/display/png-fallback.js';
import { buildTrainingPayload } from '../../src/display/training-payload.js';
import { buildVolumePayload } from '../../src/display/volume-payload.js';
import { readNifti } from '../../src/io/read-nifti.js';
import type { Mat4, Vec3, Volume } from '../../src/io/volume.js';
import { sharedData } from '../helpers/data.js';

const RAS_1MM: Mat4 = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];

/** A 40 x 30 x 20 volume at 1 mm, RAS, 40 HU everywhere. */
function flatVolume(): Volume {
  return {
    data: new Int16Array(40 * 30 * 20).fill(40),
    shape: [40, 30, 20],
    spacingMm: [1, 1, 1],
    affine: RAS_1MM,
    meta: { datatype: 'int16', modality: 'CT' },
  };
}

/** Mask cube i 5..9, j 10..14, k 3..6 on the 40 x 30 x 20 grid. */
function cubeMask(): Uint8Array {
  const mask = new Uint8Array(40 * 30 * 20);
  for (let k = 3; k <= 6; k++) {
    for (let j = 10; j <= 14; j++) for (let i = 5; i <= 9; i++) mask[i + 40 * (j + 30 * k)] = 1;
  }
  return mask;
}

function isRed(png: PNG, x: number, y: number): boolean {
  const o = (y * png.width + x) * 4;
  return png.data[o] - png.data[o + 1] > 60 && png.data[o] - png.data[o + 2] > 60;
}

function redBox(png: PNG, x0: number, x1: number): [number, number, number, number] | undefined {
  let box: [number, number, number, number] | undefined;
  for (let y = 0; y < png.height; y++) {
    for (let x = x0; x < x1; x++) {
      if (!isRed(png, x, y)) continue;
      box = box
        ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)]
        : [x, y, x, y];
    }
  }
  return box;
}

describe('volumePng', () => {
  it('draws the 40 x 30 x 20 mm volume as three panels scaled by 3.2 with the mask in red', () => {
    const payload = buildVolumePayload(flatVolume(), { mask: cubeMask() });
    const png = PNG.sync.read(volumePng(payload));
    // 40 mm extent drawn on 128 pixels: 3.2 px per mm. Axial 128 x 96, coronal 128 x 64,
    // sagittal 96 x 64, 4-pixel gaps.
    assert.equal(png.width, 128 + 4 + 128 + 4 + 96);
    assert.equal(png.height, 96);

    // Axial (radiological): column = 39 - i, row = 29 - j. Mask i 5..9 -> columns 30..34 ->
    // x 96..111; j 10..14 -> rows 15..19 -> y 48..63.
    assert.deepEqual(redBox(png, 0, 128), [96, 48, 111, 63]);
    // Coronal: column = 39 - i, row = 19 - k. k 3..6 -> rows 13..16 -> y 41.6..54.4.
    assert.deepEqual(redBox(png, 132, 260), [132 + 96, 42, 132 + 111, 54]);
    // Soft-tissue grey of 40 HU: round(200 / 400 * 255) = 128 outside the mask.
    assert.deepEqual([...png.data.subarray(0, 3)], [128, 128, 128]);
  });

  it('shows no red without a mask and red exactly on the pancreas of the real CT', async () => {
    const ct = await readNifti(sharedData('ct-abdomen-3mm.nii.gz'));
    const mask = await readNifti(sharedData('ct-abdomen-3mm.pancreas.nii.gz'));
    const plain = PNG.sync.read(volumePng(buildVolumePayload(ct)));
    const masked = PNG.sync.read(volumePng(buildVolumePayload(ct, { mask })));
    assert.equal(plain.width, masked.width);
    let redPlain = 0;
    for (let y = 0; y < plain.height; y++) {
      for (let x = 0; x < plain.width; x++) if (isRed(plain, x, y)) redPlain++;
    }
    assert.equal(redPlain, 0);

    // Axial slice through the centre of the mask's bounding box along k.
    const [nx, ny, nz] = ct.shape;
    let kLow = nz;
    let kHigh = -1;
    mask.data.forEach((v, n) => {
      if (v === 0) return;
      const k = Math.floor(n / (nx * ny));
      kLow = Math.min(kLow, k);
      kHigh = Math.max(kHigh, k);
    });
    const k = Math.round((kLow + kHigh) / 2);
    // Axial panel: 366 mm on 128 px; column from the right (i = 121 - col), row j = 100 - row.
    const mmPerPixel = 366 / 128;
    let red = 0;
    for (let y = 0; y < 106; y++) {
      for (let x = 0; x < 128; x++) {
        const i = nx - 1 - Math.min(nx - 1, Math.floor((x * mmPerPixel) / 3));
        const j = ny - 1 - Math.min(ny - 1, Math.floor((y * mmPerPixel) / 3));
        const inMask = mask.data[i + nx * (j + ny * k)] > 0;
        assert.equal(isRed(masked, x, y), inMask, `axial pixel ${x}, ${y}`);
        if (inMask) red++;
      }
    }
    assert.ok(red > 10, `${red} red pixels on the axial panel`);
  });
});

describe('decodersPng', () => {
  it('draws five 16 x 12 mm axial panels and puts the fused blob where the maps are high', () => {
    const shape: Vec3 = [16, 12, 6];
    const count = 16 * 12 * 6;
    const fused = new Float32Array(count);
    for (let j = 4; j < 8; j++) for (let i = 2; i < 6; i++) fused[i + 16 * (j + 12 * 3)] = 1;
    const zero = new Float32Array(count);
    const payload = buildDecodersPayload({ maps: [zero, zero, zero, fused], fused, shape });
    const png = PNG.sync.read(decodersPng(payload));
    // Longest extent 16 mm on 256 px: 16 px per mm; panels 256 x 192 with 4-px gaps.
    assert.equal(png.width, 5 * 256 + 4 * 4);
    assert.equal(png.height, 192);
    const at = (x: number, y: number): number[] => {
      const o = (y * png.width + x) * 4;
      return [...png.data.subarray(o, o + 3)];
    };
    // Voxel i = 3, j = 5 -> column 12, row 6 -> pixel (200, 104) in each panel.
    assert.deepEqual(at(4 * 260 + 200, 104), [255, 250, 120]);
    assert.deepEqual(at(3 * 260 + 200, 104), [255, 250, 120]);
    assert.deepEqual(at(0 * 260 + 200, 104), [10, 10, 60]);
    assert.deepEqual(at(4 * 260 + 10, 10), [10, 10, 60]);
  });
});

describe('trainingPng', () => {
  it('draws a 640 x 280 chart with the fused Dice in #d62728 rising in the right panel', () => {
    const rows = [1, 2, 3, 4].map((epoch) => ({
      epoch,
      loss: 5 - epoch,
      lr: 1e-3,
      dice_map1: 0.1 * epoch,
      dice_map2: 0.1 * epoch,
      dice_map3: 0.1 * epoch,
      dice_map4: 0.1 * epoch,
      dice_fused: 0.2 * epoch,
    }));
    const png = PNG.sync.read(trainingPng(buildTrainingPayload(rows)));
    assert.equal(png.width, 640);
    assert.equal(png.height, 280);
    const fusedRows: number[] = [];
    for (let y = 0; y < png.height; y++) {
      for (let x = 350; x < 640; x++) {
        const o = (y * png.width + x) * 4;
        if (png.data[o] === 0xd6 && png.data[o + 1] === 0x27 && png.data[o + 2] === 0x28) {
          fusedRows.push(y);
        }
      }
    }
    assert.ok(fusedRows.length > 50);
    // Dice 0.2 at the first epoch and 0.8 at the last, on a 250-px axis from y = 10.
    assert.ok(Math.max(...fusedRows) <= 10 + Math.round(0.8 * 249) + 1);
    assert.ok(Math.min(...fusedRows) >= 10 + Math.round(0.2 * 249) - 1);
  });
});
