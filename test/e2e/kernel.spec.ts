import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';

import { PROJECT_ROOT, sharedData } from '../helpers/data.js';
import type { InstalledKernel, KernelOutput, StepResult } from '../helpers/jupyter.js';
import {
  checkJupyterPython,
  installKernelspec,
  KERNEL_INSTALLER,
  runCommand,
  runKernelSession,
  SYSTEM_PYTHON,
} from '../helpers/jupyter.js';

const VOLUME_MIME = 'application/vnd.panknet.volume+json';

/** Independent expectations from nibabel: shape, value range, mask labels, abdomen bytes. */
const NIBABEL_EXPECTATIONS = `
import base64, json, sys
import nibabel as nib, numpy as np
ct = np.asarray(nib.load(sys.argv[1]).dataobj).astype(np.float64)
labels = np.asarray(nib.load(sys.argv[2]).dataobj)
t = (ct - (40 - 200)) / 400.0
grey = np.where(t > 0, np.where(t >= 1, 255, np.floor(t * 255 + 0.5)), 0).astype(np.uint8)
print(json.dumps({
  "shape": list(ct.shape),
  "range": [float(ct.min()), float(ct.max())],
  "labels": [int(v) for v in np.unique(labels) if v != 0],
  "maskVoxels": int(np.count_nonzero(labels)),
  "abdomenBytes": base64.b64encode(grey.flatten(order="F").tobytes()).decode(),
}))
`;

interface Expected {
  shape: number[];
  range: [number, number];
  labels: number[];
  maskVoxels: number;
  abdomenBytes: string;
}

interface VolumePayloadSeen {
  kind: string;
  grid: { shape: number[]; downsample: number[]; sourceShape: number[] };
  voxels: string;
  window: { name: string; width: number; level: number };
  valueRange: [number, number];
  mask?: { labels: number[]; sourceVoxelCount: number };
}

function streamText(outputs: KernelOutput[], name: 'stdout' | 'stderr'): string {
  return outputs
    .filter((output) => output.type === 'stream' && output.name === name)
    .map((output) => output.text ?? '')
    .join('');
}

function describeStep(step: StepResult): string {
  const text = step.outputs.map((output) => output.text ?? output.type).join('');
  return `status ${step.status} after ${step.elapsed.toFixed(1)} s: ${text.slice(0, 2000)}`;
}

/** Width and height from a PNG's IHDR chunk; fails unless the bytes start with the signature. */
function pngSize(base64: string): [number, number] {
  const bytes = Buffer.from(base64, 'base64');
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.deepEqual(bytes.subarray(0, 8), signature, 'image/png is not a PNG');
  assert.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

describe('kernel/ (the panknet Jupyter kernel, real tslab driven by jupyter_client)', function () {
  this.timeout(240_000);

  const ctPath = sharedData('ct-abdomen-3mm-30slices.nii.gz');
  const labelsPath = sharedData('ct-abdomen-3mm-30slices.labels.nii.gz');
  let kernel: InstalledKernel;
  let cwd: string;
  let expected: Expected;
  let steps: StepResult[];

  before(async function () {
    const entry = join(PROJECT_ROOT, 'dist', 'index.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first.`);
    await checkJupyterPython();
    kernel = await installKernelspec();

    // A folder outside the project: the kernel must find panknet without a local node_modules.
    cwd = mkdtempSync(join(tmpdir(), 'panknet-kernel-cwd-'));
    const script = [NIBABEL_EXPECTATIONS, ctPath, labelsPath];
    const nib = await runCommand(SYSTEM_PYTHON, ['-c', ...script]);
    assert.equal(nib.code, 0, nib.stderr);
    expected = JSON.parse(nib.stdout) as Expected;

    steps = await runKernelSession(kernel, cwd, [
      { code: 'import { voxelCount } from "panknet";\nvoxelCount([2, 3, 4])', timeout: 60 },
      { code: "const wrong: number = 'not a number';", timeout: 30 },
      {
        code: [
          "import { readVolume, show } from 'panknet';",
          `const ct = await readVolume(${JSON.stringify(ctPath)});`,
          `const labels = await readVolume(${JSON.stringify(labelsPath)});`,
          "const view = show.volume(ct, { mask: labels, window: 'abdomen' });",
        ].join('\n'),
        timeout: 60,
      },
      { code: "show.update(view, ct, { mask: labels, window: 'bone' });\nview", timeout: 60 },
      { code: 'let spins = 0;', timeout: 30 },
      { code: 'while (true) { spins += 1; }', timeout: 30, interrupt_after: 2 },
      { code: 'await new Promise((r) => setTimeout(r, 60_000));', timeout: 30, interrupt_after: 2 },
      { code: 'spins > 0 ? 6 * 7 : -1', timeout: 30 },
    ]);
  });

  after(function () {
    if (kernel !== undefined) rmSync(kernel.prefix, { recursive: true, force: true });
    if (cwd !== undefined) rmSync(cwd, { recursive: true, force: true });
  });

  it('installs kernelspec "panknet": absolute node and entry paths, project link', function () {
    assert.match(kernel.stdout, /Installed the panknet kernelspec/);
    const spec = JSON.parse(readFileSync(join(kernel.resourceDir, 'kernel.json'), 'utf8')) as {
      argv: string[];
      display_name: string;
      language: string;
      env: Record<string, string>;
    };
    assert.equal(spec.display_name, 'PankNet (TypeScript)');
    assert.equal(spec.language, 'typescript');
    assert.equal(spec.argv[0], process.execPath);
    assert.ok(isAbsolute(spec.argv[1]) && existsSync(spec.argv[1]), spec.argv[1]);
    assert.ok(spec.argv.includes('{connection_file}'));
    const link = join(kernel.resourceDir, 'node_modules', 'panknet');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(relative(PROJECT_ROOT, readlinkSync(link)), '');
    assert.equal(spec.env.NODE_PATH, join(kernel.resourceDir, 'node_modules'));
  });

  it('gives 24 for `voxelCount([2, 3, 4])` from "panknet" outside the project', function () {
    const [step] = steps;
    assert.equal(step.status, 'ok', describeStep(step));
    assert.equal(streamText(step.outputs, 'stdout'), '24\n');
    assert.equal(relative(PROJECT_ROOT, cwd).startsWith('..'), true);
  });

  it('reports a type error (string assigned to number) as an error with its message', function () {
    const step = steps[1];
    assert.equal(step.status, 'error', describeStep(step));
    const stderr = streamText(step.outputs, 'stderr');
    assert.match(stderr, /Type 'string' is not assignable to type 'number'/);
  });

  it('show.volume sends one display_data: payload as a JSON object, PNG, text', function () {
    const step = steps[2];
    assert.equal(step.status, 'ok', describeStep(step));
    const displays = step.outputs.filter((output) => output.type === 'display_data');
    assert.equal(displays.length, 1);
    const data = displays[0].data ?? {};
    assert.deepEqual(Object.keys(data).sort(), ['image/png', 'text/plain', VOLUME_MIME].sort());
    assert.match(displays[0].display_id ?? '', /^[0-9a-f]{16}$/);

    // A JSON object, not a string: tslab's display.raw would have sent a string.
    const payload = data[VOLUME_MIME] as VolumePayloadSeen;
    assert.equal(typeof payload, 'object');
    assert.equal(payload.kind, 'panknet.volume');
    assert.deepEqual(payload.grid.shape, expected.shape);
    assert.deepEqual(payload.grid.sourceShape, expected.shape);
    assert.deepEqual(payload.grid.downsample, [1, 1, 1]);
    assert.deepEqual(payload.valueRange, expected.range);
    assert.deepEqual(payload.window, { name: 'abdomen', width: 400, level: 40 });
    assert.deepEqual(payload.mask?.labels, expected.labels);
    assert.equal(payload.mask?.sourceVoxelCount, expected.maskVoxels);

    const voxels = Buffer.from(payload.voxels, 'base64');
    const reference = Buffer.from(expected.abdomenBytes, 'base64');
    assert.equal(voxels.length, expected.shape[0] * expected.shape[1] * expected.shape[2]);
    let mismatches = 0;
    for (let n = 0; n < voxels.length; n++) if (voxels[n] !== reference[n]) mismatches++;
    assert.equal(mismatches, 0, `${mismatches} voxels differ from numpy's abdomen window`);

    const [width, height] = pngSize(String(data['image/png']));
    assert.ok(width > 0 && height > 0);
    assert.match(String(data['text/plain']), /122 x 101 x 30/);
  });

  it('show.update sends update_display_data under the same display id', function () {
    const step = steps[3];
    assert.equal(step.status, 'ok', describeStep(step));
    const first = steps[2].outputs.find((output) => output.type === 'display_data');
    const updates = step.outputs.filter((output) => output.type === 'update_display_data');
    assert.equal(updates.length, 1);
    assert.equal(step.outputs.filter((output) => output.type === 'display_data').length, 0);
    assert.equal(updates[0].display_id, first?.display_id);
    const payload = updates[0].data?.[VOLUME_MIME] as VolumePayloadSeen;
    assert.deepEqual(payload.window, { name: 'bone', width: 1800, level: 400 });
    assert.match(streamText(step.outputs, 'stdout'), /^DisplayHandle\(volume, .*, shown\)\n$/);
  });

  it('an interrupt 2 s into `while (true)` stops the cell; the kernel keeps state', function () {
    const [declare, loop, , after] = steps.slice(4);
    assert.equal(declare.status, 'ok', describeStep(declare));
    assert.equal(loop.status, 'error', describeStep(loop));
    assert.ok(loop.elapsed < 15, describeStep(loop));
    assert.match(streamText(loop.outputs, 'stderr'), /interrupted/i);
    assert.equal(after.status, 'ok', describeStep(after));
    assert.equal(streamText(after.outputs, 'stdout'), '42\n');
  });

  it('an interrupt 2 s into a 60 s await stops the cell', function () {
    const step = steps[6];
    assert.equal(step.status, 'error', describeStep(step));
    assert.ok(step.elapsed < 15, describeStep(step));
    assert.match(streamText(step.outputs, 'stderr'), /Interrupted asynchronously/);
  });
});

describe('kernel/install.js (uninstall and errors)', function () {
  this.timeout(60_000);

  it('--uninstall --prefix removes the kernelspec, leaving the project', async function () {
    await checkJupyterPython();
    const kernel = await installKernelspec();
    try {
      const args = [KERNEL_INSTALLER, '--uninstall', '--prefix', kernel.prefix];
      const result = await runCommand(process.execPath, args);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Removed the panknet kernelspec/);
      assert.equal(existsSync(kernel.resourceDir), false);
      assert.ok(existsSync(join(PROJECT_ROOT, 'package.json')));

      const again = await runCommand(process.execPath, args);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /no "panknet" kernelspec/);
    } finally {
      rmSync(kernel.prefix, { recursive: true, force: true });
    }
  });

  it('exits 2 naming what to install when $JUPYTER does not run', async function () {
    const prefix = mkdtempSync(join(tmpdir(), 'panknet-nojupyter-'));
    try {
      const env = { ...process.env, JUPYTER: join(prefix, 'no-such-jupyter') };
      const args = [KERNEL_INSTALLER, '--prefix', prefix];
      const result = await runCommand(process.execPath, args, env);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /Jupyter was not found \(tried .*no-such-jupyter\)/);
      assert.match(result.stderr, /apt-get install jupyter-client python3-ipykernel/);
      assert.equal(existsSync(join(prefix, 'share')), false);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  it('rejects an unknown flag with the usage', async function () {
    const result = await runCommand(process.execPath, [KERNEL_INSTALLER, '--global']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown argument "--global"/);
    assert.match(result.stderr, /usage: node kernel\/install.js/);
  });
});
