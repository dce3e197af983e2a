import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { listDicomSeries, readDicomSeries } from '../../src/io/read-dicom.js';
import type { Mat4, Volume } from '../../src/io/volume.js';
import { InputFileError, UnsupportedError } from '../../src/util/errors.js';
import { setLogSink } from '../../src/util/log.js';
import { PROJECT_ROOT, sharedCase } from '../helpers/data.js';

/** One entry of the manifest written by test/fixtures/make_dicom.py. */
interface FixtureCase {
  folder: string;
  affine?: number[][];
  shape?: number[];
  truth?: string;
  datatype?: string;
  tolerance?: number;
  warnings?: string[];
  kept_truth?: string;
  bad_file?: string;
}

let root = '';
let manifest: Record<string, FixtureCase> = {};

function fixture(name: string): FixtureCase {
  const entry = manifest[name];
  if (entry === undefined) throw new Error(`make_dicom.py wrote no case ${name}`);
  return entry;
}

function readTruth(path: string): Float64Array {
  const bytes = readFileSync(path);
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function assertAffineClose(actual: Mat4, expected: number[][], atolMm = 1e-4): void {
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      const diff = Math.abs(actual[r][c] - expected[r][c]);
      assert.ok(
        diff <= atolMm,
        `affine[${r}][${c}] = ${actual[r][c]}, expected ${expected[r][c]}\n` +
          `actual ${JSON.stringify(actual)}\nexpected ${JSON.stringify(expected)}`,
      );
    }
  }
}

/** Checks shape, affine, datatype and every voxel against the fixture's definition. */
function assertMatchesFixture(volume: Volume, c: FixtureCase): void {
  assert.deepEqual(volume.shape, c.shape);
  assertAffineClose(volume.affine, c.affine as number[][]);
  assert.equal(volume.meta.datatype, c.datatype);
  assert.equal(volume.meta.affineFrom, 'dicom');
  const truth = readTruth(c.truth as string);
  assert.equal(volume.data.length, truth.length);
  let worst = 0;
  for (let n = 0; n < truth.length; n++) {
    worst = Math.max(worst, Math.abs(volume.data[n] - truth[n]));
  }
  assert.ok(worst <= (c.tolerance ?? 0), `largest voxel error ${worst} > ${c.tolerance}`);
}

/** Inverse of the affine's 3x3 part applied to (ras - origin): the voxel coordinate. */
function voxelOf(affine: Mat4, ras: number[]): number[] {
  const m = affine.map((row) => row.slice(0, 3));
  const d = [0, 1, 2].map((r) => ras[r] - affine[r][3]);
  const det = (a: number[][]): number =>
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
    a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
    a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  const whole = det(m);
  // Cramer's rule: replace column c by d.
  return [0, 1, 2].map((c) => {
    const replaced = m.map((row, r) => row.map((v, k) => (k === c ? d[r] : v)));
    return det(replaced) / whole;
  });
}

function valueAt(volume: Volume, ras: number[]): number {
  const [i, j, k] = voxelOf(volume.affine, ras).map(Math.round);
  const [nx, ny, nz] = volume.shape;
  assert.ok(i >= 0 && i < nx && j >= 0 && j < ny && k >= 0 && k < nz, `${ras} is outside`);
  return volume.data[i + nx * (j + ny * k)];
}

/** World shape, spacing and voxel-centre bbox along R, A, S of an axis-aligned volume. */
function worldGeometry(volume: Volume): {
  shape: Record<string, number>;
  spacing: Record<string, number>;
  bbox: Record<string, [number, number]>;
} {
  const names = ['R', 'A', 'S'];
  const shape: Record<string, number> = {};
  const spacing: Record<string, number> = {};
  const bbox: Record<string, [number, number]> = {};
  for (let axis = 0; axis < 3; axis++) {
    const column = [0, 1, 2].map((r) => volume.affine[r][axis]);
    const world = column.map(Math.abs).indexOf(Math.max(...column.map(Math.abs)));
    shape[names[world]] = volume.shape[axis];
    spacing[names[world]] = Math.hypot(...column);
  }
  for (let w = 0; w < 3; w++) {
    const values: number[] = [];
    for (const i of [0, volume.shape[0] - 1]) {
      for (const j of [0, volume.shape[1] - 1]) {
        for (const k of [0, volume.shape[2] - 1]) {
          const a = volume.affine[w];
          values.push(a[0] * i + a[1] * j + a[2] * k + a[3]);
        }
      }
    }
    bbox[names[w]] = [Math.min(...values), Math.max(...values)];
  }
  return { shape, spacing, bbox };
}

interface CaseExpect {
  world_shape?: Record<string, number>;
  world_spacing_mm?: Record<string, number>;
  bbox_ras_mm?: Record<string, [number, number]>;
  world_points?: { ras_mm: number[]; value: number }[];
  value_atol?: number;
  intensity?: { min: number; max: number };
  slice_values_inferior_to_superior?: number[];
}

function expectedConvert(caseId: string): CaseExpect {
  const all = JSON.parse(readFileSync(sharedCase('expected.json'), 'utf8')) as {
    cases: Record<string, { checks: { kind: string; expect: CaseExpect }[] }>;
  };
  const check = all.cases[caseId].checks.find((c) => c.kind === 'convert');
  if (check === undefined) throw new Error(`expected.json has no convert check for ${caseId}`);
  return check.expect;
}

function assertRealCase(volume: Volume, expect: CaseExpect): void {
  const world = worldGeometry(volume);
  assert.deepEqual(world.shape, expect.world_shape);
  for (const [axis, mm] of Object.entries(expect.world_spacing_mm ?? {})) {
    assert.ok(Math.abs(world.spacing[axis] - mm) < 1e-4, `spacing ${axis} ${world.spacing[axis]}`);
  }
  for (const [axis, [lo, hi]] of Object.entries(expect.bbox_ras_mm ?? {})) {
    assert.ok(Math.abs(world.bbox[axis][0] - lo) < 1e-3, `bbox ${axis} min ${world.bbox[axis]}`);
    assert.ok(Math.abs(world.bbox[axis][1] - hi) < 1e-3, `bbox ${axis} max ${world.bbox[axis]}`);
  }
  for (const point of expect.world_points ?? []) {
    const value = valueAt(volume, point.ras_mm);
    assert.ok(
      Math.abs(value - point.value) <= (expect.value_atol ?? 0),
      `value at ${point.ras_mm} is ${value}, expected ${point.value}`,
    );
  }
}

async function rejects(
  promise: Promise<unknown>,
  errorClass: typeof InputFileError | typeof UnsupportedError,
  ...mentions: (string | RegExp)[]
): Promise<string> {
  let message = '';
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    message = (error as Error).message;
    return true;
  });
  for (const m of mentions) {
    if (typeof m === 'string') assert.ok(message.includes(m), `"${message}" lacks "${m}"`);
    else assert.match(message, m);
  }
  return message;
}

describe('readDicomSeries', function () {
  before(function () {
    // Writing about 150 small files through pydicom, dcmtk and gdcm takes 1-3 s.
    this.timeout(60000);
    root = mkdtempSync(join(tmpdir(), 'panknet-dicom-'));
    const script = join(PROJECT_ROOT, 'test', 'fixtures', 'make_dicom.py');
    execFileSync('/usr/bin/python3', [script, join(root, 'fx')], { stdio: 'pipe' });
    manifest = JSON.parse(readFileSync(join(root, 'fx', 'manifest.json'), 'utf8')) as Record<
      string,
      FixtureCase
    >;
  });

  after(function () {
    if (root !== '') rmSync(root, { recursive: true, force: true });
  });

  describe('transfer syntaxes (pixels and geometry vs the phantom)', function () {
    const lossless: [string, string][] = [
      ['implicit', 'implicit VR LE, signed int16, files named against slice order'],
      ['explicit', 'explicit VR LE, uint16 + intercept -1024, oblique'],
      ['deflated', 'deflated explicit VR LE (dcmconv +td)'],
      ['rle_pydicom', "RLE lossless from pydicom's encoder, signed"],
      ['rle_dcmtk', "RLE lossless from dcmtk's dcmcrle, unsigned"],
      ['jpeg_sv1', 'JPEG lossless process 14 SV1 (.70), signed'],
      ['jpeg_p14', 'JPEG lossless process 14 selection value 6 (.57), unsigned'],
      ['j2k_signed', 'JPEG 2000 lossless (.90), signed'],
      ['j2k', 'JPEG 2000 lossless (.90), unsigned'],
      ['jpegls', 'JPEG-LS lossless (.80)'],
    ];
    for (const [name, what] of lossless) {
      it(`reads ${what} exactly: 10x12x5 voxels, affine to 1e-4 mm`, async function () {
        const c = fixture(name);
        assertMatchesFixture(await readDicomSeries(c.folder), c);
      });
    }

    it('reads JPEG 2000 lossy (.91, gdcmconv -r 4) within 8 of the original', async function () {
      const c = fixture('j2k_lossy');
      const volume = await readDicomSeries(c.folder);
      assert.deepEqual(volume.shape, [32, 32, 4]);
      assertMatchesFixture(volume, c);
    });

    it('reads 8-bit baseline JPEG (.50, quality 95) within 6 of the original', async function () {
      const c = fixture('jpeg_baseline');
      const volume = await readDicomSeries(c.folder);
      assert.ok(volume.data instanceof Uint8Array);
      assert.equal(volume.meta.modality, 'MR');
      assertMatchesFixture(volume, c);
    });

    it('returns Int16Array HU for uint16 stored values with intercept -1024', async function () {
      const volume = await readDicomSeries(fixture('explicit').folder);
      assert.ok(volume.data instanceof Int16Array);
      assert.equal(volume.meta.datatype, 'uint16');
      assert.ok(Math.abs(volume.spacingMm[2] - 2.5) < 1e-6, 'spacing from positions, not 9.5');
    });

    it('refuses explicit VR big endian, naming the file and tools', async function () {
      const c = fixture('bigendian');
      const hint = ['big endian', c.folder, 'gdcmconv'];
      await rejects(readDicomSeries(c.folder), UnsupportedError, ...hint);
    });
  });

  describe('folders and file lists', function () {
    it('lists two series ordered by SeriesNumber, skipping README and DICOMDIR', async function () {
      const series = await listDicomSeries(fixture('multi_venous').folder);
      assert.deepEqual(series, [
        {
          uid: '1.2.826.0.1.3680043.8.498.9',
          number: 1,
          description: 'venous',
          files: 3,
          modality: 'CT',
        },
        {
          uid: '1.2.826.0.1.3680043.8.498.2',
          number: 2,
          description: 'arterial',
          files: 5,
          modality: 'CT',
        },
      ]);
    });

    it('asks for --series when a folder holds two series, listing both', async function () {
      const folder = fixture('multi_venous').folder;
      await rejects(
        readDicomSeries(folder),
        InputFileError,
        folder,
        '1.2.826.0.1.3680043.8.498.9 "venous" 3 slices',
        '1.2.826.0.1.3680043.8.498.2 "arterial" 5 slices',
        '--series',
      );
    });

    it('picks a series by index and by UID, from nested folders', async function () {
      const venous = fixture('multi_venous');
      assertMatchesFixture(await readDicomSeries(venous.folder, { series: '0' }), venous);
      const arterial = fixture('multi_arterial');
      const byUid = await readDicomSeries(arterial.folder, {
        series: '1.2.826.0.1.3680043.8.498.2',
      });
      assertMatchesFixture(byUid, arterial);
      assert.equal(byUid.meta.seriesDescription, 'arterial');
      assert.equal(byUid.meta.seriesUid, '1.2.826.0.1.3680043.8.498.2');
      assert.equal(byUid.meta.sourceFile, arterial.folder);
      await rejects(readDicomSeries(venous.folder, { series: '2' }), InputFileError, '"2"');
    });

    it('reads a list of files given in any order', async function () {
      const c = fixture('implicit');
      const files = readdirSync(c.folder)
        .map((f) => join(c.folder, f))
        .reverse();
      assertMatchesFixture(await readDicomSeries(files), c);
    });

    it('rejects a non-DICOM file named in a list, and a folder without DICOM', async function () {
      const c = fixture('implicit');
      const notes = join(root, 'notes.txt');
      writeFileSync(notes, 'not an image\n');
      await rejects(
        readDicomSeries([join(c.folder, 'IM1'), notes]),
        InputFileError,
        notes,
        'not a DICOM file',
      );
      const empty = mkdtempSync(join(root, 'empty-'));
      writeFileSync(join(empty, 'README'), 'nothing here\n');
      await rejects(readDicomSeries(empty), InputFileError, empty, 'no DICOM image');
    });
  });

  describe('geometry traps', function () {
    it('warns about gantry tilt and keeps the sheared geometry exact', async function () {
      const lines: string[] = [];
      const previous = setLogSink((level, message) => lines.push(`${level}: ${message}`));
      try {
        const c = fixture('tilt');
        const volume = await readDicomSeries(c.folder);
        assertMatchesFixture(volume, c);
        assert.equal(volume.meta.warnings?.length, 1);
        assert.match(volume.meta.warnings?.[0] ?? '', /gantry tilt of about 24\.\d+ degrees/);
        assert.ok(lines.some((l) => l.startsWith('warn: ') && l.includes('gantry tilt')));
      } finally {
        setLogSink(previous);
      }
    });

    it('warns about a missing slice, listing the 4 mm gap; builds on 2 mm', async function () {
      const lines: string[] = [];
      const previous = setLogSink((level, message) => lines.push(`${level}: ${message}`));
      try {
        const c = fixture('missing');
        const volume = await readDicomSeries(c.folder);
        assert.deepEqual(volume.shape, c.shape);
        assert.ok(Math.abs(volume.spacingMm[2] - 2) < 1e-6);
        const truth = readTruth(c.kept_truth as string);
        assert.deepEqual(Array.from(volume.data), Array.from(truth));
        const warning = volume.meta.warnings?.[0] ?? '';
        assert.match(warning, /uneven slice spacing: most gaps are 2 mm but 4 mm/);
        assert.ok(warning.includes('slice001.dcm'), warning);
        assert.ok(lines.some((l) => l.startsWith('warn: ') && l.includes('4 mm')));
      } finally {
        setLogSink(previous);
      }
    });

    it('rejects two slices at one position, naming both files', async function () {
      const c = fixture('duplicate');
      await rejects(
        readDicomSeries(c.folder),
        InputFileError,
        'copy_of_2.dcm',
        'slice002.dcm',
        'same position',
      );
    });
  });

  describe('bad files', function () {
    it('refuses multi-frame files with UnsupportedError', async function () {
      const c = fixture('multiframe');
      await rejects(readDicomSeries(c.folder), UnsupportedError, 'multi-frame', 'slice000.dcm');
    });

    for (const [name, problem] of [
      ['nopixels', 'no pixel data'],
      ['rows', '10x6 pixels'],
      ['truncated', 'corrupt or truncated'],
    ]) {
      it(`names the file in an InputFileError: ${problem}`, async function () {
        const c = fixture(name);
        const message = await rejects(readDicomSeries(c.folder), InputFileError, problem);
        assert.ok(message.startsWith(join(c.folder, c.bad_file as string)), message);
      });
    }
  });

  describe('real-world cases from ../shared/cases', function () {
    it('d01: slice spacing 2.5 mm from positions, not SliceThickness 5 mm', async function () {
      const volume = await readDicomSeries(sharedCase('d01_slicethickness_vs_ipp/series'));
      assertRealCase(volume, expectedConvert('d01_slicethickness_vs_ipp'));
    });

    it('d02: stacks IM1..IM12 by position, 100..210 inferior to superior', async function () {
      const volume = await readDicomSeries(sharedCase('d02_unsorted_filenames/series'));
      const expect = expectedConvert('d02_unsorted_filenames');
      assertRealCase(volume, expect);
      const values = (expect.slice_values_inferior_to_superior ?? []).map((_, k) =>
        valueAt(volume, [-3.5, -3.5, -15 + 3 * k]),
      );
      assert.deepEqual(values, expect.slice_values_inferior_to_superior);
    });

    it('d04: RescaleSlope 1, 2, 0.5 per slice gives identical HU slices', async function () {
      const volume = await readDicomSeries(sharedCase('d04_rescale_per_slice/series'));
      const expect = expectedConvert('d04_rescale_per_slice');
      assertRealCase(volume, expect);
      assert.ok(volume.data instanceof Int16Array);
      let min = Infinity;
      let max = -Infinity;
      for (const v of volume.data) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      assert.deepEqual([min, max], [expect.intensity?.min, expect.intensity?.max]);
      const slice = volume.shape[0] * volume.shape[1];
      const first = Array.from(volume.data.subarray(0, slice));
      for (let k = 1; k < volume.shape[2]; k++) {
        assert.deepEqual(Array.from(volume.data.subarray(k * slice, (k + 1) * slice)), first);
      }
    });
  });
});
