import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { readNifti } from '../../src/io/read-nifti.js';
import type { Mat4 } from '../../src/io/volume.js';
import { InputFileError, UnsupportedError } from '../../src/util/errors.js';
import { sharedData } from '../helpers/data.js';
import { identityVolume, writeNiftiFile } from '../helpers/nifti-files.js';
import { tempDirPerTest } from '../helpers/temp-dir.js';

/**
 * Builds a NIfTI-2 file by hand (540-byte header, independent of our writer): int16 voxels
 * `data`, qform only, quaternion (b, c, d) = (0, 0, 1) (180 degrees about z) and qfac -1.
 */
function handMadeNifti2(shape: number[], data: number[], littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(544 + data.length * 2);
  const v = new DataView(out.buffer);
  const le = littleEndian;
  v.setInt32(0, 540, le);
  'n+2\0\r\n\x1a\n'.split('').forEach((ch, n) => v.setUint8(4 + n, ch.charCodeAt(0)));
  v.setInt16(12, 4, le);
  v.setInt16(14, 16, le);
  [3, ...shape, 1, 1, 1, 1].forEach((d, n) => v.setBigInt64(16 + 8 * n, BigInt(d), le));
  [-1, 2, 3, 4, 1, 1, 1, 1].forEach((p, n) => v.setFloat64(104 + 8 * n, p, le));
  v.setBigInt64(168, 544n, le);
  v.setFloat64(176, 0, le);
  v.setInt32(344, 1, le);
  v.setInt32(348, 0, le);
  [0, 0, 1, 10, 20, 30].forEach((q, n) => v.setFloat64(352 + 8 * n, q, le));
  data.forEach((x, n) => v.setInt16(544 + 2 * n, x, le));
  return out;
}

describe('readNifti', function () {
  const dir = tempDirPerTest('panknet-read-nifti-');

  it('reads the 122 x 101 x 112 int32 CT (sform 2, no qform) as nibabel', async function () {
    const v = await readNifti(sharedData('ct-abdomen-3mm.nii.gz'));
    assert.deepEqual(v.shape, [122, 101, 112]);
    assert.ok(v.data instanceof Int32Array);
    assert.equal(v.meta.datatype, 'int32');
    assert.equal(v.meta.affineFrom, 'sform');
    assert.equal(v.meta.sformCode, 2);
    assert.equal(v.meta.qformCode, 0);
    // nibabel 5.0 (/usr/bin/python3): img.affine and np.asanyarray(img.dataobj)[i, j, k].
    const nib = [
      [3, 0, 0, -177.95632935],
      [0, 3, 0, 11.31900024],
      [0, 0, 3, 94.30175781],
      [0, 0, 0, 1],
    ];
    nib.forEach((row, r) => row.forEach((x, c) => assert.ok(Math.abs(v.affine[r][c] - x) < 1e-6)));
    const at = (i: number, j: number, k: number): number => v.data[i + 122 * (j + 101 * k)];
    assert.equal(at(0, 0, 0), -1023);
    assert.equal(at(61, 50, 56), 164);
    assert.equal(at(100, 20, 90), -99);
    assert.equal(at(121, 100, 111), -997);
    assert.equal(at(30, 70, 10), -69);
    assert.equal(
      v.data.reduce((s: number, x: number) => s + x, 0),
      -496851173,
    );
    assert.deepEqual(v.spacingMm, [3, 3, 3]);
  });

  it('reads a hand-made NIfTI-2 2 x 3 x 4 int16, both byte orders, qfac -1', async function () {
    const data = Array.from({ length: 24 }, (_, n) => n * 100 - 1000);
    for (const le of [true, false]) {
      const path = join(dir(), `n2-${le ? 'le' : 'be'}.nii`);
      writeFileSync(path, handMadeNifti2([2, 3, 4], data, le));
      const v = await readNifti(path);
      assert.deepEqual(v.shape, [2, 3, 4]);
      assert.deepEqual(Array.from(v.data), data);
      assert.equal(v.meta.affineFrom, 'qform');
      // 180 degrees about z negates x and y; qfac -1 negates the k column: diag(-2, -3, -4).
      const expected: Mat4 = [
        [-2, 0, 0, 10],
        [0, -3, 0, 20],
        [0, 0, -4, 30],
        [0, 0, 0, 1],
      ];
      expected.forEach((row, r) =>
        row.forEach((x, c) => assert.ok(Math.abs(v.affine[r][c] - x) < 1e-9)),
      );
    }
  });

  it('refuses a gzip stream cut to 60% as truncated, naming the file', async function () {
    const whole = readFileSync(sharedData('ct-abdomen-3mm-30slices.nii.gz'));
    const path = join(dir(), 'cut.nii.gz');
    writeFileSync(path, whole.subarray(0, Math.floor(whole.length * 0.6)));
    await assert.rejects(readNifti(path), (e: Error) => {
      assert.ok(e instanceof InputFileError);
      assert.match(e.message, /cut\.nii\.gz: .*truncated or corrupt/);
      return true;
    });
  });

  it('refuses voxel data shorter than the header says, with sizes and shape', async function () {
    const v = identityVolume(new Int16Array(32 * 32 * 20), [32, 32, 20], { datatype: 'int16' });
    const full = await writeNiftiFile(join(dir(), 'full.nii'), v);
    const path = join(dir(), 'short.nii');
    writeFileSync(path, readFileSync(full).subarray(0, 352 + 20480));
    await assert.rejects(readNifti(path), (e: Error) => {
      assert.ok(e instanceof InputFileError);
      assert.match(e.message, /short\.nii: header promises 32 x 32 x 20 int16 voxels, 40960 bytes/);
      assert.match(e.message, /holds only 20480 bytes/);
      return true;
    });
  });

  it('refuses non-NIfTI files, unknown datatypes and real 4D without a frame', async function () {
    const junk = join(dir(), 'junk.nii');
    writeFileSync(junk, Buffer.alloc(400, 7));
    await assert.rejects(readNifti(junk), /junk\.nii: is not a NIfTI-1 or NIfTI-2 file/);
    await assert.rejects(readNifti(join(dir(), 'missing.nii')), /missing\.nii: no such file/);

    // Datatype 32 (complex64) patched into a valid header.
    const base = readFileSync(sharedData('ct-abdomen-3mm-30slices.labels.nii.gz'));
    const { gunzipSync } = await import('node:zlib');
    const raw = gunzipSync(base);
    const complex = Buffer.from(raw);
    complex.writeInt16LE(32, 70);
    const cpath = join(dir(), 'complex.nii.gz');
    writeFileSync(cpath, gzipSync(complex));
    await assert.rejects(readNifti(cpath), (e: Error) => {
      assert.ok(e instanceof InputFileError);
      assert.match(e.message, /complex64 \(code 32\), which is not supported/);
      return true;
    });

    // Two time points: dim[0] = 4, t = 2 on a 122 x 101 x 15 uint8 grid (same bytes).
    const four = Buffer.from(raw);
    four.writeInt16LE(4, 40);
    four.writeInt16LE(15, 46);
    four.writeInt16LE(2, 48);
    const fpath = join(dir(), 'four.nii');
    writeFileSync(fpath, four);
    await assert.rejects(readNifti(fpath), /4D image with 2 time points \(122 x 101 x 15 x 2\)/);
    const labels = await readNifti(sharedData('ct-abdomen-3mm-30slices.labels.nii.gz'));
    const second = await readNifti(fpath, { frame: 1 });
    assert.deepEqual(second.shape, [122, 101, 15]);
    assert.deepEqual(second.data, labels.data.subarray(122 * 101 * 15));
    await assert.rejects(readNifti(fpath, { frame: 2 }), /frame 2 does not exist/);
  });

  it('applies slope 0.5 / intercept -1024 as float32; ignores slope 0', async function () {
    const raw = (await import('node:zlib')).gunzipSync(
      readFileSync(sharedData('ct-abdomen-3mm-30slices.nii.gz')),
    );
    const original = await readNifti(sharedData('ct-abdomen-3mm-30slices.nii.gz'));
    const scaled = Buffer.from(raw);
    scaled.writeFloatLE(0.5, 112);
    scaled.writeFloatLE(-1024, 116);
    writeFileSync(join(dir(), 's.nii'), scaled);
    const v = await readNifti(join(dir(), 's.nii'));
    assert.ok(v.data instanceof Float32Array);
    assert.equal(v.meta.datatype, 'int16');
    for (const n of [0, 1000, 200000]) assert.equal(v.data[n], original.data[n] * 0.5 - 1024);
    scaled.writeFloatLE(0, 112);
    writeFileSync(join(dir(), 'z.nii'), scaled);
    const z = await readNifti(join(dir(), 'z.nii'));
    assert.ok(z.data instanceof Int16Array);
    assert.deepEqual(z.data, original.data);
  });
});
