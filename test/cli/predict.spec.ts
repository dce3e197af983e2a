import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PNG } from 'pngjs';

import { readNifti } from '../../src/io/read-nifti.js';
import { buildPankNetGraph } from '../../src/model/architecture.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { initialStateDict } from '../../src/model/panknet.js';
import { runCli } from '../helpers/cli.js';
import { sharedData } from '../helpers/data.js';

/** A random-weight checkpoint (weights do not matter for geometry): width 0.125, 8x32x32, 6 mm. */
function makeModel(dir: string): string {
  const graph = buildPankNetGraph({ encoderWidth: 0.125, decoderWidth: 0.125, patch: [8, 32, 32] });
  saveCheckpoint(dir, initialStateDict(graph, 11), {
    architecture: graph.options,
    patch: graph.options.patch,
    targetSpacingMm: [6, 6, 6],
    orientation: 'RAS',
    normalisation: { modality: 'ct', windowHu: [-100, 240] },
    labels: { '0': 'background', '1': 'pancreas' },
  });
  return dir;
}

describe('panknet predict (random-weight model: geometry and outputs, not accuracy)', function () {
  this.timeout(300_000);
  let dir: string;
  let model: string;
  const ct = sharedData('ct-abdomen-3mm.nii.gz');

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'panknet-predict-'));
    model = makeModel(join(dir, 'model'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a 0/1 uint8 mask on the input grid, plus maps and a preview', async () => {
    const out = join(dir, 'mask.nii.gz');
    const maps = join(dir, 'maps');
    const preview = join(dir, 'preview.png');
    const probabilities = join(dir, 'p.nii.gz');
    const result = runCli([
      'predict',
      ct,
      '-o',
      out,
      '--model',
      model,
      '--decoder-maps',
      maps,
      '--preview',
      preview,
      '--probabilities',
      probabilities,
      '--no-postprocess',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /pancreas \d+(\.\d)? mL/);
    assert.match(result.stdout, /windows on onnxruntime/);

    const input = await readNifti(ct);
    const mask = await readNifti(out);
    assert.deepEqual(mask.shape, input.shape);
    assert.deepEqual(mask.affine, input.affine);
    assert.equal(mask.meta.datatype, 'uint8');
    assert.ok(mask.data.every((v) => v === 0 || v === 1));
    const probability = await readNifti(probabilities);
    assert.equal(probability.meta.datatype, 'float32');
    // Without post-processing the mask is exactly the thresholded probability.
    probability.data.forEach((p, i) => assert.equal(mask.data[i], p >= 0.5 ? 1 : 0));
    assert.deepEqual(
      readdirSync(maps).sort(),
      [1, 2, 3, 4].map((t) => `decoder${t}.nii.gz`),
    );
    const map1 = await readNifti(join(maps, 'decoder1.nii.gz'));
    assert.deepEqual(map1.shape, input.shape);
    const png = PNG.sync.read(readFileSync(preview));
    assert.ok(png.width > 100 && png.height > 50);
  });

  it('gives identical masks on the onnx and tfjs engines', async () => {
    const onnx = join(dir, 'onnx.nii.gz');
    const tfjs = join(dir, 'tfjs.nii.gz');
    assert.equal(runCli(['predict', ct, '-o', onnx, '--model', model, '--engine', 'onnx']).code, 0);
    const viaTfjs = runCli(['predict', ct, '-o', tfjs, '--model', model, '--engine', 'tfjs']);
    assert.equal(viaTfjs.code, 0, viaTfjs.stderr);
    assert.match(viaTfjs.stdout, /windows on tfjs/);
    assert.deepEqual((await readNifti(onnx)).data, (await readNifti(tfjs)).data);
  });

  it('falls back to tfjs with a warning when the cached ONNX model cannot be read', () => {
    const broken = makeModel(join(dir, 'broken-model'));
    mkdirSync(join(broken, 'model.onnx'));
    const result = runCli(['predict', ct, '-o', join(dir, 'fallback.nii.gz'), '--model', broken]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /panknet: warning: the ONNX engine could not start/);
    assert.match(result.stdout, /windows on tfjs/);
  });

  it('segments a folder of cases, reports a bad one and keeps the others', () => {
    const cases = join(dir, 'cases');
    mkdirSync(cases);
    copyFileSync(ct, join(cases, 'a.nii.gz'));
    copyFileSync(sharedData('ct-abdomen-3mm-30slices.nii.gz'), join(cases, 'b.nii.gz'));
    writeFileSync(join(cases, 'c.nii.gz'), readFileSync(ct).subarray(0, 5000));
    const out = join(dir, 'out');
    const result = runCli(['predict', cases, '-o', out, '--model', model]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /panknet: warning: skipped: .*c\.nii\.gz: .*(truncated|corrupt)/);
    assert.match(result.stderr, /1 of 3 cases failed \(c\.nii\.gz\)/);
    assert.deepEqual(readdirSync(out).sort(), ['a.nii.gz', 'b.nii.gz']);
  });

  it('uses the shipped demo model without --model and says so', async () => {
    const small = sharedData('ct-abdomen-3mm-30slices.nii.gz');
    const out = join(dir, 'demo.nii.gz');
    const result = runCli(['predict', small, '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /model: the demo model \(no --model given\)/);
    assert.deepEqual((await readNifti(out)).shape, (await readNifti(small)).shape);
  });

  it('refuses a folder without a checkpoint with exit code 2 and one error line', () => {
    const result = runCli(['predict', ct, '-o', join(dir, 'x.nii.gz'), '--model', dir]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^panknet: error: .*holds no PankNet checkpoint/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });
});
