import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { selectBackend } from '../../src/backend/select-backend.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadPairList } from '../../src/train/datasets.js';
import { learningRateAt, trainPankNet, type TrainOptions } from '../../src/train/train.js';
import { CLI_PATH, writeExamplePairList } from '../helpers/data.js';

/** A tiny run on the real example CT at 6 mm: 8 x 32 x 32 patches, width 0.125. */
function tinyOptions(
  runDir: string,
  pairs: string,
): Omit<TrainOptions, 'dataset'> & { pairs: string } {
  return {
    pairs,
    runDir,
    epochs: 3,
    architecture: { encoderWidth: 0.125, decoderWidth: 0.125, patch: [8, 32, 32] },
    preprocessing: { spacingMm: [6, 6, 6], modality: 'ct', windowHu: [-100, 240] },
    batchSize: 1,
    stepsPerEpoch: 1,
    validateEvery: 0,
    seed: 5,
  };
}

function readMetrics(runDir: string): { epoch: number; loss: number }[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { epoch: number; loss: number });
}

describe('trainPankNet on the example CT (tiny settings)', function () {
  this.timeout(300_000);
  let dir: string;
  let pairs: string;

  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'panknet-train-'));
    pairs = writeExamplePairList(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stops when aborted, and a resumed run equals a straight run bit for bit', async () => {
    const dataset = await loadPairList(pairs);
    const straight = join(dir, 'straight');
    const resumed = join(dir, 'resumed');
    await trainPankNet({ ...tinyOptions(straight, pairs), dataset });
    // Stopped after epoch 2 of 3 (as a kernel interrupt or Ctrl-C does), then resumed.
    const controller = new AbortController();
    const first = await trainPankNet({
      ...tinyOptions(resumed, pairs),
      dataset,
      signal: controller.signal,
      onEpoch: (row) => {
        if (row.epoch === 2) controller.abort();
      },
    });
    assert.equal(first.stopped, true);
    assert.deepEqual(
      readMetrics(resumed).map((row) => row.epoch),
      [1, 2],
    );
    const result = await trainPankNet({ ...tinyOptions(resumed, pairs), dataset, resume: true });
    assert.equal(result.history.length, 1);
    assert.equal(result.history[0]!.epoch, 3);

    const a = readMetrics(straight);
    const b = readMetrics(resumed);
    assert.deepEqual(
      b.map((row) => row.epoch),
      [1, 2, 3],
    );
    assert.deepEqual(
      b.map((row) => row.loss),
      a.map((row) => row.loss),
    );
    // Same optimizer state and random stream: the weights are bit for bit the same.
    const wa = loadCheckpoint(join(straight, 'last', 'model')).stateDict;
    const wb = loadCheckpoint(join(resumed, 'last', 'model')).stateDict;
    for (const [name, value] of wa) assert.deepEqual(wb.get(name)!.data, value.data, name);
    assert.ok(existsSync(join(straight, 'best', 'panknet.json')));
    assert.equal(loadCheckpoint(join(straight, 'best')).manifest.targetSpacingMm[0], 6);
  });

  it('survives kill -9 of `panknet train` and resumes without repeating an epoch', async () => {
    const runDir = join(dir, 'killed');
    const args = [
      CLI_PATH,
      'train',
      '--data',
      pairs,
      '--out',
      runDir,
      '--width',
      '0.125',
      '--patch',
      '32,32,8',
      '--spacing',
      '6,6,6',
      '--batch',
      '1',
      '--steps',
      '1',
      '--validate-every',
      '0',
    ];
    const child = spawn(process.execPath, [...args, '--epochs', '100'], { stdio: 'ignore' });
    // Kill while epochs are being written: as soon as two epochs are logged, plus a moment.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const path = join(runDir, 'metrics.jsonl');
        if (existsSync(path) && readFileSync(path, 'utf8').trim().split('\n').length >= 2) {
          clearInterval(timer);
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 700);
        }
      }, 50);
      child.on('exit', (code) => {
        clearInterval(timer);
        if (code !== null) reject(new Error(`train exited early with ${code}`));
      });
    });
    await new Promise((resolve) => child.on('close', resolve));

    const before = readMetrics(runDir).length;
    const resumedRun = spawn(process.execPath, [
      ...args,
      '--epochs',
      String(before + 2),
      '--resume',
    ]);
    let output = '';
    resumedRun.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    resumedRun.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => resumedRun.on('close', resolve));
    assert.equal(code, 0, output);

    const epochs = readMetrics(runDir).map((row) => row.epoch);
    assert.deepEqual(
      epochs,
      Array.from({ length: epochs.length }, (_, i) => i + 1),
    );
    assert.equal(epochs.at(-1), before + 2);
    assert.ok(loadCheckpoint(join(runDir, 'last', 'model')).stateDict.size > 0);
  });
});

describe('learningRateAt', () => {
  it('decays from 1e-3 at epoch 1 to 1e-4 at the last epoch along a cosine', () => {
    assert.equal(learningRateAt(1, 11, [1e-3, 1e-4]), 1e-3);
    assert.ok(Math.abs(learningRateAt(6, 11, [1e-3, 1e-4]) - 5.5e-4) < 1e-12);
    assert.ok(Math.abs(learningRateAt(11, 11, [1e-3, 1e-4]) - 1e-4) < 1e-12);
  });
});
