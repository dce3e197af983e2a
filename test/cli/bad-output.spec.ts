import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeNifti } from '../../src/io/write-nifti.js';
import { runCli } from '../helpers/cli.js';
import { sharedData } from '../helpers/data.js';
import { identityVolume } from '../helpers/nifti-files.js';

/** One `panknet: error:` line and exit code 2: the contract for bad input. */
function assertOneErrorLine(run: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(run.code, 2, run.stderr);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, /^panknet: error: /);
  assert.match(lines[0]!, pattern);
}

describe('panknet commands on bad outputs and options', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'panknet-bad-output-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to write predict or convert output over the input image', () => {
    const ct = join(dir, 'ct.nii.gz');
    copyFileSync(sharedData('ct-abdomen-3mm-30slices.nii.gz'), ct);
    const before = readdirSync(dir);
    assertOneErrorLine(runCli(['predict', ct, '-o', ct]), /ct\.nii\.gz: is the input itself/);
    assertOneErrorLine(runCli(['convert', ct, ct, '--ras']), /ct\.nii\.gz: is the input itself/);
    assert.deepEqual(readdirSync(dir), before);
  });

  it('says which folder is missing, or that the output is a folder, instead of crashing', () => {
    const ct = sharedData('ct-abdomen-3mm-30slices.nii.gz');
    const missing = join(dir, 'no-such-folder', 'out.nii.gz');
    assertOneErrorLine(
      runCli(['convert', ct, missing]),
      /out\.nii\.gz: cannot write the NIfTI file: its folder does not exist/,
    );
    assertOneErrorLine(
      runCli(['predict', ct, '-o', dir]),
      /is a folder; for one input, -o names the mask file/,
    );
  });

  it('refuses a resampling that would not fit in memory before allocating it', () => {
    const ct = sharedData('ct-abdomen-3mm-30slices.nii.gz');
    const out = join(dir, 'tiny-voxels.nii.gz');
    assertOneErrorLine(
      runCli(['convert', ct, out, '--spacing', '0.01,0.01,0.01']),
      /would make 36301 x 30001 x 8701 voxels, more than the 1000 million/,
    );
    assert.equal(existsSync(out), false);
  });

  it('refuses to segment a volume with no finite voxel', async () => {
    const nan = identityVolume(new Float32Array(16 * 16 * 8).fill(NaN), [16, 16, 8], {
      datatype: 'float32',
    });
    const input = join(dir, 'nan.nii');
    await writeNifti(nan, input);
    const run = runCli(['predict', input, '-o', join(dir, 'nan-mask.nii.gz')], {
      env: { PANKNET_LOG: 'error' },
    });
    assertOneErrorLine(run, /nan\.nii: holds no finite voxel value/);
    assert.equal(existsSync(join(dir, 'nan-mask.nii.gz')), false);
  });

  it('formats usage errors as one panknet: error: line without the help text', () => {
    assertOneErrorLine(
      runCli(['predict', 'x.nii.gz', '-o', 'y.nii.gz', '--overlap', '2']),
      /option '--overlap <fraction>' argument '2' is invalid.*Run with --help for usage\.$/,
    );
    assertOneErrorLine(runCli(['frobnicate']), /unknown command 'frobnicate'\. Run with --help/);
  });
});
