import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { readNifti } from '../../src/io/read-nifti.js';
import type { Volume } from '../../src/io/volume.js';
import { writeNifti } from '../../src/io/write-nifti.js';
import { runCli } from '../helpers/cli.js';
import { sharedCase, sharedData } from '../helpers/data.js';
import { tempDirPerSuite } from '../helpers/temp-dir.js';

interface CaseJson {
  id: string;
  dice: number;
  dice_background: number;
  dice_mean_with_background: number;
  hd95_mm: number | null;
  asd_mm: number | null;
  pred_volume_ml: number;
  ref_volume_ml: number;
}

interface ReportJson {
  cases: CaseJson[];
  mean: Record<string, number | null>;
  notes: string[];
  unpaired: { pred: string[]; ref: string[] };
}

function near(actual: number | null, expected: number, tolerance: number, what: string): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tolerance, `${what}: ${actual}`);
}

/** A copy of `volume` with other voxels; same grid. */
function withData(volume: Volume, data: Uint8Array): Volume {
  return { ...volume, data, meta: { datatype: 'uint8' } };
}

describe('panknet evaluate', () => {
  const e02 = (name: string): string => sharedCase(`e02_multilabel_reference/${name}`);
  const reference = e02('reference_labels.nii.gz');
  const work = tempDirPerSuite('panknet-evaluate-');

  it('scores e02 against reference label 7 as expected.json says (--json)', async () => {
    const expected = JSON.parse(await readFile(sharedCase('expected.json'), 'utf8')) as {
      cases: Record<string, { checks: Array<{ expect: { per_case: Record<string, never> } }> }>;
    };
    const perCase = expected.cases.e02_multilabel_reference.checks[0].expect.per_case as Record<
      string,
      Record<string, number | number[]>
    >;

    const shifted = e02('pred_pancreas_shifted.nii.gz');
    const liver = e02('pred_liver_instead.nii.gz');
    const run = runCli(['evaluate', '--pred', shifted, liver, '--ref', reference, '--label', '7']);
    const withJson = runCli([
      'evaluate',
      ...['--pred', shifted, liver, '--ref', reference, reference, '--label', '7', '--json'],
    ]);
    assert.equal(withJson.code, 0, withJson.stderr);
    const report = JSON.parse(withJson.stdout) as ReportJson;
    const [a, b] = report.cases;
    assert.equal(a.id, 'pred_pancreas_shifted');
    near(a.dice, perCase.pred_pancreas_shifted.dice as number, 1e-4, 'dice');
    near(a.hd95_mm, perCase.pred_pancreas_shifted.hd95_mm as number, 1e-3, 'hd95');
    near(a.dice_background, perCase.pred_pancreas_shifted.dice_background as number, 1e-4, 'bg');
    near(
      a.dice_mean_with_background,
      perCase.pred_pancreas_shifted.dice_mean_with_background as number,
      1e-4,
      'mean with background',
    );
    assert.equal(b.id, 'pred_liver_instead');
    assert.equal(b.dice, 0);
    const [low, high] = perCase.pred_liver_instead.hd95_mm_range_over_definitions as number[];
    assert.ok(b.hd95_mm !== null && b.hd95_mm >= low - 1e-3 && b.hd95_mm <= high + 1e-3);
    // scipy (test/metrics/scipy-reference.py, same definitions) gives 29.837057495671385.
    near(b.hd95_mm, 29.837057495671385, 1e-9, 'liver hd95');
    near(report.mean.dice, (a.dice + b.dice) / 2, 1e-12, 'mean dice');

    // The readable table: pancreas Dice first, the with-background mean beside it.
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^case\s+Dice\s+Dice\+bg\s+HD95 mm/);
    assert.match(run.stdout, /\npred_pancreas_shifted\s+0\.8333\s+0\.9147\s+2\.50\s/);
  });

  it('warns and scores every label > 0 when --label is left out (Dice 0.864865 for liver)', () => {
    const run = runCli([
      'evaluate',
      '--pred',
      e02('pred_liver_instead.nii.gz'),
      '--ref',
      reference,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^panknet: warning: reference .* holds labels 0, 1, 3, 5, 7;/);
    assert.match(run.stderr, /--label N/);
    assert.match(run.stdout, /\npred_liver_instead\s+0\.8649\s/);
  });

  it('writes an infinite HD95 as null with a note when the prediction is empty', async () => {
    const ref = await readNifti(reference);
    const empty = join(work(), 'empty.nii.gz');
    await writeNifti(withData(ref, new Uint8Array(ref.data.length)), empty);
    const run = runCli(['evaluate', '--pred', empty, '--ref', reference, '--label', '7', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ReportJson;
    assert.equal(report.cases[0].hd95_mm, null);
    assert.equal(report.cases[0].asd_mm, null);
    assert.equal(report.mean.hd95_mm, null);
    assert.equal(report.cases[0].dice, 0);
    const note = /hd95_mm and asd_mm are null \(infinite\) for empty/;
    assert.ok(report.notes.some((n) => note.test(n)));
  });

  it('matches scipy on the real 3 mm pancreas mask against a shifted, cut copy', async () => {
    // The prediction is numpy's roll(ref, (2, 0, -1)) minus roll(ref, (0, 3, 0)), as in
    // test/metrics/scipy-reference.py, which printed the expected numbers below.
    const refPath = sharedData('ct-abdomen-3mm.pancreas.nii.gz');
    const ref = await readNifti(refPath);
    const [nx, ny, nz] = ref.shape;
    const at = (i: number, j: number, k: number): number =>
      ref.data[((i + nx) % nx) + nx * (((j + ny) % ny) + ny * ((k + nz) % nz))];
    const pred = new Uint8Array(ref.data.length);
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          pred[i + nx * (j + ny * k)] = at(i - 2, j, k + 1) !== 0 && at(i, j - 3, k) === 0 ? 1 : 0;
        }
      }
    }
    const predPath = join(work(), 'shifted.nii.gz');
    await writeNifti(withData(ref, pred), predPath);

    const run = runCli(['evaluate', '--pred', predPath, '--ref', refPath, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const c = (JSON.parse(run.stdout) as ReportJson).cases[0];
    near(c.dice, 0.3818424566088118, 1e-9, 'dice');
    near(c.hd95_mm, 6.708203932499369, 1e-6, 'hd95');
    near(c.asd_mm, 3.1503155725613636, 1e-6, 'asd');
    near(c.ref_volume_ml, (818 * 27) / 1000, 1e-9, 'ref volume');
    near(c.pred_volume_ml, (680 * 27) / 1000, 1e-9, 'pred volume');
  });

  it('pairs two folders by file name, reports the unpaired ones, and writes --csv', async () => {
    const preds = join(work(), 'preds');
    const refs = join(work(), 'refs');
    await mkdir(preds);
    await mkdir(refs);
    await copyFile(e02('pred_pancreas_shifted.nii.gz'), join(preds, 'case1.nii.gz'));
    await copyFile(e02('pred_liver_instead.nii.gz'), join(preds, 'case2.nii.gz'));
    await copyFile(e02('pred_liver_instead.nii.gz'), join(preds, 'extra.nii.gz'));
    await copyFile(reference, join(refs, 'case1.nii.gz'));
    await copyFile(reference, join(refs, 'case2.nii.gz'));
    await copyFile(reference, join(refs, 'lonely.nii.gz'));
    const csv = join(work(), 'scores.csv');

    const args = ['--pred', preds, '--ref', refs, '--label', '7', '--json', '--csv', csv];
    const run = runCli(['evaluate', ...args]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ReportJson;
    assert.deepEqual(
      report.cases.map((c) => c.id),
      ['case1', 'case2'],
    );
    near(report.cases[0].dice, 0.833333, 1e-4, 'case1 dice');
    assert.deepEqual(report.unpaired, {
      pred: [join(preds, 'extra.nii.gz')],
      ref: [join(refs, 'lonely.nii.gz')],
    });
    assert.match(run.stderr, /extra\.nii\.gz: no reference of the same name; skipped/);
    assert.match(run.stderr, /lonely\.nii\.gz: no prediction of the same name; skipped/);

    const lines = (await readFile(csv, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0], /^id,dice,dice_mean_with_background,dice_background,hd95_mm,/);
    assert.match(lines[1], /^case1,0\.833333/);
    assert.match(lines[3], /^mean,0\.41666/);
    assert.deepEqual(
      (await readdir(work())).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  it('fails with exit 2 and one line naming both files when the grids differ', async () => {
    const ref = await readNifti(reference);
    const moved = join(work(), 'moved.nii.gz');
    const affine = ref.affine.map((row) => [...row]) as Volume['affine'];
    affine[2][3] += 2.5;
    await writeNifti({ ...withData(ref, new Uint8Array(ref.data.length)), affine }, moved);
    const run = runCli(['evaluate', '--pred', moved, '--ref', reference, '--label', '7']);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.ok(
      lines[0].startsWith(`panknet: error: ${moved}: affine differs from reference ${reference}`),
      lines[0],
    );
    assert.match(lines[0], /by up to 2\.500 mm.*Write the prediction on the reference grid/);
  });

  it('fails with exit 2 for a missing file, a file paired with a folder, and --label x', () => {
    const missing = join(work(), 'nope.nii.gz');
    const a = runCli(['evaluate', '--pred', missing, '--ref', reference]);
    assert.equal(a.code, 2);
    assert.equal(a.stderr, `panknet: error: ${missing}: no such file or folder. Check the path.\n`);

    const b = runCli(['evaluate', '--pred', work(), '--ref', reference]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /^panknet: error: .*is a folder but .* is a file\. Pass two files/);

    const c = runCli(['evaluate', '--pred', reference, '--ref', reference, '--label', 'x']);
    assert.equal(c.code, 2);
    assert.match(
      c.stderr,
      /option '--label <n>' argument 'x' is invalid\. expected a whole number from 0/,
    );
  });
});
