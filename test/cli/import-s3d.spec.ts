import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import { buildPankNetGraph } from '../../src/model/architecture.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { importS3d } from '../../src/model/import-s3d.js';
import { initialStateDict, PankNet } from '../../src/model/panknet.js';
import type { StateDict } from '../../src/model/state-dict.js';
import { loadEncoderWeights } from '../../src/train/train.js';
import { setLogSink, type LogSink } from '../../src/util/log.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { PROJECT_ROOT } from '../helpers/data.js';

/** Debian's interpreter with python3-torch; the pyenv `python3` on PATH lacks it. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(PROJECT_ROOT, 'test', 'fixtures', 'make_s3d_checkpoint.py');

/** The bytes of a float32 array (compared with Buffer.equals: fast and bit-exact). */
function bytesOf(data: Float32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Asserts two state dicts hold the same names, in order, with bit-identical float32 data. */
function assertSameWeights(actual: StateDict, expected: StateDict): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, value] of expected) {
    const got = actual.get(name)!;
    assert.deepEqual(got.shape, value.shape, name);
    assert.ok(bytesOf(got.data).equals(bytesOf(value.data)), `${name} differs`);
  }
}

describe('panknet import-s3d', function () {
  let work: string;
  let fixtures: string;
  let out: string;
  let zip: string;
  let imported: CliRun;
  let previousSink: LogSink;

  before(async function () {
    work = mkdtempSync(join(tmpdir(), 'panknet-cli-import-s3d-'));
    fixtures = join(work, 'fixtures');
    execFileSync(PYTHON, [SCRIPT, fixtures, 's3d'], { stdio: ['ignore', 'ignore', 'pipe'] });
    out = join(work, 'encoder');
    zip = join(fixtures, 's3d_zip.pt');
    // The other cases read the folder this run writes.
    imported = runCli(['import-s3d', zip, '-o', out]);
    await tf.setBackend('cpu');
    // importS3d's warning about the dropped classifier is expected here; keep the output clean.
    previousSink = setLogSink(() => undefined);
  });

  after(function () {
    setLogSink(previousSink);
    rmSync(work, { recursive: true, force: true });
  });

  it('writes an encoder-only checkpoint equal to importS3d, prints a summary', async function () {
    const run = imported;

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Read 464 tensors from s3d_zip\.pt\.$/m);
    assert.match(run.stdout, /Imported 385 encoder tensors: [\d,]+ parameters/);
    assert.match(run.stdout, /\[64, 3, 1, 7, 7\] averaged over its input channels to \[64, 1, 1/);
    assert.match(
      run.stdout,
      /Skipped 79 keys: 2 classifier \(fc\.0\.weight, fc\.0\.bias\), 77 num/,
    );
    assert.match(run.stdout, new RegExp(`Wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    // Exactly the one warning about the classifier, nothing else on stderr.
    assert.deepEqual(run.stderr.trim().split('\n'), [
      'panknet: warning: importS3d: dropped 2 Kinetics-400 classifier keys ' +
        '(fc.0.weight, fc.0.bias); PankNet has its own decoders.',
    ]);

    const { manifest, stateDict } = loadCheckpoint(out);
    const expected = await importS3d(zip);
    assertSameWeights(stateDict, expected.stateDict);
    assert.deepEqual(manifest.parts, ['encoder']);
    assert.match(manifest.note!, /decoders and fusion are left for training to initialise/);
    assert.deepEqual(manifest.architecture, {
      inChannels: 1,
      outChannels: 2,
      encoderWidth: 1,
      decoderWidth: 1,
      taps: [1, 2, 3, 4],
      patch: [48, 128, 128],
    });
    // The learnable count printed is the one importS3d computed from the file's shapes.
    assert.match(
      run.stdout,
      new RegExp(`${expected.learnable.toLocaleString('en-US')} parameters`),
    );
    // No temp folder is left beside the output.
    assert.deepEqual(readdirSync(work).sort(), ['encoder', 'fixtures']);
  });

  it("train's loadEncoderWeights merges it into a fresh PankNet, decoders untouched", function () {
    this.timeout(60000);
    // Full-width encoder (S3D), narrow decoders: the merge only concerns the encoder.
    const options = { decoderWidth: 0.125, patch: [16, 64, 64] as [number, number, number] };
    const net = new PankNet(options, 5);
    try {
      loadEncoderWeights(net, out);
      const merged = net.stateDict();
      const fresh = initialStateDict(buildPankNetGraph(options), 5);
      const { stateDict: encoder } = loadCheckpoint(out);
      let encoderTensors = 0;
      let others = 0;
      for (const [name, value] of merged) {
        const source = name.startsWith('encoder.') ? encoder.get(name)! : fresh.get(name)!;
        assert.ok(bytesOf(value.data).equals(bytesOf(source.data)), `${name} differs`);
        if (name.startsWith('encoder.')) encoderTensors++;
        else others++;
      }
      assert.equal(encoderTensors, 385);
      assert.ok(others > 0);
      // The imported weights differ from the fresh ones, so the check above means something.
      const first = 'encoder.base.0.conv_s.weight';
      assert.ok(!bytesOf(encoder.get(first)!.data).equals(bytesOf(fresh.get(first)!.data)));
    } finally {
      net.dispose();
    }
  });

  it('--in-channels 3 repeats the averaged first convolution', function () {
    const dir = join(work, 'encoder3');
    const run = runCli([
      'import-s3d',
      join(fixtures, 's3d_legacy.pt'),
      '-o',
      dir,
      '--in-channels',
      '3',
    ]);

    assert.equal(run.code, 0, run.stderr);
    const { manifest, stateDict } = loadCheckpoint(dir);
    assert.equal(manifest.architecture.inChannels, 3);
    const first = stateDict.get('encoder.base.0.conv_s.weight')!;
    assert.deepEqual(first.shape, [64, 3, 1, 7, 7]);
    const one = loadCheckpoint(out).stateDict.get('encoder.base.0.conv_s.weight')!.data;
    // Output channel o, input channel c, 49 taps: every c holds the 1-channel mean.
    for (const [o, c, k] of [
      [0, 0, 0],
      [0, 2, 48],
      [63, 1, 17],
    ] as const) {
      assert.equal(first.data[(o * 3 + c) * 49 + k], one[o * 49 + k]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a non-checkpoint: exit 2, one error line naming the file, no output', function () {
    const junk = join(work, 'junk.pt');
    writeFileSync(junk, 'not a checkpoint\n');
    const dir = join(work, 'junk-out');
    const run = runCli(['import-s3d', junk, '-o', dir]);

    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.ok(lines[0]!.startsWith(`panknet: error: ${junk}: `), lines[0]);
    assert.equal(existsSync(dir), false);

    const broken = runCli(['import-s3d', join(fixtures, 's3d_broken.pt'), '-o', dir]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^panknet: error: importS3d\(".*s3d_broken\.pt"\): .*1 missing/);
    assert.equal(existsSync(dir), false);

    const badChannels = runCli(['import-s3d', junk, '-o', dir, '--in-channels', '0']);
    assert.equal(badChannels.code, 2);
    assert.match(badChannels.stderr, /--in-channels.*expected a whole number from 1/);
  });

  it('export-onnx refuses the encoder-only folder: exit 2, train first', function () {
    const target = join(work, 'encoder.onnx');
    const run = runCli(['export-onnx', out, '-o', target]);

    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      new RegExp(
        '^panknet: error: .*encoder: encoder-only weights from import-s3d: ' +
          'train first with --encoder-weights .*ONNX export needs the whole network',
      ),
    );
    assert.equal(existsSync(target), false);
    assert.ok(readFileSync(join(out, 'panknet.json'), 'utf8').includes('"parts"'));
  });
});
