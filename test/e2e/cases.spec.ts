/**
 * Runs every check of `../shared/cases/expected.json` through the real CLI (a child process)
 * and verifies each expected field from outside: JSON printed by `info` and `evaluate`, and
 * output files read back from disk. Unknown expectation keys fail, so a new kind of check
 * cannot pass unnoticed.
 */

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { readNifti } from '../../src/io/read-nifti.js';
import type { Volume } from '../../src/io/volume.js';
import { sharedCase } from '../helpers/data.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { rawStoredValue, simpleAxcodes, valueAtWorld, worldFacts } from '../helpers/nifti-check.js';

type Json = Record<string, unknown>;

interface Check {
  kind: 'info' | 'convert' | 'predict' | 'evaluate';
  input: string | string[];
  reference?: string[];
  args?: Json;
  expect: Json;
}

interface CaseEntry {
  fault: string;
  checks: Check[];
}

const RAS = ['R', 'A', 'S'] as const;

/** CLI runs print warnings and errors only, so that stderr holds what the checks read. */
const QUIET = { env: { PANKNET_LOG: 'warn' } };

/** Keys that parameterise other checks or only describe the case. */
const PARAMETER_KEYS = new Set([
  'outcome',
  'tolerance',
  'value_atol',
  'volume_rel_tol',
  'affine_atol',
  'note',
  'header_expects_bytes',
  'file_has_data_bytes',
]);

const expected = JSON.parse(readFileSync(sharedCase('expected.json'), 'utf8')) as {
  cases: Record<string, CaseEntry>;
};

function num(value: unknown): number {
  assert.equal(typeof value, 'number', `expected a number, got ${JSON.stringify(value)}`);
  return value as number;
}

function close(actual: unknown, want: number, atol: number, what: string): void {
  const a = actual === null ? Number.POSITIVE_INFINITY : num(actual);
  assert.ok(Math.abs(a - want) <= atol, `${what}: got ${a}, expected ${want} (within ${atol})`);
}

function closeList(actual: unknown, want: number[], atol: number, what: string): void {
  assert.ok(Array.isArray(actual), `${what}: expected a list, got ${JSON.stringify(actual)}`);
  assert.equal(actual.length, want.length, `${what}: length`);
  want.forEach((w, n) => close(actual[n], w, atol, `${what}[${n}]`));
}

function tol(expect: Json, key: string, fallback: number): number {
  const t = expect.tolerance as Json | undefined;
  return typeof t?.[key] === 'number' ? (t[key] as number) : fallback;
}

function expectError(run: CliRun, expect: Json, dir: string): void {
  assert.notEqual(run.code, 0, `expected a non-zero exit, got 0; stdout: ${run.stdout}`);
  if (typeof expect.exit_code === 'number') assert.equal(run.code, expect.exit_code);
  const message = run.stderr.trim();
  assert.match(message, /^panknet: error: /, `message format: ${message}`);
  assert.ok(!/\n\s*\n/.test(message), `expected one paragraph, got:\n${message}`);
  const lower = message.toLowerCase();
  for (const group of (expect.message_mentions_all_groups as string[][] | undefined) ?? []) {
    assert.ok(
      group.some((s) => lower.includes(s.toLowerCase())),
      `message mentions none of ${JSON.stringify(group)}: ${message}`,
    );
  }
  for (const s of (expect.message_must_not_contain as string[] | undefined) ?? []) {
    assert.ok(!lower.includes(s.toLowerCase()), `message contains "${s}": ${message}`);
  }
  if (expect.no_output_file_written) {
    assert.deepEqual(readdirSync(dir), [], 'no output (nor temp) file may be left behind');
  }
}

/** A warning is "about" a phrase when it holds all but at most one of its words. */
function warnsAbout(lines: string[], phrase: string): string | undefined {
  const words = phrase
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const need = Math.max(1, words.length - 1);
  return lines.find((l) => words.filter((w) => l.toLowerCase().includes(w)).length >= need);
}

function checkWorldPoints(volume: Volume, expect: Json, atol: number): void {
  for (const point of expect.world_points as { ras_mm: number[]; value: number }[]) {
    close(valueAtWorld(volume, point.ras_mm), point.value, atol, `value at RAS ${point.ras_mm}`);
  }
}

function checkWorldGrid(affine: number[][], shape: number[], expect: Json, what: string): void {
  const facts = worldFacts(affine, shape);
  if (expect.world_shape) {
    const ws = expect.world_shape as Record<string, number>;
    RAS.forEach((a, w) => assert.equal(facts.shape[w], ws[a], `${what} world_shape ${a}`));
  }
  if (expect.world_spacing_mm) {
    const ws = expect.world_spacing_mm as Record<string, number>;
    RAS.forEach((a, w) => close(facts.spacing[w], ws[a], 1e-3, `${what} world spacing ${a}`));
  }
  if (expect.bbox_ras_mm) {
    const bb = expect.bbox_ras_mm as Record<string, number[]>;
    RAS.forEach((a, w) => closeList(facts.bbox[w], bb[a], 1e-3, `${what} bbox ${a}`));
  }
  if (expect.output_shape_range_per_ras_axis) {
    const ranges = expect.output_shape_range_per_ras_axis as Record<string, number[]>;
    RAS.forEach((a, w) => {
      const [lo, hi] = ranges[a];
      assert.ok(
        facts.shape[w] >= lo && facts.shape[w] <= hi,
        `shape along ${a}: ${facts.shape[w]}`,
      );
    });
  }
  if (typeof expect.slice_spacing_not === 'number') {
    const sAxis = facts.spacing[2];
    assert.ok(Math.abs(sAxis - expect.slice_spacing_not) > 1e-3, `slice spacing ${sAxis}`);
  }
}

function stats(volume: Volume): { min: number; max: number; mean: number; sum: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (const v of volume.data) {
    if (!Number.isFinite(v)) continue;
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    n++;
  }
  return { min, max, mean: sum / n, sum };
}

/** Values of each slice along world S, inferior to superior. */
function slicesAlongS(volume: Volume): number[][] {
  const axes = worldFacts(volume.affine, volume.shape);
  const sAxis = [0, 1, 2].find((c) => {
    const col = [0, 1, 2].map((r) => Math.abs(volume.affine[r][c]));
    return col.indexOf(Math.max(...col)) === 2;
  });
  assert.ok(sAxis !== undefined && axes.shape[2] > 0, 'no voxel axis runs along S');
  const [nx, ny, nz] = volume.shape;
  const slices: number[][] = Array.from({ length: volume.shape[sAxis] }, () => []);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++)
        slices[[i, j, k][sAxis]].push(volume.data[i + nx * (j + ny * k)]);
    }
  }
  const increasing = volume.affine[2][sAxis] > 0;
  return increasing ? slices : slices.reverse();
}

function mode(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
}

const INTEGER_TYPES = ['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32'];

/** Checks on a volume read back from a file the CLI wrote (convert output or predict mask). */
function checkOutputVolume(volume: Volume, expect: Json, handled: Set<string>): void {
  const take = (key: string): unknown => {
    handled.add(key);
    return expect[key];
  };
  const atol = typeof expect.value_atol === 'number' ? expect.value_atol : 1e-3;
  if (take('output_shape') !== undefined) {
    assert.deepEqual(volume.shape, expect.output_shape, 'output shape');
  }
  if (take('output_ndim') !== undefined) {
    assert.equal((volume.meta.shapeOnDisk ?? []).length, expect.output_ndim, 'output ndim');
  }
  if (take('output_affine') !== undefined) {
    const atolAffine = typeof expect.affine_atol === 'number' ? expect.affine_atol : 1e-3;
    (expect.output_affine as number[][]).forEach((row, r) =>
      closeList(volume.affine[r], row, atolAffine, `output affine row ${r}`),
    );
  }
  if (take('output_sform_code') !== undefined) {
    assert.equal(volume.meta.sformCode, expect.output_sform_code, 'output sform_code');
  }
  if (take('output_axcodes') !== undefined) {
    assert.deepEqual(simpleAxcodes(volume.affine), expect.output_axcodes, 'output axcodes');
  }
  if (take('output_spacing_mm') !== undefined) {
    closeList(volume.spacingMm, expect.output_spacing_mm as number[], 1e-3, 'output spacing');
  }
  const unique = new Set(volume.data);
  for (const key of ['output_values_subset', 'output_unique_values_subset_of']) {
    if (take(key) === undefined) continue;
    const allowed = new Set(expect[key] as number[]);
    const extra = [...unique].filter((v) => !allowed.has(v));
    assert.deepEqual(extra, [], `output values outside ${JSON.stringify(expect[key])}`);
  }
  if (take('output_must_not_contain') !== undefined) {
    const found = (expect.output_must_not_contain as number[]).filter((v) => unique.has(v));
    assert.deepEqual(found, [], 'output holds forbidden values');
  }
  if (take('output_dtype_integer') !== undefined) {
    assert.equal(
      INTEGER_TYPES.includes(volume.meta.datatype),
      expect.output_dtype_integer,
      `output datatype ${volume.meta.datatype}`,
    );
  }
  if (take('output_dtype_must_hold') !== undefined) {
    assert.match(String(expect.output_dtype_must_hold), /negative/);
    assert.ok(!volume.meta.datatype.startsWith('uint'), `datatype ${volume.meta.datatype}`);
  }
  if (take('label_volumes_mm3') !== undefined) {
    const voxelMm3 = volume.spacingMm[0] * volume.spacingMm[1] * volume.spacingMm[2];
    const rel = typeof expect.volume_rel_tol === 'number' ? expect.volume_rel_tol : 0.05;
    for (const [label, mm3] of Object.entries(expect.label_volumes_mm3 as Json)) {
      const count = volume.data.reduce(
        (n: number, v: number) => n + (v === Number(label) ? 1 : 0),
        0,
      );
      const got = count * voxelMm3;
      assert.ok(Math.abs(got - num(mm3)) <= rel * num(mm3), `label ${label}: ${got} mm3 vs ${mm3}`);
    }
  }
  if (take('world_points') !== undefined) checkWorldPoints(volume, expect, atol);
  for (const key of ['world_shape', 'world_spacing_mm', 'bbox_ras_mm']) take(key);
  take('output_shape_range_per_ras_axis');
  take('slice_spacing_not');
  checkWorldGrid(volume.affine, volume.shape, expect, 'output');
  if (take('n_slices') !== undefined) {
    assert.equal(worldFacts(volume.affine, volume.shape).shape[2], expect.n_slices, 'slices');
  }
  if (take('intensity') !== undefined) {
    const s = stats(volume);
    const want = expect.intensity as Json;
    const itol = tol(expect, 'intensity', Math.max(atol, 1e-3));
    for (const key of ['min', 'max', 'mean'] as const) {
      if (want[key] !== undefined) close(s[key], num(want[key]), itol, `intensity ${key}`);
    }
  }
  if (take('every_slice_identical_hu') !== undefined) {
    const slices = slicesAlongS(volume);
    for (const [n, slice] of slices.entries()) {
      const diff = slice.reduce((m, v, i) => Math.max(m, Math.abs(v - slices[0][i])), 0);
      assert.ok(diff <= atol, `slice ${n} differs from slice 0 by ${diff}`);
    }
  }
  if (take('slice_values_inferior_to_superior') !== undefined) {
    const modes = slicesAlongS(volume).map(mode);
    closeList(modes, expect.slice_values_inferior_to_superior as number[], atol, 'slice values');
  }
}

function assertAllHandled(expect: Json, handled: Set<string>): void {
  const unknown = Object.keys(expect).filter((k) => !handled.has(k) && !PARAMETER_KEYS.has(k));
  assert.deepEqual(unknown, [], 'expectation keys this spec does not verify');
}

async function checkInfo(check: Check, input: string, dir: string): Promise<void> {
  const expect = check.expect;
  const run = runCli(['info', input, '--json'], QUIET);
  if (expect.outcome === 'error') {
    expectError(run, expect, dir);
    const handled = new Set(['exit_code', 'message_mentions_all_groups']);
    for (const k of ['message_must_not_contain', 'no_output_file_written']) handled.add(k);
    assertAllHandled(expect, handled);
    return;
  }
  assert.equal(run.code, 0, `info failed: ${run.stderr}`);
  const info = JSON.parse(run.stdout) as Json;
  const handled = new Set<string>();
  const take = (key: string): unknown => {
    handled.add(key);
    return expect[key];
  };
  const affineTol = tol(expect, 'affine', 1e-3);
  for (const key of ['shape', 'shape_on_disk', 'spatial_shape', 'datatype', 'time_points']) {
    if (take(key) !== undefined) assert.deepEqual(info[key], expect[key], key);
  }
  for (const key of ['affine_from', 'qform_code', 'sform_code']) {
    if (take(key) !== undefined) assert.equal(info[key], expect[key], key);
  }
  if (take('spacing_mm') !== undefined) {
    closeList(info.spacing, expect.spacing_mm as number[], affineTol, 'spacing');
  }
  if (take('spacing_all_positive') !== undefined) {
    assert.ok(
      (info.spacing as number[]).every((s) => s > 0),
      'spacing must be positive',
    );
  }
  if (take('axcodes') !== undefined) {
    assert.deepEqual(info.axcodes, expect.axcodes, 'axcodes');
    assert.equal(info.orientation, (expect.axcodes as string[]).join(''), 'orientation');
  }
  if (take('affine') !== undefined) {
    (expect.affine as number[][]).forEach((row, r) =>
      closeList((info.affine as number[][])[r], row, affineTol, `affine row ${r}`),
    );
  }
  if (take('intensity') !== undefined) {
    const want = expect.intensity as Json;
    const itol = tol(expect, 'intensity', 1e-3);
    for (const key of ['min', 'max', 'mean']) {
      if (want[key] !== undefined) close(info[key], num(want[key]), itol, `info ${key}`);
    }
  }
  if (take('sum') !== undefined) {
    const want = num(expect.sum);
    close(info.sum, want, Math.max(1e-3, Math.abs(want) * 1e-9), 'info sum');
  }
  if (take('must_not_warn_about') !== undefined) {
    const lines = [...(info.warnings as string[]), ...run.stderr.split('\n').filter(Boolean)];
    for (const phrase of expect.must_not_warn_about as string[]) {
      const hit = warnsAbout(lines, phrase);
      assert.equal(hit, undefined, `warned about "${phrase}": ${hit}`);
    }
  }
  const spatial = info.spatial_shape as number[];
  for (const key of ['world_shape', 'world_spacing_mm', 'bbox_ras_mm', 'slice_spacing_not']) {
    take(key);
  }
  checkWorldGrid(info.affine as number[][], spatial, expect, 'info');
  if (take('n_slices') !== undefined) assert.equal(spatial[2], expect.n_slices, 'n_slices');

  // Voxel-level facts: the same input written by `convert` (no options, same grid), read back.
  const rawKeys = Object.keys(expect).filter((k) => /^stored_raw_at_\d+_\d+_\d+$/.test(k));
  for (const key of rawKeys) {
    handled.add(key);
    const ijk = key.split('_').slice(-3).map(Number) as [number, number, number];
    assert.equal(rawStoredValue(input, ijk), expect[key], `stored value at ${ijk}`);
  }
  const voxelKeys = ['voxels_ijk_value', 'world_points'];
  if (voxelKeys.some((k) => expect[k] !== undefined)) {
    const out = join(dir, 'same-grid.nii.gz');
    const conv = runCli(['convert', input, out], QUIET);
    assert.equal(conv.code, 0, `convert failed: ${conv.stderr}`);
    const volume = await readNifti(out);
    assert.deepEqual(volume.shape, spatial, 'convert keeps the grid');
    const atol =
      typeof expect.value_atol === 'number' ? expect.value_atol : tol(expect, 'intensity', 1e-3);
    if (take('voxels_ijk_value') !== undefined) {
      for (const [i, j, k, value] of expect.voxels_ijk_value as number[][]) {
        const got = volume.data[i + volume.shape[0] * (j + volume.shape[1] * k)];
        close(got, value, atol, `voxel (${i}, ${j}, ${k})`);
      }
    }
    if (take('world_points') !== undefined) checkWorldPoints(volume, expect, atol);
  }
  assertAllHandled(expect, handled);
}

async function checkConvert(check: Check, input: string, dir: string): Promise<void> {
  const expect = check.expect;
  const args = check.args ?? {};
  const out = join(dir, 'out.nii.gz');
  const argv = ['convert', input, out];
  if (args.orient !== undefined) {
    assert.equal(args.orient, 'RAS', 'only RAS orientation is a convert option');
    argv.push('--ras');
  }
  if (args.spacing_mm !== undefined)
    argv.push('--spacing', (args.spacing_mm as number[]).join(','));
  if (args.label_map) argv.push('--label-map');
  if (args.series_uid !== undefined) argv.push('--series', String(args.series_uid));
  const unknownArgs = Object.keys(args).filter(
    (k) => !['orient', 'spacing_mm', 'label_map', 'series_uid'].includes(k),
  );
  assert.deepEqual(unknownArgs, [], 'convert args this spec cannot pass');
  const run = runCli(argv, QUIET);
  if (expect.outcome === 'error') {
    expectError(run, expect, dir);
    return;
  }
  assert.equal(run.code, 0, `convert failed: ${run.stderr}`);
  const volume = await readNifti(out);
  const handled = new Set<string>();
  checkOutputVolume(volume, expect, handled);
  assertAllHandled(expect, handled);
}

async function predictVolume(
  input: string,
  out: string,
): Promise<{ run: CliRun; volume?: Volume }> {
  const run = runCli(['predict', input, '-o', out], { ...QUIET, timeoutMs: 600_000 });
  if (run.code !== 0) return { run };
  return { run, volume: await readNifti(out) };
}

async function checkPredict(check: Check, input: string, dir: string): Promise<void> {
  const expect = check.expect;
  const out = join(dir, 'mask.nii.gz');
  const { run, volume } = await predictVolume(input, out);
  if (expect.outcome === 'error') {
    expectError(run, expect, dir);
    return;
  }
  assert.equal(run.code, 0, `predict failed: ${run.stderr}`);
  assert.ok(volume);
  const handled = new Set<string>();
  checkOutputVolume(volume, expect, handled);
  if (expect.output_equal_to_prediction_of !== undefined) {
    handled.add('output_equal_to_prediction_of');
    const twin = sharedCase(String(expect.output_equal_to_prediction_of));
    const other = await predictVolume(twin, join(dir, 'twin-mask.nii.gz'));
    assert.equal(other.run.code, 0, `predict of the twin failed: ${other.run.stderr}`);
    assert.deepEqual(Array.from(volume.data), Array.from(other.volume?.data ?? []), 'twin masks');
  }
  assertAllHandled(expect, handled);
}

function caseId(path: string): string {
  return basename(path).replace(/\.nii(\.gz)?$/i, '');
}

async function checkEvaluate(check: Check): Promise<void> {
  const expect = check.expect;
  const preds = (Array.isArray(check.input) ? check.input : [check.input]).map(sharedCase);
  const refs = (check.reference ?? []).map(sharedCase);
  assert.equal(refs.length, preds.length, 'one reference per prediction');
  const handled = new Set(['per_case']);
  const perCase = (expect.per_case ?? {}) as Record<string, Json>;
  const diceTol = tol(expect, 'dice', 1e-4);
  const hdTol = tol(expect, 'hd95_mm', 1e-3);
  for (const [n, pred] of preds.entries()) {
    const argv = ['evaluate', '--pred', pred, '--ref', refs[n], '--json'];
    if (check.args?.label !== undefined) argv.push('--label', String(check.args.label));
    const run = runCli(argv, QUIET);
    if (expect.outcome === 'error') {
      expectError(run, expect, tmpdir());
      continue;
    }
    assert.equal(run.code, 0, `evaluate failed: ${run.stderr}`);
    const report = JSON.parse(run.stdout) as { cases: Json[] };
    const id = caseId(pred);
    const got = report.cases.find((c) => c.id === id) ?? report.cases[0];
    const want = perCase[id];
    if (want === undefined) continue;
    for (const key of ['dice', 'dice_background', 'dice_mean_with_background']) {
      if (want[key] !== undefined) close(got[key], num(want[key]), diceTol, `${id} ${key}`);
    }
    if (want.hd95_mm !== undefined) close(got.hd95_mm, num(want.hd95_mm), hdTol, `${id} hd95`);
    const hd = got.hd95_mm === null ? Number.POSITIVE_INFINITY : num(got.hd95_mm);
    if (want.hd95_mm_at_least !== undefined) {
      assert.ok(hd >= num(want.hd95_mm_at_least) - hdTol, `${id} hd95 ${hd} too small`);
    }
    if (want.hd95_mm_range_over_definitions !== undefined) {
      const [lo, hi] = want.hd95_mm_range_over_definitions as number[];
      assert.ok(hd >= lo - hdTol && hd <= hi + hdTol, `${id} hd95 ${hd} outside [${lo}, ${hi}]`);
    }
    if (want.wrong_if_reference_binarised_as_label_gt_0 !== undefined) {
      const wrong = num(want.wrong_if_reference_binarised_as_label_gt_0);
      assert.ok(Math.abs(num(got.dice) - wrong) > diceTol, `${id} dice equals the wrong ${wrong}`);
    }
    const known = new Set([
      'dice',
      'dice_background',
      'dice_mean_with_background',
      'hd95_mm',
      'hd95_mm_at_least',
      'hd95_mm_range_over_definitions',
      'wrong_if_reference_binarised_as_label_gt_0',
    ]);
    const unknown = Object.keys(want).filter((k) => !known.has(k));
    assert.deepEqual(unknown, [], `per-case keys this spec does not verify (${id})`);
  }
  if (expect.reference_labels_present !== undefined) {
    handled.add('reference_labels_present');
    for (const ref of new Set(refs)) {
      const labels = [...new Set((await readNifti(ref)).data)].sort((a, b) => a - b);
      assert.deepEqual(labels, expect.reference_labels_present, `labels of ${ref}`);
    }
  }
  assertAllHandled(expect, handled);
}

describe('e2e: real-world file cases (../shared/cases/expected.json) through the CLI', function () {
  for (const [name, entry] of Object.entries(expected.cases)) {
    describe(`${name}: ${entry.fault.slice(0, 80)}...`, function () {
      entry.checks.forEach((check, n) => {
        const inputs = Array.isArray(check.input) ? check.input : [check.input];
        const title = `check ${n}: ${check.kind} ${inputs.map((p) => basename(p)).join(', ')}`;
        it(`${title} -> ${String(check.expect.outcome)}`, async function () {
          this.timeout(check.kind === 'predict' ? 1_200_000 : 120_000);
          const dir = mkdtempSync(join(tmpdir(), 'panknet-e2e-'));
          try {
            if (check.kind === 'evaluate') return await checkEvaluate(check);
            const input = sharedCase(String(check.input));
            if (check.kind === 'info') return await checkInfo(check, input, dir);
            if (check.kind === 'convert') return await checkConvert(check, input, dir);
            if (check.kind === 'predict') return await checkPredict(check, input, dir);
            assert.fail(`unknown check kind ${String(check.kind)}`);
          } finally {
            if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
          }
        });
      });
    });
  }
});
