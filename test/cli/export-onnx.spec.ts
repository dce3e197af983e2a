import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import { TfjsEngine } from '../../src/infer/tfjs-engine.js';
import { buildPankNetGraph } from '../../src/model/architecture.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointMeta } from '../../src/model/checkpoint.js';
import { PankNet } from '../../src/model/panknet.js';
import { createOnnxEngine } from '../../src/onnx/onnx-engine.js';
import { readOnnxMetadata } from '../../src/onnx/read-onnx-metadata.js';
import { seededInput, seededStateDict } from '../onnx/torch-reference.js';
import { runCli } from '../helpers/cli.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function spread(values: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi - lo;
}

// A narrow network on a small patch: every op of the full one, fast on 2 cores.
const OPTIONS = {
  encoderWidth: 0.125,
  decoderWidth: 0.125,
  patch: [16, 64, 64] as [number, number, number],
};

describe('panknet export-onnx', function () {
  const graph = buildPankNetGraph(OPTIONS);
  const meta: CheckpointMeta = {
    architecture: { ...graph.options },
    patch: OPTIONS.patch,
    targetSpacingMm: [1, 1, 1],
    orientation: 'RAS',
    normalisation: { modality: 'ct', windowHu: [-100, 240] },
    labels: { '0': 'background', '1': 'pancreas' },
  };
  let work: string;
  let modelDir: string;

  before(async function () {
    work = mkdtempSync(join(tmpdir(), 'panknet-cli-export-onnx-'));
    modelDir = join(work, 'model');
    // Random weights with BatchNorm statistics away from (0, 1), so that folding is exercised.
    saveCheckpoint(modelDir, seededStateDict(graph, 21), meta);
    await tf.setBackend('cpu');
  });

  after(function () {
    rmSync(work, { recursive: true, force: true });
  });

  it('writes a model that onnxruntime runs, equal to TfjsEngine to 1e-4', async function () {
    const file = join(work, 'out', 'model.onnx');
    const run = runCli(['export-onnx', modelDir, '-o', file, '--dynamic-batch']);

    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const size = readFileSync(file).length;
    assert.match(run.stdout, new RegExp(`\\(${size} bytes\\), opset 17, batch dynamic \\(N\\)`));
    assert.match(run.stdout, /patch 16 x 64 x 64/);
    assert.match(run.stdout, /^input {2}image \[N, 1, 16, 64, 64\]$/m);
    assert.match(run.stdout, /^output fused \[N, 2, 16, 64, 64\]$/m);
    for (const tap of [1, 2, 3, 4]) {
      assert.match(run.stdout, new RegExp(`^output map${tap} \\[N, 2, 16, 64, 64\\]$`, 'm'));
    }
    // Only the model in its folder: the temp file was renamed.
    assert.deepEqual(readdirSync(join(work, 'out')), ['model.onnx']);

    const { manifest, stateDict } = loadCheckpoint(modelDir);
    const signature = readOnnxMetadata(readFileSync(file), file);
    assert.deepEqual(signature.architecture, manifest.architecture);
    assert.deepEqual(signature.labels, ['background', 'pancreas']);
    assert.deepEqual(signature.normalisation, manifest.normalisation);

    const window = seededInput(graph, 1, 9);
    const onnxEngine = await createOnnxEngine(file, { threads: 2 });
    const net = new PankNet(manifest.architecture);
    net.loadStateDict(stateDict);
    const tfjsEngine = new TfjsEngine(net);
    try {
      const ort = await onnxEngine.run(window, 1, { decoderMaps: true });
      const tfjs = await tfjsEngine.run(window, 1, { decoderMaps: true });
      assert.equal(ort.fused.length, 2 * 16 * 64 * 64);
      const fusedDiff = maxAbsDiff(ort.fused, tfjs.fused);
      assert.ok(fusedDiff < 1e-4, `fused differs by ${fusedDiff}`);
      assert.equal(ort.maps?.length, 4);
      ort.maps!.forEach((map, i) => {
        const diff = maxAbsDiff(map, tfjs.maps![i]!);
        assert.ok(diff < 1e-4, `map${i + 1} differs by ${diff}`);
        assert.ok(spread(map) > 0.05, `map${i + 1} spread ${spread(map)}`);
      });
      // The comparison means something only if the output varies over the window.
      assert.ok(spread(tfjs.fused) > 0.5, `fused spread ${spread(tfjs.fused)}`);
    } finally {
      await onnxEngine.dispose();
      tfjsEngine.dispose();
    }
  });

  it('--opset 13 without --dynamic-batch fixes the batch to 1', function () {
    const file = join(work, 'fixed.onnx');
    const run = runCli(['export-onnx', modelDir, '-o', file, '--opset', '13']);

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /opset 13, batch 1,/);
    assert.match(run.stdout, /^input {2}image \[1, 1, 16, 64, 64\]$/m);
    const signature = readOnnxMetadata(readFileSync(file), file);
    assert.equal(signature.opset, 13);
    assert.equal(signature.batch, 1);
  });

  it('bad requests exit 2 with one error line and write nothing', function () {
    const file = join(work, 'bad.onnx');
    const opset = runCli(['export-onnx', modelDir, '-o', file, '--opset', '99']);
    assert.equal(opset.code, 2);
    assert.deepEqual(opset.stderr.trim().split('\n'), [
      'panknet: error: exportOnnx: opset 99 is not supported; use 13 to 21 (default 17).',
    ]);

    const missing = join(work, 'no-such-model');
    const absent = runCli(['export-onnx', missing, '-o', file]);
    assert.equal(absent.code, 2);
    assert.equal(absent.stderr.trim().split('\n').length, 1, absent.stderr);
    assert.match(absent.stderr, new RegExp(`^panknet: error: ${missing}: no such model folder`));
    assert.equal(existsSync(file), false);
  });
});
