import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readTorchCheckpoint } from '../../src/io/read-torch.js';
import { PickleFormatError, PyObject, unpickle } from '../../src/io/torch-pickle.js';
import { gatherStrided, halfToFloat } from '../../src/io/torch-tensor.js';
import { InputFileError } from '../../src/util/errors.js';
import { PROJECT_ROOT } from '../helpers/data.js';

/** Debian's interpreter with python3-torch; the pyenv `python3` on PATH lacks it. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(PROJECT_ROOT, 'test', 'fixtures', 'make_s3d_checkpoint.py');

interface Expected {
  shape: number[];
  dtype: string;
  values: (number | string)[];
}

describe('io/read-torch', function () {
  // Fixtures written once for this file by make_s3d_checkpoint.py (set `views`).
  let dir = '';

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'panknet-read-torch-'));
    execFileSync(PYTHON, [SCRIPT, dir, 'views'], { stdio: ['ignore', 'ignore', 'pipe'] });
  });

  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('readTorchCheckpoint', function () {
    let expected: Record<string, Expected>;

    before(function () {
      const views = readFileSync(join(dir, 'views.json'), 'utf8');
      expected = JSON.parse(views) as Record<string, Expected>;
    });

    for (const format of ['zip', 'legacy']) {
      it(`reads views, offsets, float16/float64/int64, 0-d tensors (${format})`, async function () {
        const tensors = await readTorchCheckpoint(join(dir, `views_${format}.pt`));

        assert.deepEqual([...tensors.keys()], Object.keys(expected));
        for (const [key, want] of Object.entries(expected)) {
          const tensor = tensors.get(key)!;
          assert.deepEqual(tensor.shape, want.shape, key);
          assert.equal(tensor.dtype, want.dtype, key);
          const values =
            want.dtype === 'int64' ? want.values.map((v) => BigInt(v)) : want.values.map(Number);
          assert.deepEqual(Array.from(tensor.data as ArrayLike<unknown>), values, key);
        }
        assert.ok(tensors.get('long')!.data instanceof BigInt64Array);
        assert.ok(tensors.get('half')!.data instanceof Float32Array);
        assert.ok(tensors.get('double')!.data instanceof Float64Array);
      });
    }

    it('gives every tensor its own data, even views of one storage', async function () {
      const tensors = await readTorchCheckpoint(join(dir, 'views_zip.pt'));

      const whole = tensors.get('whole')!.data as Float32Array;
      const sliced = tensors.get('sliced')!.data as Float32Array;
      whole[13] = 100;
      assert.equal(sliced[0], 3.5);
    });

    it('rejects a whole pickled model, naming its class', async function () {
      const path = join(dir, 'whole_model.pt');

      await assert.rejects(readTorchCheckpoint(path), (error: unknown) => {
        assert.ok(error instanceof InputFileError);
        assert.equal(error.file, path);
        assert.match(error.message, /class __main__\.TinyNet, not a state dict/);
        assert.match(error.message, /torch\.nn\.modules\.linear\.Linear/);
        assert.match(error.message, /torch\.save\(model\.state_dict\(\), path\)/);
        return true;
      });
    });

    it('rejects a dict holding a numpy array, naming the numpy classes', async function () {
      await assert.rejects(readTorchCheckpoint(join(dir, 'numpy_value.pt')), (error: unknown) => {
        assert.ok(error instanceof InputFileError);
        assert.match(error.message, /no state dict found: its top-level keys \(weight, scale\)/);
        assert.match(error.message, /numpy\.core\.multiarray\._reconstruct/);
        return true;
      });
    });

    it('rejects a truncated zip checkpoint with InputFileError', async function () {
      const bytes = readFileSync(join(dir, 'views_zip.pt'));
      const path = join(dir, 'truncated_zip.pt');
      writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));

      await assert.rejects(readTorchCheckpoint(path), (error: unknown) => {
        assert.ok(error instanceof InputFileError);
        assert.match(error.message, /truncated_zip\.pt: corrupt or truncated zip archive/);
        return true;
      });
    });

    it('rejects a legacy checkpoint cut in its storages or in its pickle', async function () {
      const bytes = readFileSync(join(dir, 'views_legacy.pt'));
      const inStorages = join(dir, 'cut_storages.pt');
      const inPickle = join(dir, 'cut_pickle.pt');
      writeFileSync(inStorages, bytes.subarray(0, bytes.length - 10));
      writeFileSync(inPickle, bytes.subarray(0, 300));

      await assert.rejects(readTorchCheckpoint(inStorages), (error: unknown) => {
        assert.ok(error instanceof InputFileError);
        assert.match(error.message, /cut_storages\.pt: storage \d+ is truncated/);
        return true;
      });
      await assert.rejects(readTorchCheckpoint(inPickle), (error: unknown) => {
        assert.ok(error instanceof InputFileError);
        assert.match(
          error.message,
          /cut_pickle\.pt: corrupt or truncated PyTorch checkpoint: pickle/,
        );
        return true;
      });
    });

    it('rejects files that are not checkpoints, and missing files', async function () {
      const text = join(dir, 'notes.pt');
      writeFileSync(text, 'these are not weights\n');

      await assert.rejects(readTorchCheckpoint(text), /notes\.pt: not a PyTorch checkpoint/);
      await assert.rejects(
        readTorchCheckpoint(join(dir, 'absent.pt')),
        /absent\.pt: cannot read the checkpoint \(ENOENT\)/,
      );
    });
  });

  describe('unpickle', function () {
    for (let protocol = 0; protocol <= 5; protocol++) {
      it(`reads plain Python data pickled at protocol ${protocol}`, function () {
        const bytes = readFileSync(join(dir, `plain_p${protocol}.pkl`));

        const { value, end } = unpickle(bytes);

        assert.equal(end, bytes.length);
        assert.ok(value instanceof Map);
        const shared = [1, 2];
        assert.deepEqual(
          value,
          new Map<string, unknown>([
            ['small', 7],
            ['negative', -300],
            ['int32', 2147483647],
            ['big', 2n ** 70n],
            ['negative_big', -(2n ** 64n) - 1n],
            ['float', 0.1],
            ['text', 'h\u00e9llo \u2713 a\\b\nc'],
            ['bytes', new Uint8Array([0, 255, 65])],
            ['nested', [1, [2, 3], [4, 'x']]],
            ['flags', [true, false, null]],
            ['shared', [shared, shared]],
            ['set', new Set([5])],
            [
              'ordered',
              new Map([
                ['b', 1],
                ['a', 2],
              ]),
            ],
          ]),
        );
        // The memo makes both tuple items the same list, as in Python.
        const pair = value.get('shared') as unknown[];
        assert.equal(pair[0], pair[1]);
      });
    }

    it('keeps unknown classes as named placeholders and never calls them', function () {
      // Protocol 2: GLOBAL os.system, ('echo hi',), REDUCE, STOP.
      const bytes = Buffer.concat([
        Buffer.from([0x80, 0x02]),
        Buffer.from('cos\nsystem\n', 'latin1'),
        Buffer.from([0x58, 7, 0, 0, 0]),
        Buffer.from('echo hi', 'latin1'),
        Buffer.from([0x85, 0x52, 0x2e]),
      ]);

      const { value } = unpickle(bytes);

      assert.ok(value instanceof PyObject);
      assert.equal(value.cls.qualifiedName, 'os.system');
      assert.deepEqual(value.args, ['echo hi']);
    });

    it('throws PickleFormatError for an unknown opcode and for truncation', function () {
      assert.throws(
        () => unpickle(Uint8Array.from([0x80, 0x02, 0xff])),
        (error: unknown) => {
          assert.ok(error instanceof PickleFormatError);
          assert.match(error.message, /unsupported pickle opcode 0xff \(at byte 2\)/);
          return true;
        },
      );
      assert.throws(
        () => unpickle(Uint8Array.from([0x80, 0x02, 0x58, 9, 0, 0, 0, 0x41])),
        /truncated/,
      );
    });
  });

  describe('torch-tensor helpers', function () {
    it('halfToFloat decodes normal, subnormal, infinite and NaN halves', function () {
      assert.equal(halfToFloat(0x3c00), 1);
      assert.equal(halfToFloat(0xc000), -2);
      assert.equal(halfToFloat(0x7bff), 65504);
      assert.equal(halfToFloat(0x0001), 2 ** -24);
      assert.equal(halfToFloat(0x7c00), Infinity);
      assert.ok(Number.isNaN(halfToFloat(0x7e00)));
    });

    it('gatherStrided copies a transposed [3, 2] view of a [2, 3] storage', function () {
      const storage = Float32Array.from([0, 1, 2, 3, 4, 5]);

      const out = gatherStrided(storage, 0, [3, 2], [1, 3]);

      assert.deepEqual(Array.from(out as Float32Array), [0, 3, 1, 4, 2, 5]);
    });
  });
});
