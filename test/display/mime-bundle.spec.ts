import assert from 'node:assert/strict';

import { PNG } from 'pngjs';

import { buildDecodersPayload } from '../../src/display/decoders-payload.js';
import { mimeBundle } from '../../src/display/mime-bundle.js';
import { DECODERS_MIME, TRAINING_MIME, VOLUME_MIME } from '../../src/display/mime-types.js';
import { buildTrainingPayload } from '../../src/display/training-payload.js';
import { buildVolumePayload, fromBase64 } from '../../src/display/volume-payload.js';
import { readNifti } from '../../src/io/read-nifti.js';
import { ShapeError } from '../../src/util/errors.js';
import { sharedData } from '../helpers/data.js';

describe('mimeBundle', () => {
  it('bundles the real CT payload, a 370 x 118 PNG and a summary with 22.1 mL', async () => {
    const ct = await readNifti(sharedData('ct-abdomen-3mm.nii.gz'));
    const mask = await readNifti(sharedData('ct-abdomen-3mm.pancreas.nii.gz'));
    const payload = buildVolumePayload(ct, { mask });
    const bundle = mimeBundle(payload);
    assert.deepEqual(Object.keys(bundle).sort(), ['image/png', 'text/plain', VOLUME_MIME].sort());
    assert.equal((bundle as Record<string, unknown>)[VOLUME_MIME], payload);
    const png = PNG.sync.read(Buffer.from(bundle['image/png'], 'base64'));
    // 366 mm on 128 px: axial 128 x 106, coronal 128 x 118, sagittal 106 x 118, two 4-px gaps.
    assert.deepEqual([png.width, png.height], [128 + 128 + 106 + 8, 118]);
    assert.match(bundle['text/plain'], /122 x 101 x 112 voxels, 3\.00 x 3\.00 x 3\.00 mm/);
    assert.match(bundle['text/plain'], /mask: 818 voxels, 22\.1 mL, labels 1/);
  });

  it('bundles decoders and training payloads under their MIME types', () => {
    const shape: [number, number, number] = [4, 3, 2];
    const p = new Float32Array(24).fill(0.25);
    p[5] = 0.9;
    const decoders = mimeBundle(buildDecodersPayload({ maps: [p, p, p, p], fused: p, shape }));
    assert.ok(DECODERS_MIME in decoders);
    assert.match(decoders['text/plain'], /fused: 1 voxels with p >= 0.5, max p 0\.90/);
    const rows = [
      {
        epoch: 1,
        loss: 4,
        lr: 1e-3,
        dice_map1: 0.1,
        dice_map2: 0.2,
        dice_map3: 0.3,
        dice_map4: 0.4,
        dice_fused: 0.5,
        val_dice: null,
      },
      {
        epoch: 5,
        loss: 3,
        lr: 5e-4,
        dice_map1: 0.2,
        dice_map2: 0.3,
        dice_map3: 0.4,
        dice_map4: 0.5,
        dice_fused: 0.6,
        val_dice: 0.55,
      },
    ];
    const training = mimeBundle(buildTrainingPayload(rows));
    assert.ok(TRAINING_MIME in training);
    assert.match(training['text/plain'], /2 epochs, last epoch 5/);
    assert.match(training['text/plain'], /validation Dice: last 0\.5500, best 0\.5500/);
  });
});

describe('buildDecodersPayload', () => {
  it('stores probabilities as round(p * 255), clipped, NaN as 0', () => {
    const shape: [number, number, number] = [2, 2, 1];
    const p = Float32Array.from([0, 0.5, 1.2, Number.NaN]);
    const payload = buildDecodersPayload({ maps: [p, p, p, p], fused: p, shape });
    assert.deepEqual([...fromBase64(payload.maps[4])], [0, 128, 255, 0]);
    assert.deepEqual(payload.grid.axisCodes, ['R', 'A', 'S']);
  });

  it('rejects a map of the wrong length naming it', () => {
    const p = new Float32Array(24);
    assert.throws(
      () => buildDecodersPayload({ maps: [p, p, p.subarray(1), p], fused: p, shape: [4, 3, 2] }),
      (error: unknown) =>
        error instanceof ShapeError && /maps\[2\] has 23 voxels/.test(error.message),
    );
  });
});

describe('buildTrainingPayload', () => {
  it('turns rows into columns with NaN and missing values as null', () => {
    const payload = buildTrainingPayload([
      {
        epoch: 1,
        loss: Number.NaN,
        lr: 1e-3,
        dice_map1: 0.1,
        dice_map2: 0.2,
        dice_map3: 0.3,
        dice_map4: 0.4,
        dice_fused: 0.5,
      },
      {
        epoch: 2,
        loss: 2.5,
        lr: 1e-3,
        dice_map1: 0.2,
        dice_map2: 0.3,
        dice_map3: 0.4,
        dice_map4: 0.5,
        dice_fused: 0.6,
        val_dice: 0.45,
      },
    ]);
    assert.deepEqual(payload.epoch, [1, 2]);
    assert.deepEqual(payload.loss, [null, 2.5]);
    assert.deepEqual(payload.dice.map3, [0.3, 0.4]);
    assert.deepEqual(payload.valDice, [null, 0.45]);
    assert.equal(JSON.parse(JSON.stringify(payload)).loss[0], null);
  });

  it('rejects a row without a finite epoch', () => {
    assert.throws(
      () =>
        buildTrainingPayload([
          {
            epoch: Number.NaN,
            loss: 1,
            lr: 1,
            dice_map1: 0,
            dice_map2: 0,
            dice_map3: 0,
            dice_map4: 0,
            dice_fused: 0,
          },
        ]),
      (error: unknown) =>
        error instanceof ShapeError && /rows\[0\]\.epoch is NaN/.test(error.message),
    );
  });
});
