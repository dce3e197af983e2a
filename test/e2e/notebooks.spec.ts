import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PROJECT_ROOT } from '../helpers/data.js';
import type { InstalledKernel, NotebookResult } from '../helpers/jupyter.js';
import {
  checkJupyterPython,
  installKernelspec,
  runNotebook,
  stderrOf,
} from '../helpers/jupyter.js';

const TRAINING_MIME = 'application/vnd.panknet.training+json';

/** Seconds one tutorial may take top to bottom on the 2-core machine, and one cell of it. */
const NOTEBOOK_TIMEOUT_S = 600;
const CELL_TIMEOUT_S = 300;

const NOTEBOOKS_DIR = join(PROJECT_ROOT, 'notebooks');

/** The tutorials, found when the spec loads so that each gets its own test. */
const NOTEBOOKS = existsSync(NOTEBOOKS_DIR)
  ? readdirSync(NOTEBOOKS_DIR)
      .filter((name) => name.endsWith('.ipynb'))
      .sort()
  : [];

/** An nbformat 4 notebook on the panknet kernel with one code cell per source. */
function notebookJson(sources: string[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'panknet', display_name: 'PankNet (TypeScript)', language: 'typescript' },
      language_info: { name: 'typescript' },
    },
    cells: sources.map((source, index) => ({
      cell_type: 'code',
      id: `cell-${index}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source,
    })),
  });
}

function trainingRow(epoch: number): Record<string, number> {
  const dice = Math.min(0.9, 0.2 * epoch);
  return {
    epoch,
    loss: 5 - epoch,
    lr: 1e-3,
    dice_map1: dice,
    dice_map2: dice,
    dice_map3: dice,
    dice_map4: dice,
    dice_fused: dice,
  };
}

interface TrainingSeen {
  title: string;
  epoch: number[];
  loss: number[];
}

function payloadIn(output: Record<string, unknown>): TrainingSeen {
  return (output.data as Record<string, TrainingSeen>)[TRAINING_MIME];
}

function failureReport(name: string, result: NotebookResult): string {
  const stderr = result.cells
    .map((cell) => {
      const text = stderrOf(cell.outputs);
      return text === '' ? '' : `cell ${cell.index} stderr:\n${text}`;
    })
    .filter((text) => text !== '')
    .join('\n');
  return `${name} failed: ${result.error ?? 'unknown error'}\n${stderr}`;
}

describe('notebooks/*.ipynb (nbclient on the installed panknet kernel)', function () {
  let kernel: InstalledKernel;
  let scratch: string;

  before(async function () {
    this.timeout(60_000);
    const entry = join(PROJECT_ROOT, 'dist', 'index.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first.`);
    await checkJupyterPython();
    kernel = await installKernelspec();
    scratch = mkdtempSync(join(tmpdir(), 'panknet-notebooks-'));
  });

  after(function () {
    if (kernel !== undefined) rmSync(kernel.prefix, { recursive: true, force: true });
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  describe('the runner, on notebooks written here in a temp folder', function () {
    this.timeout(120_000);

    it('runs 4 cells; show.update replaces cell 0 in place; paths are relative', async function () {
      const folder = join(scratch, 'ok');
      mkdirSync(join(folder, 'run1'), { recursive: true });
      const logged = [1, 2, 3, 4].map(trainingRow);
      const lines = logged.map((row) => JSON.stringify(row)).join('\n');
      writeFileSync(join(folder, 'run1', 'metrics.jsonl'), `${lines}\n`);
      const path = join(folder, 'live.ipynb');
      writeFileSync(
        path,
        notebookJson([
          "import { show } from 'panknet';\n" +
            `const rows = [${JSON.stringify(trainingRow(1))}];\n` +
            "const curves = show.training(rows, { title: 'live' });",
          `show.update(curves, [...rows, ${JSON.stringify(trainingRow(2))}, ` +
            `${JSON.stringify(trainingRow(3))}]);`,
          "const fromRun = show.training('run1');",
          'console.log(curves.displayed, fromRun.displayed);',
        ]),
      );

      const result = await runNotebook(kernel, path, {
        timeoutS: 90,
        cellTimeoutS: 60,
        cwd: folder,
      });

      assert.equal(result.ok, true, failureReport('live.ipynb', result));
      const [first, second, third, fourth] = result.cells;
      const firstDisplays = first.outputs.filter((o) => o.output_type === 'display_data');
      assert.equal(firstDisplays.length, 1);
      const updated = payloadIn(firstDisplays[0]);
      assert.deepEqual(updated.epoch, [1, 2, 3]);
      assert.equal(updated.title, 'live');
      assert.deepEqual(second.outputs, []);

      const fromRun = third.outputs.filter((o) => o.output_type === 'display_data');
      assert.equal(fromRun.length, 1);
      const runPayload = payloadIn(fromRun[0]);
      assert.deepEqual(runPayload.epoch, [1, 2, 3, 4]);
      assert.deepEqual(
        runPayload.loss,
        logged.map((row) => row.loss),
      );
      const printed = { output_type: 'stream', name: 'stdout', text: 'true true\n' };
      assert.deepEqual(fourth.outputs, [printed]);
    });

    it('fails on a cell with a type error, naming the cell and the message', async function () {
      const folder = join(scratch, 'bad');
      mkdirSync(folder, { recursive: true });
      const path = join(folder, 'bad.ipynb');
      const cells = ['const fine = 1;', "const broken: number = 'x';", 'fine'];
      writeFileSync(path, notebookJson(cells));

      const options = { timeoutS: 60, cellTimeoutS: 30, cwd: folder };
      const result = await runNotebook(kernel, path, options);

      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /const broken: number = 'x';/);
      assert.match(stderrOf(result.cells[1].outputs), /Type 'string' is not assignable/);
      assert.deepEqual(result.cells[2].outputs, []);
    });

    it('fails a notebook that runs past its timeout', async function () {
      const folder = join(scratch, 'slow');
      mkdirSync(folder, { recursive: true });
      const path = join(folder, 'slow.ipynb');
      writeFileSync(path, notebookJson(['await new Promise((r) => setTimeout(r, 60_000));']));

      const options = { timeoutS: 8, cellTimeoutS: 60, cwd: folder };
      const result = await runNotebook(kernel, path, options);

      assert.equal(result.ok, false);
      assert.match(result.error ?? '', /did not finish within 8 s/);
    });
  });

  describe('the tutorials in notebooks/', function () {
    if (NOTEBOOKS.length === 0) {
      it('has at least one notebook', function () {
        assert.fail(`${NOTEBOOKS_DIR} has no .ipynb files yet; the tutorials belong there.`);
      });
    }
    for (const name of NOTEBOOKS) {
      it(`${name} runs top to bottom without an error output`, async function () {
        this.timeout((NOTEBOOK_TIMEOUT_S + 90) * 1000);
        const keep = mkdtempSync(join(tmpdir(), 'panknet-executed-'));
        const out = join(keep, name);
        const result = await runNotebook(kernel, join(NOTEBOOKS_DIR, name), {
          timeoutS: NOTEBOOK_TIMEOUT_S,
          cellTimeoutS: CELL_TIMEOUT_S,
          cwd: NOTEBOOKS_DIR,
          out,
        });
        // The executed notebook stays for a person to read only when the run failed.
        if (result.ok) rmSync(keep, { recursive: true, force: true });
        const where = `\nexecuted notebook: ${out}`;
        assert.equal(result.ok, true, failureReport(name, result) + where);
      });
    }
  });
});
