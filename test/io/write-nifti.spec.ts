import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { readNifti } from '../../src/io/read-nifti.js';
import type { Mat4, Volume, VoxelArray, VoxelDatatype } from '../../src/io/volume.js';
import { writeNifti } from '../../src/io/write-nifti.js';
import { rawStoredValue } from '../helpers/nifti-check.js';
import { identityVolume } from '../helpers/nifti-files.js';
import { tempDirPerTest } from '../helpers/temp-dir.js';

/** Oblique, left-handed: 0.3 rad about z, -0.5 about x, spacing (-0.8, 0.9, 2.5) mm. */
function obliqueAffine(): Mat4 {
  const [t, u] = [0.3, -0.5];
  const rz = [
    [Math.cos(t), -Math.sin(t), 0],
    [Math.sin(t), Math.cos(t), 0],
    [0, 0, 1],
  ];
  const rx = [
    [1, 0, 0],
    [0, Math.cos(u), -Math.sin(u)],
    [0, Math.sin(u), Math.cos(u)],
  ];
  const spacing = [-0.8, 0.9, 2.5];
  const out: number[][] = [0, 1, 2].map((r) =>
    [0, 1, 2].map(
      (c) => (rz[r][0] * rx[0][c] + rz[r][1] * rx[1][c] + rz[r][2] * rx[2][c]) * spacing[c],
    ),
  );
  out[0].push(5);
  out[1].push(-3);
  out[2].push(7);
  out.push([0, 0, 0, 1]);
  return out as Mat4;
}

const CASES: [VoxelDatatype, VoxelArray][] = [
  ['uint8', Uint8Array.from({ length: 60 }, (_, n) => (n * 7) % 256)],
  ['int8', Int8Array.from({ length: 60 }, (_, n) => n * 4 - 120)],
  ['int16', Int16Array.from({ length: 60 }, (_, n) => n * 1000 - 30000)],
  ['uint16', Uint16Array.from({ length: 60 }, (_, n) => n * 1000 + 5000)],
  ['int32', Int32Array.from({ length: 60 }, (_, n) => n * 70000000 - 2100000000)],
  ['uint32', Uint32Array.from({ length: 60 }, (_, n) => n * 70000000)],
  ['float32', Float32Array.from({ length: 60 }, (_, n) => n / 3 - 7)],
  ['float64', Float64Array.from({ length: 60 }, (_, n) => n / 3 - 7 + 1e-12)],
];

describe('writeNifti', function () {
  const dir = tempDirPerTest('panknet-write-nifti-');

  for (const [datatype, data] of CASES) {
    it(`round-trips 3 x 4 x 5 ${datatype}, oblique affine (.nii, .nii.gz)`, async function () {
      const volume: Volume = {
        data,
        shape: [3, 4, 5],
        spacingMm: [0.8, 0.9, 2.5],
        affine: obliqueAffine(),
        meta: { datatype },
      };
      for (const name of ['v.nii', 'v.nii.gz']) {
        await writeNifti(volume, join(dir(), name));
        const back = await readNifti(join(dir(), name));
        assert.equal(back.meta.datatype, datatype);
        assert.equal(back.data.constructor, data.constructor);
        assert.deepEqual(back.data, data);
        assert.deepEqual(back.shape, [3, 4, 5]);
        assert.equal(back.meta.affineFrom, 'sform');
        assert.equal(back.meta.sformCode, 1);
        assert.equal(back.meta.qformCode, 1);
        // The sform stores float32: equal to the affine within float32 rounding.
        volume.affine.forEach((row, r) =>
          row.forEach((x, c) => assert.equal(back.affine[r][c], Math.fround(x))),
        );
        assert.deepEqual(back.meta.warnings, [], 'qform and sform must agree');
        assert.equal(rawStoredValue(join(dir(), name), [2, 3, 4]), data[59]);
      }
      assert.deepEqual(readdirSync(dir()).sort(), ['v.nii', 'v.nii.gz'], 'no temp files left');
    });
  }

  it('writes a float mask as uint8; refuses values that do not fit', async function () {
    const volume = identityVolume(Float64Array.from([0, 1, 1, 0, 1, 0, 0, 1]), [2, 2, 2], {
      datatype: 'float64',
      sformCode: 2,
      qformCode: 0,
    });
    await writeNifti(volume, join(dir(), 'm.nii.gz'), { datatype: 'uint8' });
    const back = await readNifti(join(dir(), 'm.nii.gz'));
    assert.ok(back.data instanceof Uint8Array);
    assert.deepEqual(Array.from(back.data), [0, 1, 1, 0, 1, 0, 0, 1]);
    assert.equal(back.meta.sformCode, 2, 'source sform code kept');
    assert.equal(back.meta.qformCode, 2, 'qform set too, with the sform code');
    volume.data[3] = 300;
    await assert.rejects(
      writeNifti(volume, join(dir(), 'bad.nii'), { datatype: 'uint8' }),
      /does not fit uint8/,
    );
    assert.deepEqual(readdirSync(dir()), ['m.nii.gz'], 'nothing left by the failed write');
  });

  it('writes headers that nibabel reads with the same sform, qform and voxels', async function () {
    const volume: Volume = {
      data: Int16Array.from({ length: 60 }, (_, n) => n * 3 - 90),
      shape: [3, 4, 5],
      spacingMm: [0.8, 0.9, 2.5],
      affine: obliqueAffine(),
      meta: { datatype: 'int16' },
    };
    const path = join(dir(), 'nib.nii.gz');
    await writeNifti(volume, path);
    // Debian python3-nibabel, a test tool only: prints sform, qform and voxel [2, 3, 4].
    const script = [
      'import sys, json, nibabel as nib, numpy as np',
      'img = nib.load(sys.argv[1]); h = img.header',
      'print(json.dumps({"s": h.get_sform().tolist(), "q": h.get_qform().tolist(),',
      '  "codes": [int(h["sform_code"]), int(h["qform_code"])],',
      '  "v": float(np.asanyarray(img.dataobj)[2, 3, 4]), "shape": list(img.shape)}))',
    ].join('\n');
    const out = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' }),
    );
    assert.deepEqual(out.shape, [3, 4, 5]);
    assert.deepEqual(out.codes, [1, 1]);
    assert.equal(out.v, 87);
    volume.affine.forEach((row, r) =>
      row.forEach((x, c) => {
        assert.ok(Math.abs(out.s[r][c] - x) < 1e-6, `sform[${r}][${c}]`);
        assert.ok(Math.abs(out.q[r][c] - x) < 1e-5, `qform[${r}][${c}]`);
      }),
    );
  });
});
