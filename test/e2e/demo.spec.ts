import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { readNifti } from '../../src/io/read-nifti.js';
import { PROJECT_ROOT } from '../helpers/data.js';

describe('npm run demo (scripts/demo.js on the shipped example CT and demo model)', function () {
  this.timeout(300_000);
  const out = join(PROJECT_ROOT, 'out', 'demo');

  it('writes mask, decoder maps, preview and viewer, and prints a Dice', async () => {
    rmSync(out, { recursive: true, force: true });
    const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'demo.js')], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /model: the demo model/);
    assert.match(run.stdout, /^pancreas\s+\d\.\d{4}\s+\d\.\d{4}/m);
    for (const file of ['pancreas.nii.gz', 'preview.png', 'view.html']) {
      assert.ok(existsSync(join(out, file)), file);
    }
    assert.deepEqual(readdirSync(join(out, 'decoders')).sort(), [
      'decoder1.nii.gz',
      'decoder2.nii.gz',
      'decoder3.nii.gz',
      'decoder4.nii.gz',
    ]);
    const ct = await readNifti(join(PROJECT_ROOT, 'examples', 'ct-abdomen-3mm.nii.gz'));
    const mask = await readNifti(join(out, 'pancreas.nii.gz'));
    assert.deepEqual(mask.shape, ct.shape);
    assert.deepEqual(mask.affine, ct.affine);
  });
});
