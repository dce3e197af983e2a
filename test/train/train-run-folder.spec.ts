import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCli } from '../helpers/cli.js';
import { writeExamplePairList } from '../helpers/data.js';

describe('panknet train run folders', function () {
  this.timeout(180_000);
  let dir: string;
  let pairs: string;
  const tiny = ['--width', '0.125', '--patch', '32,32,8', '--spacing', '6,6,6', '--batch', '1'];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'panknet-runs-'));
    pairs = writeExamplePairList(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to train into a finished run without --resume, and resume keeps the recipe', () => {
    const run = join(dir, 'run');
    const common = [
      'train',
      '--data',
      pairs,
      '--out',
      run,
      '--steps',
      '1',
      '--validate-every',
      '0',
    ];
    const first = runCli([...common, ...tiny, '--epochs', '1']);
    assert.equal(first.code, 0, first.stderr);

    const again = runCli([...common, ...tiny, '--epochs', '2']);
    assert.equal(again.code, 2);
    assert.match(
      again.stderr,
      /^panknet: error: .*run: already holds a training run\. Pass --resume/,
    );
    assert.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 1);

    // Resumed without the recipe flags: the run's own 6 mm spacing and 0.125 width are kept.
    const resumed = runCli([...common, '--epochs', '2', '--resume', '--width', '0.25']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /was started with other architecture; resuming keeps/);
    const state = JSON.parse(readFileSync(join(run, 'last', 'state.json'), 'utf8'));
    assert.equal(state.epoch, 2);
    assert.deepEqual(state.recipe.preprocessing.spacingMm, [6, 6, 6]);
    assert.equal(state.recipe.architecture.decoderWidth, 0.125);
  });
});
