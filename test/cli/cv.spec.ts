import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { runCli } from '../helpers/cli.js';
import { sharedCase } from '../helpers/data.js';
import { tempDirPerSuite } from '../helpers/temp-dir.js';

interface Scores {
  dice: number;
  dice_mean_with_background: number;
  hd95_mm: number | null;
}

interface CvJson {
  folds: Array<Scores & { fold: string; cases: number }>;
  mean: Scores;
  std: Scores;
}

// e02 numbers (../shared/cases/expected.json; liver HD95 from scipy, see
// test/metrics/scipy-reference.py for the method).
const SHIFTED = { dice: 0.8333333333333334, hd95: 2.5 };
const LIVER = { dice: 0, hd95: 29.837057495671385 };

function near(actual: number | null, expected: number, what: string): void {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-6, `${what}: ${actual}`);
}

describe('panknet cv', () => {
  const e02 = (name: string): string => sharedCase(`e02_multilabel_reference/${name}`);
  const reference = e02('reference_labels.nii.gz');
  const work = tempDirPerSuite('panknet-cv-');

  it('tabulates two evaluate --json reports as folds with mean ± sample std', async () => {
    const reports: string[] = [];
    const predsPerFold = [
      [e02('pred_pancreas_shifted.nii.gz'), e02('pred_liver_instead.nii.gz')],
      [e02('pred_pancreas_shifted.nii.gz')],
    ];
    for (const [n, preds] of predsPerFold.entries()) {
      const args = ['--pred', ...preds, '--ref', reference, '--label', '7', '--json'];
      const run = runCli(['evaluate', ...args]);
      assert.equal(run.code, 0, run.stderr);
      const folder = join(work(), `run${n}`);
      await mkdir(folder);
      await writeFile(join(folder, 'evaluate.json'), run.stdout);
      reports.push(n === 0 ? folder : join(folder, 'evaluate.json'));
    }

    const run = runCli(['cv', ...reports, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const cv = JSON.parse(run.stdout) as CvJson;
    const fold0 = (SHIFTED.dice + LIVER.dice) / 2;
    const fold1 = SHIFTED.dice;
    near(cv.folds[0].dice, fold0, 'fold 0 dice');
    assert.equal(cv.folds[0].cases, 2);
    near(cv.folds[1].hd95_mm, SHIFTED.hd95, 'fold 1 hd95');
    near(cv.mean.dice, (fold0 + fold1) / 2, 'mean dice');
    // Sample std of two values: |a - b| / sqrt(2).
    near(cv.std.dice, Math.abs(fold0 - fold1) / Math.SQRT2, 'std dice');
    near(cv.mean.hd95_mm, ((SHIFTED.hd95 + LIVER.hd95) / 2 + SHIFTED.hd95) / 2, 'mean hd95');

    const table = runCli(['cv', ...reports]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^fold\s+cases\s+Dice\s+Dice\+bg\s+HD95 mm\n/);
    assert.match(table.stdout, /\nmean ± std\s+3\s+0\.6250 ± 0\.2946\s/);
  });

  it('scores every fold of a split file from --pred-root and --ref-root', async () => {
    const refRoot = join(work(), 'refs');
    const predRoot = join(work(), 'preds');
    await mkdir(join(refRoot, 'annotations'), { recursive: true });
    await mkdir(join(predRoot, 'fold0'), { recursive: true });
    const entry = (n: string): { image: string; mask: string } => ({
      image: `data\\PANCREAS-CT\\images\\PANCREAS_${n}.nii.gz`,
      mask: `data\\PANCREAS-CT\\annotations\\label${n}.nii.gz`,
    });
    for (const n of ['0001', '0002', '0003']) {
      await copyFile(reference, join(refRoot, 'annotations', `label${n}.nii.gz`));
    }
    const split = join(work(), 'split.json');
    await writeFile(
      split,
      JSON.stringify({
        num_fold: 2,
        fold0: { train: [entry('0003')], test: [entry('0001'), entry('0002')] },
        fold1: { train: [entry('0001'), entry('0002')], test: [entry('0003')] },
      }),
    );
    // Fold 0 predictions in pred-root/fold0/, fold 1 directly in pred-root/.
    const fold0 = join(predRoot, 'fold0');
    await copyFile(e02('pred_pancreas_shifted.nii.gz'), join(fold0, 'PANCREAS_0001.nii.gz'));
    await copyFile(e02('pred_liver_instead.nii.gz'), join(fold0, 'PANCREAS_0002.nii.gz'));

    const args = ['--split', split, '--pred-root', predRoot, '--ref-root', refRoot, '--label', '7'];
    const missing = runCli(['cv', ...args]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /^panknet: error: .*preds: 1 test case has no prediction \(fold1: PANCREAS_0003\)\. Write/,
    );

    await copyFile(e02('pred_pancreas_shifted.nii.gz'), join(predRoot, 'PANCREAS_0003.nii.gz'));
    const run = runCli(['cv', ...args, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const cv = JSON.parse(run.stdout) as CvJson;
    assert.deepEqual(
      cv.folds.map((f) => [f.fold, f.cases]),
      [
        ['fold0', 2],
        ['fold1', 1],
      ],
    );
    near(cv.folds[0].dice, (SHIFTED.dice + LIVER.dice) / 2, 'fold0 dice');
    near(cv.folds[1].dice, SHIFTED.dice, 'fold1 dice');
  });

  it('fails with exit 2 when given both reports and --split', () => {
    const run = runCli(['cv', 'a.json', '--split', 'b.json']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^panknet: error: cv: pass either evaluate --json reports/);
  });
});
