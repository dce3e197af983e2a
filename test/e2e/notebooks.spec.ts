import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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

const VOLUME_MIME = 'application/vnd.panknet.volume+json';
const DECODERS_MIME = 'application/vnd.panknet.decoders+json';
const TRAINING_MIME = 'application/vnd.panknet.training+json';
const PNG_MIME = 'image/png';
const TEXT_MIME = 'text/plain';

/** What an executed tutorial must hold in its display outputs. */
interface ExpectedOutputs {
  /** MIME types that must each appear in at least one display output. */
  mimes: string[];
  /**
   * A MIME type shown once and then redrawn in place with `show.update` (update_display_data):
   * the notebook holds exactly one output of it, whose epochs are every epoch the notebook
   * printed as `epoch N:` (more than one, so at least one update arrived and was applied).
   */
  updatedInPlace?: string;
}

/**
 * The outputs each tutorial must emit, read off its cells: every `show.*` call sends the PankNet
 * payload, a PNG fallback and a text summary. A notebook missing here fails: add it.
 */
const EXPECTED: Record<string, ExpectedOutputs> = {
  // show.volume of the CT, of the predicted mask, of the agreement labels.
  '01-quickstart.ipynb': { mimes: [VOLUME_MIME, PNG_MIME, TEXT_MIME] },
  // show.volume of the window and the taps, show.decoders, show.volume of the disagreement.
  '02-hierarchical-features.ipynb': { mimes: [VOLUME_MIME, DECODERS_MIME, PNG_MIME, TEXT_MIME] },
  // show.training at epoch 1, then show.update at every later epoch, across two cells.
  '03-training.ipynb': {
    mimes: [TRAINING_MIME, PNG_MIME, TEXT_MIME],
    updatedInPlace: TRAINING_MIME,
  },
  // show.volume of the erosion / dilation rings.
  '04-evaluation.ipynb': { mimes: [VOLUME_MIME, PNG_MIME, TEXT_MIME] },
};

/** Executed tutorials are kept here (with outputs) for a person or CI to look at. */
const ARTIFACTS_DIR = join(PROJECT_ROOT, 'test-artifacts', 'notebooks');

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

/** Outputs of the notebook that carry data (display_data, execute_result). */
function dataOutputs(
  result: NotebookResult,
): Array<{ cell: number; data: Record<string, unknown> }> {
  return result.cells.flatMap((cell) =>
    cell.outputs
      .filter((output) => typeof output.data === 'object' && output.data !== null)
      .map((output) => ({ cell: cell.index, data: output.data as Record<string, unknown> })),
  );
}

/** Checks an executed notebook against what it must emit; the message names what is missing. */
function checkOutputs(
  name: string,
  result: NotebookResult,
  expected: ExpectedOutputs,
  where: string,
): void {
  const outputs = dataOutputs(result);
  const found = new Set(outputs.flatMap((output) => Object.keys(output.data)));
  const missing = expected.mimes.filter((mime) => !found.has(mime));
  assert.deepEqual(
    missing,
    [],
    `${name} emitted no ${missing.join(', ')} output (found: ${[...found].join(', ') || 'none'})` +
      where,
  );
  if (expected.updatedInPlace === undefined) return;

  const mime = expected.updatedInPlace;
  const holders = outputs.filter((output) => mime in output.data);
  const cells = holders.map((output) => output.cell).join(', ');
  assert.equal(
    holders.length,
    1,
    `${name}: expected one ${mime} output redrawn in place, found ${holders.length} ` +
      `(cells ${cells}); show.update must reuse the display id` +
      where,
  );
  const stored = holders[0].data[mime];
  const payload = (typeof stored === 'string' ? JSON.parse(stored) : stored) as TrainingSeen;
  const printed = result.cells
    .flatMap((cell) => cell.outputs)
    .filter((output) => output.output_type === 'stream' && output.name === 'stdout')
    .flatMap((output) => [...String(output.text).matchAll(/^epoch (\d+):/gm)])
    .map((match) => Number(match[1]));
  assert.ok(printed.length > 1, `${name}: printed epochs ${printed.join(', ')}; expected several`);
  assert.deepEqual(
    payload.epoch,
    printed,
    `${name}: the ${mime} output in cell ${holders[0].cell} was not updated in place to every ` +
      `epoch the notebook printed` +
      where,
  );
}

/** Checks an executed tutorial against its row of `EXPECTED`. */
function checkExpectedOutputs(name: string, result: NotebookResult, where: string): void {
  const expected = EXPECTED[name];
  assert.ok(
    expected !== undefined,
    `${name} has no row in EXPECTED (test/e2e/notebooks.spec.ts): list the MIME types it emits.`,
  );
  checkOutputs(name, result, expected, where);
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

      // The MIME check of the tutorials, on this run: what is there passes, a missing type or
      // a second output where one redrawn in place was expected fails, naming both.
      checkOutputs('live.ipynb', result, { mimes: [TRAINING_MIME, 'image/png', TEXT_MIME] }, '');
      assert.throws(
        () => checkOutputs('live.ipynb', result, { mimes: [TRAINING_MIME, DECODERS_MIME] }, ''),
        /live\.ipynb emitted no application\/vnd\.panknet\.decoders\+json output/,
      );
      const inPlace = { mimes: [TRAINING_MIME], updatedInPlace: TRAINING_MIME };
      assert.throws(
        () => checkOutputs('live.ipynb', result, inPlace, ''),
        new RegExp(
          `live\\.ipynb: expected one ${TRAINING_MIME.replace(/[.+]/g, '\\$&')} output ` +
            'redrawn in place, found 2 \\(cells 0, 2\\)',
        ),
      );
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
      it(`${name} runs top to bottom without an error and emits its MIME types`, async function () {
        this.timeout((NOTEBOOK_TIMEOUT_S + 90) * 1000);
        mkdirSync(ARTIFACTS_DIR, { recursive: true });
        const out = join(ARTIFACTS_DIR, name);
        const partial = join(ARTIFACTS_DIR, `.${name}.partial`);
        rmSync(out, { force: true });
        const result = await runNotebook(kernel, join(NOTEBOOKS_DIR, name), {
          timeoutS: NOTEBOOK_TIMEOUT_S,
          cellTimeoutS: CELL_TIMEOUT_S,
          cwd: NOTEBOOKS_DIR,
          out: partial,
        });
        // Every executed notebook stays, outputs included, as a test artifact.
        if (existsSync(partial)) renameSync(partial, out);
        const where = `\nexecuted notebook: ${out}`;
        assert.equal(result.ok, true, failureReport(name, result) + where);
        checkExpectedOutputs(name, result, where);
      });
    }
  });
});
