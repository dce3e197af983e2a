/**
 * The renderers on outputs captured from the real kernel: a notebook written here runs on the
 * installed `panknet` kernelspec through nbclient (`show.volume`, `show.decoders`,
 * `show.training` + `show.update`), and each MIME item it stored is handed, exactly as Jupyter
 * stored it, to the bundled renderer in headless Chromium behind a minimal renderer host.
 * Expectations come from nibabel (Debian's Python) and from the rows written into the cells.
 * Screenshots of every renderer go to `test-artifacts/screenshots/`.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';

import { PROJECT_ROOT, sharedData } from '../helpers/data.js';
import type { InstalledKernel, NotebookResult } from '../helpers/jupyter.js';
import {
  SYSTEM_PYTHON,
  checkJupyterPython,
  installKernelspec,
  runCommand,
  runNotebook,
  stderrOf,
} from '../helpers/jupyter.js';
import type { TestBrowser } from './renderers-browser.js';
import { buildRenderers, launchBrowser } from './renderers-browser.js';

const VOLUME_MIME = 'application/vnd.panknet.volume+json';
const DECODERS_MIME = 'application/vnd.panknet.decoders+json';
const TRAINING_MIME = 'application/vnd.panknet.training+json';

const CT_REL = '../shared/data/ct-abdomen-3mm.nii.gz';
const MASK_REL = '../shared/data/ct-abdomen-3mm.pancreas.nii.gz';

/** Markup that must reach the page as literal text. */
const TITLE_MARKUP = '<b>markup</b>';
const SERIES_MARKUP = '<img src=x onerror="window.__xss = 1">';
const DECODERS_TITLE = '<i>decoders</i> & maps';
const CURVES_TITLE = '<script>window.__xss = 2</script>curves';

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const SCREENSHOTS = join(ARTIFACTS, 'screenshots');

const AXIAL = '.pk-plane[data-plane="axial"]';

/** A training log row as the loop writes it; validation every second epoch. */
function trainingRow(epoch: number): Record<string, number | null> {
  const dice = Math.min(0.9, 0.15 * epoch);
  return {
    epoch,
    loss: 4 / epoch,
    lr: 1e-3 / epoch,
    dice_map1: dice * 0.7,
    dice_map2: dice * 0.8,
    dice_map3: dice * 0.9,
    dice_map4: dice * 0.95,
    dice_fused: dice,
    val_dice: epoch % 2 === 0 ? dice * 0.9 : null,
  };
}

const FIRST_ROWS = [1, 2, 3].map(trainingRow);
const ALL_ROWS = [1, 2, 3, 4, 5, 6].map(trainingRow);

/** The cells of the capture notebook; the kernel's working folder is the project root. */
const CELLS = [
  "import { readVolume, show } from 'panknet';\n" +
    `const ct = await readVolume('${CT_REL}');\n` +
    `const mask = await readVolume('${MASK_REL}');\n` +
    `const series = ${JSON.stringify(SERIES_MARKUP)};\n` +
    'const described = { ...ct, meta: { ...ct.meta, seriesDescription: series } };',
  // tslab does not rewrite a shorthand `{ mask }` to the previous cell's variable: spell it out.
  `const view = show.volume(described, { mask: mask, title: ${JSON.stringify(TITLE_MARKUP)} });`,
  'const maps = [0.25, 0.5, 0.75, 1].map((s) => Float32Array.from(mask.data, (v) => v * s));\n' +
    'const grid = show.decoders(\n' +
    '  { maps: [maps[0], maps[1], maps[2], maps[3]], fused: maps[3], shape: ct.shape,\n' +
    '    image: ct },\n' +
    `  { title: ${JSON.stringify(DECODERS_TITLE)} },\n` +
    ');',
  `const rows = ${JSON.stringify(FIRST_ROWS)};\n` +
    `const curves = show.training(rows, { title: ${JSON.stringify(CURVES_TITLE)} });`,
  `show.update(curves, ${JSON.stringify(ALL_ROWS)});`,
];

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

/** Facts about the CT and mask read with nibabel, independently of the library under test. */
interface NibabelFacts {
  shape: [number, number, number];
  /** Mask voxels per axial slice k (index k). */
  maskPerSlice: number[];
  /** CT value (HU) at voxel (80, 40, k), per k. */
  huAt80x40: number[];
}

const NIBABEL_SCRIPT = `
import json, sys
import nibabel, numpy
ct = numpy.asarray(nibabel.load(sys.argv[1]).dataobj)
mask = numpy.asarray(nibabel.load(sys.argv[2]).dataobj)
print(json.dumps({
  "shape": list(ct.shape),
  "maskPerSlice": [int((mask[:, :, k] != 0).sum()) for k in range(mask.shape[2])],
  "huAt80x40": [float(ct[80, 40, k]) for k in range(ct.shape[2])],
}))
`;

async function nibabelFacts(): Promise<NibabelFacts> {
  const ct = sharedData('ct-abdomen-3mm.nii.gz');
  const mask = sharedData('ct-abdomen-3mm.pancreas.nii.gz');
  const result = await runCommand(SYSTEM_PYTHON, ['-c', NIBABEL_SCRIPT, ct, mask]);
  if (result.code !== 0) throw new Error(`nibabel failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as NibabelFacts;
}

/**
 * Minimal renderer host, kept as plain JavaScript text: loads a bundle as an ES module, calls
 * `activate()` as VS Code does, and renders one output item into `#out`. The item carries the
 * stored MIME value serialised the way VS Code's Jupyter support does for a `json` MIME type
 * (`JSON.stringify` of whatever the notebook holds, object or string); `json()` parses it back.
 */
const HOST = `
window.__render = async function (code, mime, stored) {
  if (window.__code !== code) {
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    const module = await import(url);
    window.__api = await module.activate({ workspace: { isTrusted: true } });
    window.__code = code;
  }
  const bytes = new TextEncoder().encode(JSON.stringify(stored));
  const text = () => new TextDecoder().decode(bytes);
  const item = {
    id: 'kernel-output-1',
    mime,
    metadata: {},
    data: () => bytes,
    text,
    json: () => JSON.parse(text()),
    blob: () => new Blob([bytes], { type: mime }),
  };
  const element = document.getElementById('out');
  await window.__api.renderOutputItem(item, element, new AbortController().signal);
};
`;

function bundle(name: string): string {
  return readFileSync(join(PROJECT_ROOT, 'renderers', 'dist', `${name}.js`), 'utf8');
}

async function render(page: Page, code: string, mime: string, stored: unknown): Promise<void> {
  await page.evaluate(
    (args) =>
      (window as unknown as { __render(...a: unknown[]): Promise<void> }).__render(
        args.code,
        args.mime,
        args.stored,
      ),
    { code, mime, stored },
  );
}

/** Saves a screenshot of the rendered output (temp file, then rename). */
async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const png = await page.locator('#out').screenshot();
  const path = join(SCREENSHOTS, `${name}.png`);
  writeFileSync(`${path}.tmp`, png);
  renameSync(`${path}.tmp`, path);
}

interface Pixels {
  w: number;
  h: number;
  data: Uint8Array;
}

/** RGBA pixels of the first canvas matching a selector, read back losslessly as PNG. */
async function canvasPixels(page: Page, selector: string): Promise<Pixels> {
  const url = await page.$eval(selector, (canvas) => (canvas as HTMLCanvasElement).toDataURL());
  const png = PNG.sync.read(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
  return { w: png.width, h: png.height, data: new Uint8Array(png.data) };
}

function countRed(pixels: Pixels): number {
  let red = 0;
  for (let o = 0; o < pixels.data.length; o += 4) {
    const [r, g, b] = [pixels.data[o], pixels.data[o + 1], pixels.data[o + 2]];
    if (r - g > 60 && r - b > 60) red++;
  }
  return red;
}

function countColoured(pixels: Pixels): number {
  let coloured = 0;
  for (let o = 0; o < pixels.data.length; o += 4) {
    const [r, g, b] = [pixels.data[o], pixels.data[o + 1], pixels.data[o + 2]];
    if (Math.max(Math.abs(r - g), Math.abs(g - b), Math.abs(r - b)) > 30) coloured++;
  }
  return coloured;
}

/** Sum over pixels of the largest difference between colour channels (0 for pure grey). */
function colourfulness(pixels: Pixels): number {
  let sum = 0;
  for (let o = 0; o < pixels.data.length; o += 4) {
    const [r, g, b] = [pixels.data[o], pixels.data[o + 1], pixels.data[o + 2]];
    sum += Math.max(Math.abs(r - g), Math.abs(g - b), Math.abs(r - b));
  }
  return sum;
}

async function setRange(page: Page, selector: string, value: number): Promise<void> {
  await page.evaluate(
    ({ selector, value }) => {
      const input = document.querySelector(selector) as HTMLInputElement;
      input.value = String(value);
      input.dispatchEvent(new Event('input'));
    },
    { selector, value },
  );
}

/** The one stored output of a cell that carries `mime`, and that value as stored. */
function storedItem(result: NotebookResult, cell: number, mime: string): unknown {
  const outputs = result.cells[cell].outputs.filter(
    (o) => o.output_type === 'display_data' && mime in (o.data as Record<string, unknown>),
  );
  assert.equal(outputs.length, 1, `cell ${cell}: ${outputs.length} outputs with ${mime}`);
  return (outputs[0].data as Record<string, unknown>)[mime];
}

/** A stored `+json` value as an object (nbformat keeps objects; a kernel may send a string). */
function asObject<T>(stored: unknown): T {
  return (typeof stored === 'string' ? JSON.parse(stored) : stored) as T;
}

describe('renderers on outputs captured from the real panknet kernel', function () {
  this.timeout(120_000);
  let kernel: InstalledKernel | undefined;
  let result: NotebookResult;
  let facts: NibabelFacts;
  let browser: TestBrowser | undefined;
  let page: Page;

  before(async function () {
    this.timeout(300_000);
    const entry = join(PROJECT_ROOT, 'dist', 'index.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first.`);
    await checkJupyterPython();
    buildRenderers();
    facts = await nibabelFacts();
    kernel = await installKernelspec();
    mkdirSync(join(ARTIFACTS, 'notebooks'), { recursive: true });
    const scratch = mkdtempSync(join(tmpdir(), 'panknet-capture-'));
    try {
      const path = join(scratch, 'renderers-kernel.ipynb');
      writeFileSync(path, notebookJson(CELLS));
      const kept = join(ARTIFACTS, 'notebooks', 'renderers-kernel.ipynb');
      result = await runNotebook(kernel, path, {
        timeoutS: 240,
        cellTimeoutS: 120,
        cwd: PROJECT_ROOT,
        out: join(scratch, 'executed.ipynb'),
      });
      if (existsSync(join(scratch, 'executed.ipynb'))) {
        writeFileSync(`${kept}.tmp`, readFileSync(join(scratch, 'executed.ipynb')));
        renameSync(`${kept}.tmp`, kept);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    const stderr = result.cells.map((cell) => stderrOf(cell.outputs)).join('');
    assert.equal(result.ok, true, `capture notebook failed: ${result.error}\n${stderr}`);
    browser = await launchBrowser();
  });

  after(async function () {
    await browser?.close();
    if (kernel !== undefined) rmSync(kernel.prefix, { recursive: true, force: true });
  });

  beforeEach(async function () {
    assert.ok(browser, 'Chromium did not start');
    page = await browser.context.newPage();
    await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
    await page.addScriptTag({ content: HOST });
  });

  afterEach(async function () {
    await page.close();
  });

  describe('slice viewer on the show.volume output', function () {
    let stored: unknown;
    const slices = (): number[] =>
      facts.maskPerSlice.flatMap((n, k) => (n > 0 ? [k] : [])).sort((a, b) => a - b);

    beforeEach(async function () {
      stored = storedItem(result, 1, VOLUME_MIME);
      const grid = asObject<{ grid: { downsample: number[]; shape: number[] } }>(stored).grid;
      // Pixel positions below assume the full-resolution grid nibabel reads.
      assert.deepEqual(grid.downsample, [1, 1, 1]);
      assert.deepEqual(grid.shape, facts.shape);
      await render(page, bundle('slice-viewer'), VOLUME_MIME, stored);
    });

    it('shows the markup title and series description as literal text', async function () {
      assert.equal(await page.textContent('.pk-title'), TITLE_MARKUP);
      assert.equal(await page.textContent('.pk-series'), `Series: ${SERIES_MARKUP}`);
      assert.equal(await page.locator('#out b, #out img').count(), 0);
      assert.equal(await page.evaluate(() => (window as { __xss?: number }).__xss), undefined);
      await screenshot(page, 'slice-viewer');
    });

    it('draws the mask in red where nibabel finds it; the slider moves the slice', async () => {
      const ks = slices();
      const first = ks[0];
      const last = ks[ks.length - 1];
      const busiest = ks.reduce((a, b) => (facts.maskPerSlice[a] >= facts.maskPerSlice[b] ? a : b));

      await setRange(page, `${AXIAL} input`, busiest);
      assert.equal(await page.getAttribute(`${AXIAL} canvas`, 'data-slice'), String(busiest));
      const atBusiest = await canvasPixels(page, `${AXIAL} canvas`);
      const red = countRed(atBusiest);
      // A 3 mm voxel covers about 2.46 x 2.46 screen pixels (366 mm over 300 px).
      const voxels = facts.maskPerSlice[busiest];
      assert.ok(red >= 3 * voxels, `${red} red pixels for ${voxels} mask voxels at k = ${busiest}`);
      await screenshot(page, 'slice-viewer-mask');

      await setRange(page, `${AXIAL} input`, first - 3);
      assert.equal(await page.getAttribute(`${AXIAL} canvas`, 'data-slice'), String(first - 3));
      const below = await canvasPixels(page, `${AXIAL} canvas`);
      assert.equal(countRed(below), 0);
      // A different slice is a different picture, not just the overlay switched off.
      let changed = 0;
      for (let o = 0; o < below.data.length; o += 4) {
        if (below.data[o + 1] !== atBusiest.data[o + 1]) changed++;
      }
      assert.ok(changed > below.data.length / 4 / 10, `${changed} pixels changed with the slice`);

      await setRange(page, `${AXIAL} input`, last + 3);
      assert.equal(countRed(await canvasPixels(page, `${AXIAL} canvas`)), 0);
      const label = `axial ${last + 4}/${facts.shape[2]}`;
      assert.equal(await page.textContent(`${AXIAL} .pk-slice-label`), label);
    });

    it('changes grey levels with the window presets as nibabel HU predict', async () => {
      const k = Number(await page.getAttribute(`${AXIAL} canvas`, 'data-slice'));
      const [nx, ny] = facts.shape;
      const hu = facts.huAt80x40[k];
      // Radiological axial view: voxel (i, j) sits at column nx - 1 - i, row ny - 1 - j.
      const pixels = await canvasPixels(page, `${AXIAL} canvas`);
      const x = Math.floor(((nx - 1 - 80 + 0.5) * pixels.w) / nx);
      const y = Math.floor(((ny - 1 - 40 + 0.5) * pixels.h) / ny);
      const grey = (w: number, l: number): number => {
        const t = (hu - (l - w / 2)) / w;
        return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
      };
      const at = async (): Promise<number> => {
        const p = await canvasPixels(page, `${AXIAL} canvas`);
        return p.data[(y * p.w + x) * 4];
      };
      const seen: number[] = [];
      for (const [preset, w, l] of [
        ['abdomen', 400, 40],
        ['bone', 1800, 400],
        ['pancreas', 250, 75],
      ] as const) {
        if (preset !== 'abdomen') await page.click(`button[data-preset="${preset}"]`);
        const value = await at();
        seen.push(value);
        assert.ok(Math.abs(value - grey(w, l)) <= 1, `${preset}: grey ${value} at ${hu} HU`);
        await screenshot(page, `slice-viewer-${preset}`);
      }
      assert.equal(await page.textContent('.pk-window'), 'window W250/L75');
      assert.ok(new Set(seen).size >= 2, `grey levels ${seen.join(', ')} did not change`);
    });
  });

  it('decoder grid on the show.decoders output: maps over the mask, none far off', async () => {
    const stored = storedItem(result, 2, DECODERS_MIME);
    await render(page, bundle('decoder-maps'), DECODERS_MIME, stored);
    assert.equal(await page.textContent('.pk-decoder-grid .pk-title'), DECODERS_TITLE);
    assert.equal(await page.locator('#out i').count(), 0);
    assert.equal(await page.locator('.pk-decoder-grid canvas.pk-canvas').count(), 6);

    // Opens on the slice with the most fused mass: the busiest mask slice by nibabel.
    const counts = facts.maskPerSlice;
    const busiest = counts.reduce((best, n, k) => (n > counts[best] ? k : best), 0);
    const opened = await page.$$eval('.pk-decoder-grid canvas.pk-canvas', (all) =>
      all.map((c) => (c as HTMLCanvasElement).dataset.slice),
    );
    assert.deepEqual(opened, Array(6).fill(String(busiest)));
    // The maps are the mask times 0.25, 0.5, 0.75 and 1 (fused = map4): the probability colour
    // over the CT gets stronger from map1 to map4, and map4 looks exactly like the fused map.
    const tint: number[] = [];
    for (const map of ['map1', 'map2', 'map3', 'map4', 'fused']) {
      const pixels = await canvasPixels(page, `.pk-plane[data-map="${map}"] canvas`);
      tint.push(colourfulness(pixels));
    }
    assert.ok(tint[0] > 0, `map1 shows no probability colour at k = ${busiest}`);
    for (let n = 1; n < 4; n++) assert.ok(tint[n] > tint[n - 1], `tints ${tint.join(', ')}`);
    assert.equal(tint[4], tint[3]);
    const fusedAtBusiest = await canvasPixels(page, '.pk-plane[data-map="fused"] canvas');
    assert.ok(countColoured(fusedAtBusiest) > 0);
    // Maps 1..3 differ from the fused map, so the disagreement panel is coloured there too.
    const spread = await canvasPixels(page, '.pk-plane[data-map="disagreement"] canvas');
    assert.ok(countColoured(spread) > 0);
    await screenshot(page, 'decoder-maps');

    const clear = counts.findIndex((n, k) => k > busiest && n === 0 && counts[k + 1] === 0);
    await setRange(page, '.pk-decoder-grid input.pk-slider', clear + 1);
    const fused = await canvasPixels(page, '.pk-plane[data-map="fused"] canvas');
    assert.equal(countColoured(fused), 0, `fused map coloured at k = ${clear + 1}`);
    await screenshot(page, 'decoder-maps-clear');
  });

  it('training curves on the show.training output updated by show.update', async () => {
    // nbclient applied the update_display_data to cell 3's output; cell 4 adds none of its own.
    assert.deepEqual(
      result.cells[4].outputs.filter((o) => o.output_type === 'display_data'),
      [],
    );
    const stored = storedItem(result, 3, TRAINING_MIME);
    await render(page, bundle('curves'), TRAINING_MIME, stored);
    assert.equal(await page.textContent('.pk-curves .pk-title'), CURVES_TITLE);
    assert.equal(await page.evaluate(() => (window as { __xss?: number }).__xss), undefined);
    const last = ALL_ROWS[ALL_ROWS.length - 1] as { loss: number; dice_fused: number };
    const [loss, dice] = [last.loss.toFixed(4), last.dice_fused.toFixed(4)];
    const summary = `epoch 6: loss ${loss}, fused Dice ${dice}`;
    assert.equal(await page.textContent('.pk-summary'), summary);

    const traces = await page.evaluate(() => {
      const plot = document.querySelector('.pk-plot') as HTMLElement & {
        data: { name: string; x: number[]; y: (number | null)[] }[];
      };
      const drawn = [...plot.querySelectorAll('.scatterlayer .trace path.js-line')];
      return {
        names: plot.data.map((t) => t.name),
        x: plot.data.map((t) => t.x),
        y: plot.data.map((t) => t.y),
        svg: plot.querySelectorAll('.scatterlayer .trace').length,
        paths: drawn.filter((p) => (p.getAttribute('d') ?? '').length > 10).length,
      };
    });
    const names = ['loss', 'lr', 'map1 Dice', 'map2 Dice', 'map3 Dice', 'map4 Dice'];
    assert.deepEqual(traces.names, [...names, 'fused Dice', 'val Dice']);
    const epochs = ALL_ROWS.map((row) => row.epoch);
    assert.deepEqual(traces.x, Array(8).fill(epochs));
    assert.deepEqual(
      traces.y[0],
      ALL_ROWS.map((row) => row.loss),
    );
    assert.deepEqual(
      traces.y[6],
      ALL_ROWS.map((row) => row.dice_fused),
    );
    assert.equal(traces.svg, 8);
    // Seven full lines; validation ran every second epoch, drawn as its own line or markers.
    assert.ok(traces.paths >= 7, `${traces.paths} drawn trace lines`);

    const shot = PNG.sync.read(await page.locator('.pk-plot').screenshot());
    const coloured = countColoured({ w: shot.width, h: shot.height, data: shot.data });
    assert.ok(coloured > 500, `${coloured} coloured pixels in the plot`);
    await screenshot(page, 'curves');
  });
});
