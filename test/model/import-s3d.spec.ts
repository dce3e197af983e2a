import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildPankNetGraph } from '../../src/model/architecture.js';
import { importS3d } from '../../src/model/import-s3d.js';
import { InputFileError, WeightsError } from '../../src/util/errors.js';
import { setLogSink, type LogSink } from '../../src/util/log.js';
import { PROJECT_ROOT } from '../helpers/data.js';

/** Debian's interpreter with python3-torch; the pyenv `python3` on PATH lacks it. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(PROJECT_ROOT, 'test', 'fixtures', 'make_s3d_checkpoint.py');

/** What make_s3d_checkpoint.py says about the checkpoint it wrote (s3d.json). */
interface S3dInfo {
  keys: number;
  encoderKeys: string[];
  shapes: Record<string, number[]>;
  fcKeys: string[];
  references: Record<string, string>;
}

function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

describe('importS3d', function () {
  let dir: string;
  let info: S3dInfo;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'panknet-import-s3d-'));
    execFileSync(PYTHON, [SCRIPT, dir, 's3d'], { stdio: ['ignore', 'ignore', 'pipe'] });
    info = JSON.parse(readFileSync(join(dir, 's3d.json'), 'utf8')) as S3dInfo;
  });

  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  // Warnings go to this list instead of stderr, so that tests can assert on them.
  let warnings: string[] = [];
  let previousSink: LogSink;
  beforeEach(function () {
    warnings = [];
    previousSink = setLogSink((level, message) => {
      if (level === 'warn') warnings.push(message);
    });
  });
  afterEach(function () {
    setLogSink(previousSink);
  });

  it('maps base.* to encoder.base.* with the PankNet encoder shapes (zip)', async function () {
    const result = await importS3d(join(dir, 's3d_zip.pt'));

    const encoder = buildPankNetGraph({ inChannels: 1 }).parameters.filter((p) =>
      p.name.startsWith('encoder.'),
    );
    assert.deepEqual(
      [...result.stateDict.keys()],
      encoder.map((p) => p.name),
    );
    assert.deepEqual(
      [...result.stateDict.keys()].sort(),
      info.encoderKeys.map((key) => `encoder.${key}`).sort(),
    );
    for (const p of encoder) {
      const entry = result.stateDict.get(p.name)!;
      assert.deepEqual(entry.shape, p.shape, p.name);
      assert.equal(
        entry.data.length,
        p.shape.reduce((a, b) => a * b, 1),
        p.name,
      );
    }
    assert.deepEqual(result.stateDict.get('encoder.base.0.conv_s.weight')!.shape, [64, 1, 1, 7, 7]);
    assert.deepEqual(result.firstConvShape, [64, 3, 1, 7, 7]);
    assert.equal(result.keysRead, info.keys);
    assert.equal(result.keysRead, 464);
    assert.deepEqual(info.fcKeys, ['fc.0.weight', 'fc.0.bias']);
    const trackers = Object.keys(info.shapes).filter((k) => k.endsWith('num_batches_tracked'));
    assert.deepEqual(result.skipped.sort(), [...info.fcKeys, ...trackers].sort());
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /dropped 2 Kinetics-400 classifier keys \(fc\.0\.weight, fc\.0\.bias\)/,
    );

    // Learnable scalars from the file's shapes: every base.* weight and bias, first conv at 1/3.
    let learnable = 0;
    for (const key of info.encoderKeys) {
      if (/running_(mean|var)$/.test(key)) continue;
      const n = info.shapes[key]!.reduce((a, b) => a * b, 1);
      learnable += key === 'base.0.conv_s.weight' ? n / 3 : n;
    }
    assert.equal(result.learnable, learnable);
  });

  it('averages the RGB first conv; BN and Mixed tensors stay bit-exact', async function () {
    const { stateDict } = await importS3d(join(dir, 's3d_zip.pt'));

    for (const [key, file] of Object.entries(info.references)) {
      const expected = readF32(join(dir, file));
      const actual = stateDict.get(`encoder.${key}`)!.data;
      assert.equal(actual.length, expected.length, key);
      assert.ok(
        actual.every((v, i) => Object.is(v, expected[i])),
        `${key} differs from the PyTorch reference`,
      );
    }
  });

  it('repeats the averaged first conv for inChannels 3', async function () {
    const { stateDict } = await importS3d(join(dir, 's3d_zip.pt'), { inChannels: 3 });

    const first = stateDict.get('encoder.base.0.conv_s.weight')!;
    const mean = readF32(join(dir, info.references['base.0.conv_s.weight']!));
    assert.deepEqual(first.shape, [64, 3, 1, 7, 7]);
    for (let o = 0; o < 64; o++) {
      for (let c = 0; c < 3; c++) {
        const got = first.data.subarray((o * 3 + c) * 49, (o * 3 + c + 1) * 49);
        assert.deepEqual(got, mean.subarray(o * 49, (o + 1) * 49), `out ${o} in ${c}`);
      }
    }
  });

  it('reads the same from legacy, module.-prefixed and nested files', async function () {
    const reference = await importS3d(join(dir, 's3d_zip.pt'));

    for (const file of ['s3d_legacy.pt', 's3d_module.pt', 's3d_nested.pt']) {
      const { stateDict } = await importS3d(join(dir, file));
      assert.deepEqual([...stateDict.keys()], [...reference.stateDict.keys()], file);
      for (const [key, entry] of reference.stateDict) {
        assert.deepEqual(stateDict.get(key), entry, `${file} ${key}`);
      }
    }
  });

  it('lists a missing key and a mis-shaped key in one WeightsError', async function () {
    const path = join(dir, 's3d_broken.pt');

    await assert.rejects(importS3d(path), (error: unknown) => {
      assert.ok(error instanceof WeightsError);
      assert.match(error.message, /s3d_broken\.pt/);
      assert.match(error.message, /1 missing \(base\.5\.branch1\.1\.bn_t\.running_var\)/);
      const shape = 'base.14.branch0.0.conv.weight is [256, 831, 1, 1, 1], expected [256, 832';
      assert.ok(error.message.includes(`1 mis-shaped (${shape}, 1, 1, 1])`), error.message);
      assert.doesNotMatch(error.message, /unexpected/);
      return true;
    });
  });

  it('rejects a truncated checkpoint with InputFileError naming the file', async function () {
    const bytes = readFileSync(join(dir, 's3d_legacy.pt'));
    const path = join(dir, 'cut.pt');
    writeFileSync(path, bytes.subarray(0, 1_000_000));

    await assert.rejects(importS3d(path), (error: unknown) => {
      assert.ok(error instanceof InputFileError);
      assert.equal(error.file, path);
      assert.match(error.message, /truncated/);
      return true;
    });
  });
});
