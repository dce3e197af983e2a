import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

import { selectBackend } from '../../src/backend/select-backend.js';
import { TfjsEngine } from '../../src/infer/tfjs-engine.js';
import { buildPankNetGraph, countParameters } from '../../src/model/architecture.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointMeta } from '../../src/model/checkpoint.js';
import { initialStateDict, PankNet } from '../../src/model/panknet.js';
import { InputFileError, ShapeError, WeightsError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';

const TINY = {
  encoderWidth: 0.125,
  decoderWidth: 0.125,
  patch: [8, 32, 32] as [number, number, number],
};

describe('PankNet (tfjs)', () => {
  it('builds the paper network at 48x128x128: 4 maps [N, 2, 48, 128, 128], tap sizes', () => {
    const graph = buildPankNetGraph({});
    assert.deepEqual(
      graph.taps.map((id) => graph.sizes.get(id)),
      [
        [24, 16, 16],
        [12, 8, 8],
        [6, 4, 4],
        [6, 4, 4],
      ],
    );
    for (const id of [...graph.maps, graph.fused])
      assert.deepEqual(graph.sizes.get(id), [48, 128, 128]);
    const total = [...countParameters(graph.parameters).values()].reduce((a, b) => a + b, 0);
    assert.ok(total > 20e6 && total < 30e6, `parameters ${total} (DESIGN.md: 25.7M)`);
  });

  it('rejects a 50x100x100 patch with a ShapeError naming valid sizes', () => {
    assert.throws(
      () => new PankNet({ patch: [50, 100, 100] }),
      (e: unknown) =>
        e instanceof ShapeError &&
        /multiple of 8/.test(e.message) &&
        /48 x 128 x 128/.test(e.message),
    );
  });

  it('initialises like PyTorch: conv within 1/sqrt(fanIn), BN 1/0/0/1, seeded', () => {
    const graph = buildPankNetGraph(TINY);
    const a = initialStateDict(graph, 5);
    const b = initialStateDict(graph, 5);
    const w = a.get('encoder.base.0.conv_s.weight')!; // [8, 1, 1, 7, 7], fanIn 49
    assert.ok(Math.max(...Array.from(w.data, Math.abs)) <= 1 / 7);
    assert.ok(Math.max(...Array.from(w.data, Math.abs)) > 0.9 / 7);
    assert.deepEqual(w.data, b.get('encoder.base.0.conv_s.weight')!.data);
    assert.deepEqual(
      Array.from(a.get('decoders.1.blocks.0.bn.running_var')!.data),
      Array(8).fill(1),
    );
    assert.deepEqual(Array.from(a.get('decoders.1.blocks.0.bn.bias')!.data), Array(8).fill(0));
  });

  it('round-trips a state dict; bad keys all in one WeightsError', async () => {
    await tf.setBackend('cpu');
    const net = new PankNet(TINY, 1);
    const state = initialStateDict(net.graph, 9);
    net.loadStateDict(state);
    const back = net.stateDict();
    for (const [name, value] of state) assert.deepEqual(back.get(name)!.data, value.data, name);
    const broken = new Map(state);
    broken.delete('fusion.bias');
    broken.set('fc.weight', { shape: [1], data: new Float32Array(1) });
    broken.set('fusion.weight', { shape: [2, 8, 1, 1, 2], data: new Float32Array(32) });
    assert.throws(
      () => net.loadStateDict(broken, 'x.pt'),
      (e: unknown) =>
        e instanceof WeightsError &&
        /1 missing \(fusion.bias\)/.test(e.message) &&
        /1 unexpected \(fc.weight\)/.test(e.message) &&
        /fusion.weight is \[2, 8, 1, 1, 2\], expected \[2, 8, 1, 1, 1\]/.test(e.message),
    );
    net.dispose();
  });
});

describe('TfjsEngine', () => {
  it('returns softmax maps [1, 2, 8, 32, 32] on wasm and leaks no tensors', async () => {
    const choice = await selectBackend({ backend: 'wasm' });
    assert.equal(choice.tfBackend, 'wasm');
    assert.ok(choice.hint);
    const net = new PankNet(TINY, 2);
    const engine = new TfjsEngine(net);
    const windows = Float32Array.from({ length: 8 * 32 * 32 }, (_, i) => (i % 97) / 97);
    // The first call folds BatchNorm and caches the folded weights; later calls add nothing.
    await engine.run(windows, 1);
    const before = tf.memory().numTensors;
    const out = await engine.run(windows, 1, { decoderMaps: true });
    assert.equal(tf.memory().numTensors, before);
    const voxels = 8 * 32 * 32;
    assert.equal(out.fused.length, 2 * voxels);
    assert.equal(out.maps!.length, 4);
    for (const probs of [out.fused, ...out.maps!]) {
      for (const v of [0, 1234, voxels - 1]) {
        assert.ok(Math.abs(probs[v]! + probs[voxels + v]! - 1) < 1e-5);
      }
    }
    // Folded eval must agree with the unfolded forward.
    const plain = net.forward(tf.tensor(windows, [1, 1, 8, 32, 32]));
    const diff = Math.max(
      ...Array.from(plain.fused.dataSync(), (v, i) => Math.abs(v - out.fused[i]!)),
    );
    assert.ok(diff < 1e-5, `folded vs plain ${diff}`);
    tf.dispose([plain.fused, plain.logits, ...plain.maps]);
    await assert.rejects(engine.run(windows.subarray(1), 1), ShapeError);
    engine.dispose();
    await tf.setBackend('cpu');
  });
});

describe('saveCheckpoint / loadCheckpoint', () => {
  const meta: CheckpointMeta = {
    architecture: { ...buildPankNetGraph(TINY).options },
    patch: [8, 32, 32],
    targetSpacingMm: [1, 1, 1],
    orientation: 'RAS',
    normalisation: { modality: 'ct', windowHu: [-100, 240] },
    labels: { '0': 'background', '1': 'pancreas' },
    training: { epochs: 0 },
  };

  it('writes weights and panknet.json, reads them bit-exact, replaces a folder', () => {
    const root = mkdtempSync(join(tmpdir(), 'panknet-ckpt-'));
    try {
      const dir = join(root, 'model');
      const state = initialStateDict(buildPankNetGraph(TINY), 3);
      saveCheckpoint(dir, initialStateDict(buildPankNetGraph(TINY), 4), meta);
      const manifest = saveCheckpoint(dir, state, meta);
      assert.equal(manifest.formatVersion, 1);
      const count = [...state.values()].reduce((a, v) => a + v.data.length, 0);
      assert.equal(readFileSync(join(dir, 'weights.bin')).length, count * 4);
      const loaded = loadCheckpoint(dir);
      assert.deepEqual(loaded.manifest.labels, meta.labels);
      for (const [name, value] of state)
        assert.deepEqual(loaded.stateDict.get(name)!.data, value.data);

      // A changed byte is caught by the sha256 and named with the file.
      const bin = readFileSync(join(dir, 'weights.bin'));
      bin[10] = bin[10]! ^ 1;
      writeFileSync(join(dir, 'weights.bin'), bin);
      assert.throws(
        () => loadCheckpoint(dir),
        (e: unknown) =>
          e instanceof InputFileError && e.file.endsWith('weights.bin') && /sha256/.test(e.message),
      );
      rmSync(join(dir, 'panknet.json'));
      assert.throws(
        () => loadCheckpoint(dir),
        (e: unknown) =>
          e instanceof InputFileError &&
          e.file.endsWith('panknet.json') &&
          /missing/.test(e.message),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('panknet summary prints per-part counts that add up, and the map shapes', () => {
    const run = runCli(['summary', '--width', '0.25', '--patch', '64,64,16']);
    assert.equal(run.code, 0, run.stderr);
    const counts = countParameters(
      buildPankNetGraph({ encoderWidth: 0.25, decoderWidth: 0.25, patch: [16, 64, 64] }).parameters,
    );
    for (const [part, n] of counts)
      assert.match(run.stdout, new RegExp(`${part}\\s+${n.toLocaleString('en-US')}`));
    assert.match(run.stdout, /map 4: \[N, 2, 16, 64, 64\]/);
  });
});
