import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readTrainingRows, show } from '../../src/display/show.js';
import { readVolume } from '../../src/io/read-volume.js';
import { InputFileError } from '../../src/util/errors.js';
import { sharedData } from '../helpers/data.js';

const VOLUME_MIME = 'application/vnd.panknet.volume+json';
const TRAINING_MIME = 'application/vnd.panknet.training+json';

describe('show (src/display/show.ts) outside a kernel', function () {
  let dir: string;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'panknet-show-'));
  });

  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('show.volume returns the bundle (payload, PNG, text), not displayed', async function () {
    const ct = await readVolume(sharedData('ct-abdomen-3mm-30slices.nii.gz'));

    const handle = show.volume(ct, { window: 'pancreas' });

    assert.equal(handle.displayed, false);
    assert.equal(handle.kind, 'volume');
    assert.match(handle.displayId, /^[0-9a-f]{16}$/);
    const bundle = handle.bundle as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(bundle).sort(), ['image/png', 'text/plain', VOLUME_MIME].sort());
    const payload = bundle[VOLUME_MIME] as { grid: { shape: number[] }; window: { name: string } };
    assert.deepEqual(payload.grid.shape, [122, 101, 30]);
    assert.equal(payload.window.name, 'pancreas');
  });

  it('show.update rebuilds the bundle of the same handle and returns nothing', function () {
    const rows = [1, 2].map((epoch) => ({
      epoch,
      loss: 3 - epoch,
      lr: 1e-3,
      dice_map1: 0.1,
      dice_map2: 0.2,
      dice_map3: 0.3,
      dice_map4: 0.4,
      dice_fused: 0.5,
    }));
    const handle = show.training(rows.slice(0, 1), { title: 'run' });
    const id = handle.displayId;

    const returned: unknown = show.update(handle, rows);

    assert.equal(returned, undefined);
    assert.equal(handle.displayId, id);
    const bundle = handle.bundle as unknown as Record<string, { epoch: number[] }>;
    const payload = bundle[TRAINING_MIME];
    assert.deepEqual(payload.epoch, [1, 2]);
  });

  it('reads training rows from a run folder with metrics.csv (empty cells absent)', function () {
    const run = mkdtempSync(join(dir, 'run-'));
    const header = 'epoch,loss,lr,dice_map1,dice_map2,dice_map3,dice_map4,dice_fused,val_dice';
    const lines = [header, '1,2.5,0.001,0.1,0.2,0.3,0.4,0.5,'];
    lines.push('2,2,0.001,0.2,0.3,0.4,0.5,0.6,0.55');
    writeFileSync(join(run, 'metrics.csv'), `${lines.join('\n')}\n`);

    const rows = readTrainingRows(run);

    assert.equal(rows.length, 2);
    assert.equal(rows[0].loss, 2.5);
    assert.equal(rows[0].val_dice, undefined);
    assert.equal(rows[1].val_dice, 0.55);
  });

  it('names the folder and the files it looked for when a run folder has no log', function () {
    const empty = mkdtempSync(join(dir, 'empty-'));
    assert.throws(
      () => show.training(empty),
      (error: unknown) =>
        error instanceof InputFileError &&
        error.file === empty &&
        /metrics\.jsonl, metrics\.csv, metrics\.json/.test(error.message),
    );
  });

  it('names the file when a metrics.jsonl is not JSON', function () {
    const file = join(dir, 'broken.jsonl');
    writeFileSync(file, '{"epoch": 1, "loss": 1}\n{"epoch": 2, "loss":\n');
    assert.throws(() => readTrainingRows(file), /broken\.jsonl: not valid JSON/);
  });
});
