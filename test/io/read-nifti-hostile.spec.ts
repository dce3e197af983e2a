import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { readNifti } from '../../src/io/read-nifti.js';
import type { Volume } from '../../src/io/volume.js';
import { encodeNifti1 } from '../../src/io/write-nifti.js';
import { InputFileError } from '../../src/util/errors.js';
import { setLogSink } from '../../src/util/log.js';

function smallVolume(data: Float32Array): Volume {
  return {
    data,
    shape: [4, 3, 2],
    spacingMm: [1, 1, 1],
    affine: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
    meta: { datatype: 'float32' },
  };
}

describe('readNifti on damaged and hostile headers', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'panknet-hostile-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a .nii.gz claiming 30000^3 float32 voxels before inflating it', async () => {
    const bytes = encodeNifti1(smallVolume(new Float32Array(24)));
    const view = new DataView(bytes.buffer);
    for (const axis of [1, 2, 3]) view.setInt16(40 + 2 * axis, 30000, true);
    // The stream is cut short: inflating it all would fail as "truncated"; the header alone
    // must be enough to refuse the file.
    const stream = gzipSync(Buffer.concat([Buffer.from(bytes), Buffer.alloc(2 ** 22)]));
    const path = join(dir, 'bomb.nii.gz');
    writeFileSync(path, stream.subarray(0, Math.floor(stream.length * 0.7)));
    await assert.rejects(readNifti(path), (error: unknown) => {
      assert.ok(error instanceof InputFileError);
      assert.match(error.message, /bomb\.nii\.gz: header declares 30000 x 30000 x 30000 voxels/);
      assert.match(error.message, /more than this machine can hold/);
      return true;
    });
  });

  it('warns with the count when float voxels are NaN and keeps them', async () => {
    const data = new Float32Array(24).fill(5);
    data[3] = NaN;
    data[7] = NaN;
    const path = join(dir, 'nan.nii');
    writeFileSync(path, encodeNifti1(smallVolume(data)));
    const lines: string[] = [];
    const previous = setLogSink((level, message) => lines.push(`${level}: ${message}`));
    try {
      const volume = await readNifti(path);
      assert.ok(Number.isNaN(volume.data[3]!));
      assert.ok(volume.meta.warnings?.some((w) => w.startsWith('2 of 24 voxels are NaN')));
      assert.ok(
        lines.some((l) => /^warn: .*nan\.nii: 2 of 24 voxels are NaN/.test(l)),
        lines.join(),
      );
    } finally {
      setLogSink(previous);
    }
  });

  it('refuses a zero voxel size when the geometry comes from the qform', async () => {
    const bytes = encodeNifti1(smallVolume(new Float32Array(24)));
    const view = new DataView(bytes.buffer);
    view.setInt16(254, 0, true); // sform_code 0: the qform (and its pixdim) decides
    view.setFloat32(84, 0, true); // pixdim[2] = 0 (y)
    const path = join(dir, 'zero-spacing.nii');
    writeFileSync(path, bytes);
    await assert.rejects(
      readNifti(path),
      /zero-spacing\.nii: pixdim gives voxel sizes 1 x 0 x 1 mm/,
    );
  });
});
