import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadModel } from '../../src/infer/load-model.js';
import { buildPankNetGraph } from '../../src/model/architecture.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointMeta } from '../../src/model/checkpoint.js';
import { initialStateDict } from '../../src/model/panknet.js';
import { checkStateDict, type StateDict } from '../../src/model/state-dict.js';
import { InputFileError, WeightsError } from '../../src/util/errors.js';

// A narrow network on a small patch: the full set of parts, fast to build.
const TINY = {
  encoderWidth: 0.125,
  decoderWidth: 0.125,
  patch: [8, 32, 32] as [number, number, number],
};
const GRAPH = buildPankNetGraph(TINY);
const META: CheckpointMeta = {
  architecture: { ...GRAPH.options },
  patch: [8, 32, 32],
  targetSpacingMm: [1, 1, 1],
  orientation: 'RAS',
  normalisation: { modality: 'ct', windowHu: [-100, 240] },
  labels: { '0': 'background', '1': 'pancreas' },
};

/** The encoder entries of a full state dict. */
function encoderOf(state: StateDict): StateDict {
  return new Map([...state].filter(([name]) => name.startsWith('encoder.')));
}

function weightsError(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof WeightsError, String(error));
    assert.match(error.message, pattern);
    return true;
  };
}

describe('partial checkpoints (saveCheckpoint / loadCheckpoint with parts)', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'panknet-ckpt-partial-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('writes only encoder.* with parts and a note, and reads it back bit-exact', () => {
    const dir = join(root, 'encoder');
    const encoder = encoderOf(initialStateDict(GRAPH, 7));
    const manifest = saveCheckpoint(dir, encoder, META, { parts: ['encoder'] });

    const onDisk = JSON.parse(readFileSync(join(dir, 'panknet.json'), 'utf8')) as {
      parts: string[];
      note: string;
    };
    assert.deepEqual(onDisk.parts, ['encoder']);
    assert.deepEqual(manifest.parts, ['encoder']);
    assert.match(onDisk.note, /decoders and fusion are left for training to initialise/);
    const index = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8')) as {
      name: string;
    }[];
    const encoderNames = GRAPH.parameters
      .map((p) => p.name)
      .filter((name) => name.startsWith('encoder.'));
    assert.ok(encoderNames.length > 100 && encoderNames.length < GRAPH.parameters.length);
    assert.deepEqual(
      index.map((entry) => entry.name),
      encoderNames,
    );
    const scalars = [...encoder.values()].reduce((sum, v) => sum + v.data.length, 0);
    assert.equal(readFileSync(join(dir, 'weights.bin')).length, scalars * 4);

    const loaded = loadCheckpoint(dir);
    assert.deepEqual(loaded.manifest.parts, ['encoder']);
    assert.deepEqual([...loaded.stateDict.keys()], encoderNames);
    for (const [name, value] of encoder) {
      assert.deepEqual(loaded.stateDict.get(name)!.shape, value.shape, name);
      assert.deepEqual(loaded.stateDict.get(name)!.data, value.data, name);
    }
  });

  it('a whole checkpoint records no parts and keeps every parameter', () => {
    const dir = join(root, 'whole');
    const manifest = saveCheckpoint(dir, initialStateDict(GRAPH, 1), META);
    assert.equal(manifest.parts, undefined);
    assert.equal(manifest.note, undefined);
    const loaded = loadCheckpoint(dir);
    assert.equal(loaded.manifest.parts, undefined);
    assert.equal(loaded.stateDict.size, GRAPH.parameters.length);
  });

  it('lists missing, unexpected and mis-shaped keys of the parts in one WeightsError', () => {
    const full = initialStateDict(GRAPH, 2);
    const encoder = encoderOf(full);
    encoder.delete('encoder.base.0.bn_s.running_var');
    encoder.set('encoder.base.0.conv_t.weight', { shape: [3, 3], data: new Float32Array(9) });
    encoder.set('fusion.bias', full.get('fusion.bias')!);
    const dir = join(root, 'bad');

    assert.throws(
      () => saveCheckpoint(dir, encoder, META, { parts: ['encoder'] }),
      weightsError(
        new RegExp(
          'parts encoder only.*1 missing \\(encoder\\.base\\.0\\.bn_s\\.running_var\\); ' +
            '1 unexpected \\(fusion\\.bias\\); ' +
            '1 mis-shaped \\(encoder\\.base\\.0\\.conv_t\\.weight is \\[3, 3\\]',
        ),
      ),
    );
    // Nothing was written: the folder appears only after a successful check.
    assert.throws(() => loadCheckpoint(dir), InputFileError);
    // A full state dict is not an encoder-only one: decoders and fusion are unexpected.
    assert.throws(
      () => checkStateDict(GRAPH, full, 'test', { parts: ['encoder'] }),
      weightsError(/unexpected \(decoders\.1\./),
    );
    // A part that names no parameter is refused with the parts that exist.
    assert.throws(
      () => saveCheckpoint(dir, encoderOf(full), META, { parts: ['encoders'] }),
      weightsError(/encoders names no parameter.*\(encoder, decoders, fusion\)/),
    );
  });

  it('loadCheckpoint checks the stored parts and names panknet.json when they are invalid', () => {
    const dir = join(root, 'tampered');
    saveCheckpoint(dir, encoderOf(initialStateDict(GRAPH, 3)), META, { parts: ['encoder'] });
    const path = join(dir, 'panknet.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

    // Parts that disagree with the weights: every missing decoder key and unexpected encoder key.
    writeFileSync(path, JSON.stringify({ ...manifest, parts: ['fusion'] }));
    assert.throws(
      () => loadCheckpoint(dir),
      weightsError(/weights\.bin: weights \(parts fusion only\).*2 missing.*unexpected/),
    );
    writeFileSync(path, JSON.stringify({ ...manifest, parts: 'encoder' }));
    assert.throws(
      () => loadCheckpoint(dir),
      (error: unknown) =>
        error instanceof InputFileError &&
        error.file === path &&
        /"parts" "encoder" is invalid: expected a list of names/.test(error.message),
    );
  });

  it('loadModel refuses an encoder-only checkpoint for inference', async () => {
    const dir = join(root, 'encoder-for-predict');
    saveCheckpoint(dir, encoderOf(initialStateDict(GRAPH, 4)), META, { parts: ['encoder'] });
    await assert.rejects(
      loadModel(dir, { engine: 'tfjs' }),
      weightsError(
        /encoder-only weights from import-s3d: train first with --encoder-weights .*inference/,
      ),
    );
  });
});
