import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readDicomSeries } from '../../src/io/read-dicom.js';
import { readNifti } from '../../src/io/read-nifti.js';
import type { Mat4, Volume } from '../../src/io/volume.js';
import { writeNifti } from '../../src/io/write-nifti.js';
import { buildPankNetGraph } from '../../src/model/architecture.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { initialStateDict } from '../../src/model/panknet.js';
import { runCli } from '../helpers/cli.js';
import { sharedCase } from '../helpers/data.js';

/** Random weights at width 0.125, 8 x 32 x 32 windows, 2 mm: grids matter here, not accuracy. */
function makeModel(dir: string): string {
  const graph = buildPankNetGraph({ encoderWidth: 0.125, decoderWidth: 0.125, patch: [8, 32, 32] });
  saveCheckpoint(dir, initialStateDict(graph, 2), {
    architecture: graph.options,
    patch: graph.options.patch,
    targetSpacingMm: [2, 2, 2],
    orientation: 'RAS',
    normalisation: { modality: 'ct', windowHu: [-100, 240] },
    labels: { '0': 'background', '1': 'pancreas' },
  });
  return dir;
}

describe('panknet predict output grids (random-weight model)', function () {
  this.timeout(180_000);
  let dir: string;
  let model: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'panknet-grids-'));
    model = makeModel(join(dir, 'model'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lands the mask on an oblique, LPS-like, anisotropic 37 x 29 x 11 grid exactly', async () => {
    // 20 degrees about the slice axis, x and y flipped, 0.7 x 0.9 x 3.5 mm voxels.
    const c = Math.cos(Math.PI / 9);
    const s = Math.sin(Math.PI / 9);
    const affine: Mat4 = [
      [-0.7 * c, 0.9 * s, 0, 40.2],
      [-0.7 * s, -0.9 * c, 0, -12.5],
      [0, 0, 3.5, -20],
      [0, 0, 0, 1],
    ];
    const shape: [number, number, number] = [37, 29, 11];
    const data = new Int16Array(37 * 29 * 11).map((_, i) => ((i * 37) % 400) - 200);
    const volume: Volume = {
      data,
      shape,
      spacingMm: [0.7, 0.9, 3.5],
      affine,
      meta: { datatype: 'int16' },
    };
    const input = join(dir, 'oblique.nii.gz');
    await writeNifti(volume, input);
    const out = join(dir, 'oblique-mask.nii.gz');
    const run = runCli(['predict', input, '-o', out, '--model', model]);
    assert.equal(run.code, 0, run.stderr);
    const written = await readNifti(input);
    const mask = await readNifti(out);
    assert.deepEqual(mask.shape, shape);
    mask.affine.forEach((row, r) =>
      row.forEach((v, k) => assert.ok(Math.abs(v - written.affine[r]![k]!) < 1e-4, `${r},${k}`)),
    );
    assert.ok(mask.data.every((v) => v === 0 || v === 1));
  });

  it('segments a DICOM series folder onto the series grid', async () => {
    const series = sharedCase('d02_unsorted_filenames/series');
    const out = join(dir, 'dicom-mask.nii.gz');
    const run = runCli(['predict', series, '-o', out, '--model', model]);
    assert.equal(run.code, 0, run.stderr);
    const dicom = await readDicomSeries(series);
    const mask = await readNifti(out);
    assert.deepEqual(mask.shape, dicom.shape);
    mask.affine.forEach((row, r) =>
      row.forEach((v, k) => assert.ok(Math.abs(v - dicom.affine[r]![k]!) < 1e-4, `${r},${k}`)),
    );
  });
});
