import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';

import { buildDecodersPayload } from '../../src/display/decoders-payload.js';
import { DECODERS_MIME, TRAINING_MIME, VOLUME_MIME } from '../../src/display/mime-types.js';
import type { TrainingRow } from '../../src/display/payload-types.js';
import { buildTrainingPayload } from '../../src/display/training-payload.js';
import { buildVolumePayload } from '../../src/display/volume-payload.js';
import { readNifti } from '../../src/io/read-nifti.js';
import type { Volume } from '../../src/io/volume.js';
import { PROJECT_ROOT, sharedData } from '../helpers/data.js';
import type { TestBrowser } from './renderers-browser.js';
import { buildRenderers, launchBrowser } from './renderers-browser.js';

const HOSTILE = '<img src=x onerror="window.__xss = 1">';

function bundle(name: string): string {
  return readFileSync(join(PROJECT_ROOT, 'renderers', 'dist', `${name}.js`), 'utf8');
}

/**
 * In-page harness, kept as plain JavaScript text (tsx would add helpers to a compiled function):
 * loads a renderer bundle as an ES module, calls `activate()` as VS Code does and renders one
 * output item into `#out` (kept between calls, as VS Code reuses an output element).
 */
const HARNESS = `
window.__render = async function (code, mime, payload, asString) {
  if (window.__code !== code) {
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    const module = await import(url);
    window.__api = await module.activate({ workspace: { isTrusted: true } });
    window.__code = code;
  }
  const text = JSON.stringify(payload);
  const item = {
    id: 'output-1',
    mime,
    metadata: {},
    // A kernel like tslab stores +json outputs as a JSON string: both must work.
    json: function () { return asString ? text : payload; },
    text: function () { return text; },
    data: function () { return new TextEncoder().encode(text); },
  };
  const element = document.getElementById('out');
  await window.__api.renderOutputItem(item, element, new AbortController().signal);
};
`;

async function render(
  page: Page,
  code: string,
  mime: string,
  payload: unknown,
  asString = false,
): Promise<void> {
  await page.evaluate(
    (args) =>
      (window as unknown as { __render(...a: unknown[]): Promise<void> }).__render(
        args.code,
        args.mime,
        args.payload,
        args.asString,
      ),
    { code, mime, payload, asString },
  );
}

/** RGBA pixels of the first canvas matching a selector (read back losslessly as PNG). */
async function canvasPixels(
  page: Page,
  selector: string,
): Promise<{ w: number; data: Uint8Array }> {
  const url = await page.$eval(selector, (canvas) => (canvas as HTMLCanvasElement).toDataURL());
  const png = PNG.sync.read(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
  return { w: png.width, data: new Uint8Array(png.data) };
}

function countRed(pixels: { data: Uint8Array }): number {
  let red = 0;
  for (let o = 0; o < pixels.data.length; o += 4) {
    const [r, g, b] = [pixels.data[o], pixels.data[o + 1], pixels.data[o + 2]];
    if (r - g > 60 && r - b > 60) red++;
  }
  return red;
}

function countColoured(pixels: { data: Uint8Array }): number {
  let coloured = 0;
  for (let o = 0; o < pixels.data.length; o += 4) {
    const [r, g, b] = [pixels.data[o], pixels.data[o + 1], pixels.data[o + 2]];
    if (Math.max(Math.abs(r - g), Math.abs(g - b), Math.abs(r - b)) > 30) coloured++;
  }
  return coloured;
}

const AXIAL = '.pk-plane[data-plane="axial"]';

describe('notebook renderers in headless Chromium', function () {
  this.timeout(180_000);
  let browser: TestBrowser;
  let page: Page;
  let ct: Volume;
  let mask: Volume;
  /** Slices k holding pancreas voxels, and voxel counts per slice. */
  const maskPerSlice = new Map<number, number>();

  before(async () => {
    buildRenderers();
    ct = await readNifti(sharedData('ct-abdomen-3mm.nii.gz'));
    mask = await readNifti(sharedData('ct-abdomen-3mm.pancreas.nii.gz'));
    const [nx, ny] = ct.shape;
    mask.data.forEach((v, n) => {
      if (v === 0) return;
      const k = Math.floor(n / (nx * ny));
      maskPerSlice.set(k, (maskPerSlice.get(k) ?? 0) + 1);
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    page = await browser.context.newPage();
    await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
    await page.addScriptTag({ content: HARNESS });
  });

  afterEach(async () => {
    await page.close();
  });

  describe('slice viewer', () => {
    let code: string;

    beforeEach(async () => {
      code = bundle('slice-viewer');
      const volume: Volume = { ...ct, meta: { ...ct.meta, seriesDescription: HOSTILE } };
      await render(page, code, VOLUME_MIME, buildVolumePayload(volume, { mask }));
    });

    it('shows a hostile series description as text, never as HTML', async () => {
      const series = await page.textContent('.pk-series');
      assert.equal(series, `Series: ${HOSTILE}`);
      assert.equal(await page.locator('#out img').count(), 0);
      assert.equal(await page.evaluate(() => (window as { __xss?: number }).__xss), undefined);
      assert.equal(await page.textContent('.pk-title'), HOSTILE);
    });

    it('draws the mask in red on the axial plane at its slices and nowhere else', async () => {
      const slices = [...maskPerSlice.keys()].sort((a, b) => a - b);
      const first = slices[0];
      // The viewer opens on the centre of the mask's extent along k.
      const centre = Math.round((first + slices[slices.length - 1]) / 2);
      assert.equal(await page.getAttribute(`${AXIAL} canvas`, 'data-slice'), String(centre));
      assert.ok(countRed(await canvasPixels(page, `${AXIAL} canvas`)) > 0);
      const setSlice = async (k: number): Promise<number> => {
        await page.evaluate(
          ({ selector, k }) => {
            const input = document.querySelector(selector) as HTMLInputElement;
            input.value = String(k);
            input.dispatchEvent(new Event('input'));
          },
          { selector: `${AXIAL} input`, k },
        );
        return countRed(await canvasPixels(page, `${AXIAL} canvas`));
      };
      // Each 3 mm voxel covers about 2.46 x 2.46 screen pixels (366 mm on 300 px).
      const voxelsAt = (k: number): number => maskPerSlice.get(k) ?? 0;
      const busiest = slices.reduce((a, b) => (voxelsAt(a) >= voxelsAt(b) ? a : b));
      const red = await setSlice(busiest);
      assert.ok(red >= 3 * (maskPerSlice.get(busiest) ?? 0), `${red} red pixels at k = ${busiest}`);
      assert.equal(await setSlice(first - 3), 0);
      assert.equal(await setSlice(slices[slices.length - 1] + 3), 0);
      const label = `axial ${slices[slices.length - 1] + 4}/112`;
      assert.equal(await page.textContent(`${AXIAL} .pk-slice-label`), label);

      // Mask off, then on at opacity 0: no red either way.
      await page.evaluate((selector) => {
        const input = document.querySelector(selector) as HTMLInputElement;
        input.value = '0';
        input.dispatchEvent(new Event('input'));
      }, '.pk-opacity');
      assert.equal(await setSlice(busiest), 0);
    });

    it('moves one slice per wheel step over a plane', async () => {
      const box = await page.locator(`${AXIAL} canvas`).boundingBox();
      assert.ok(box);
      const before = Number(await page.getAttribute(`${AXIAL} canvas`, 'data-slice'));
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.wheel(0, 120);
      await page.mouse.wheel(0, 120);
      assert.equal(Number(await page.getAttribute(`${AXIAL} canvas`, 'data-slice')), before + 2);
      await page.mouse.wheel(0, -120);
      assert.equal(Number(await page.getAttribute(`${AXIAL} canvas`, 'data-slice')), before + 1);
      assert.equal(await page.inputValue(`${AXIAL} input`), String(before + 1));
    });

    it('shows grey levels of the chosen W/L preset and the HU under the pointer', async () => {
      const k = Number(await page.getAttribute(`${AXIAL} canvas`, 'data-slice'));
      const pixels = await canvasPixels(page, `${AXIAL} canvas`);
      const height = pixels.data.length / 4 / pixels.w;
      const [nx, ny] = ct.shape;
      // Voxel (i, j) = (80, 40): radiological axial view puts it at column 121 - 80, row 100 - 40.
      const col = nx - 1 - 80;
      const row = ny - 1 - 40;
      const x = Math.floor(((col + 0.5) * pixels.w) / nx);
      const y = Math.floor(((row + 0.5) * height) / ny);
      const hu = ct.data[80 + nx * (40 + ny * k)];
      const grey = (w: number, l: number): number => {
        const t = (hu - (l - w / 2)) / w;
        return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
      };
      const at = async (): Promise<number> => {
        const p = await canvasPixels(page, `${AXIAL} canvas`);
        return p.data[(y * p.w + x) * 4];
      };
      assert.ok(Math.abs((await at()) - grey(400, 40)) <= 1, `abdomen grey at ${hu} HU`);
      await page.click('button[data-preset="bone"]');
      assert.ok(Math.abs((await at()) - grey(1800, 400)) <= 1, `bone grey at ${hu} HU`);
      await page.click('button[data-preset="pancreas"]');
      assert.ok(Math.abs((await at()) - grey(250, 75)) <= 1, `pancreas grey at ${hu} HU`);
      assert.equal(await page.textContent('.pk-window'), 'window W250/L75');

      const box = await page.locator(`${AXIAL} canvas`).boundingBox();
      assert.ok(box);
      await page.mouse.move(box.x + x + 0.5, box.y + y + 0.5);
      const probe = (await page.textContent('.pk-probe')) ?? '';
      assert.match(probe, new RegExp(`^voxel \\(80, 40, ${k}\\) = ${hu} HU mask [01]; RAS \\(`));
      const worldX = (ct.affine[0][3] + 3 * 80).toFixed(1);
      assert.ok(probe.includes(`RAS (${worldX}, `), probe);

      // Right-drag changes the window away from the preset.
      await page.mouse.down({ button: 'right' });
      await page.mouse.move(box.x + x + 60.5, box.y + y + 30.5);
      await page.mouse.up({ button: 'right' });
      const label = (await page.textContent('.pk-window')) ?? '';
      assert.notEqual(label, 'window W250/L75');
      assert.match(label, /^window W325(\.\d)?\/L37\.5$/);
    });

    it('links the crosshair: a click on axial row 70 moves coronal to j = 30', async () => {
      const box = await page.locator(`${AXIAL} canvas`).boundingBox();
      assert.ok(box);
      // Row r of the axial view is voxel j = 100 - r; the coronal plane's slice index is j.
      const rowFraction = (100 - 30 + 0.5) / 101;
      await page.mouse.click(box.x + box.width / 2, box.y + rowFraction * box.height);
      const coronal = '.pk-plane[data-plane="coronal"] canvas';
      assert.equal(await page.getAttribute(coronal, 'data-slice'), '30');
    });
  });

  it('decoder grid: five maps plus disagreement scroll together over the CT', async () => {
    const count = ct.data.length;
    const maps = [0.25, 0.5, 0.75, 1].map((s) => Float32Array.from(mask.data, (v) => v * s));
    const fused = Float32Array.from(mask.data);
    assert.equal(fused.length, count);
    const payload = buildDecodersPayload(
      { maps: [maps[0], maps[1], maps[2], maps[3]], fused, shape: ct.shape, image: ct },
      { title: HOSTILE },
    );
    // Stored as a JSON string, as tslab does.
    await render(page, bundle('decoder-maps'), DECODERS_MIME, payload, true);
    assert.equal(await page.textContent('.pk-title'), HOSTILE);
    assert.equal(await page.locator('.pk-decoder-grid canvas.pk-canvas').count(), 6);
    assert.equal(await page.locator('canvas.pk-scale-bar').count(), 1);

    // Starts on the slice with the most fused mass: the busiest mask slice.
    const busiest = [...maskPerSlice.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    const slices = await page.$$eval('.pk-decoder-grid canvas.pk-canvas', (all) =>
      all.map((c) => (c as HTMLCanvasElement).dataset.slice),
    );
    assert.deepEqual(slices, Array(6).fill(String(busiest)));
    const fusedPixels = await canvasPixels(page, '.pk-plane[data-map="fused"] canvas');
    const spreadPixels = await canvasPixels(page, '.pk-plane[data-map="disagreement"] canvas');
    assert.ok(countColoured(fusedPixels) > 0);
    assert.ok(countColoured(spreadPixels) > 0);

    // Wheel over map2 scrolls every panel; far from the pancreas all panels are plain grey.
    const box = await page.locator('.pk-plane[data-map="map2"] canvas').boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + 5, box.y + 5);
    const lastMaskSlice = Math.max(...maskPerSlice.keys());
    for (let s = busiest; s <= lastMaskSlice + 2; s++) await page.mouse.wheel(0, 100);
    const moved = String(lastMaskSlice + 3);
    const after = await page.$$eval('.pk-decoder-grid canvas.pk-canvas', (all) =>
      all.map((c) => (c as HTMLCanvasElement).dataset.slice),
    );
    assert.deepEqual(after, Array(6).fill(moved));
    assert.equal(countColoured(await canvasPixels(page, '.pk-plane[data-map="fused"] canvas')), 0);
  });

  it('training curves: plotly traces are drawn and updated in place on a new payload', async () => {
    const rows = (n: number): TrainingRow[] =>
      Array.from({ length: n }, (_, e) => ({
        epoch: e + 1,
        loss: 5 / (e + 1),
        lr: 1e-3,
        dice_map1: 0.1 * e,
        dice_map2: 0.1 * e,
        dice_map3: 0.1 * e,
        dice_map4: 0.1 * e,
        dice_fused: 0.12 * e,
        val_dice: (e + 1) % 2 === 0 ? 0.1 * e : null,
      }));
    const code = bundle('curves');
    await render(page, code, TRAINING_MIME, buildTrainingPayload(rows(3), HOSTILE), true);
    assert.equal(await page.textContent('.pk-curves .pk-title'), HOSTILE);
    await page.evaluate(() => {
      (document.querySelector('.pk-plot') as HTMLElement).dataset.first = 'yes';
    });
    const traces = (): Promise<{ names: string[]; lengths: number[]; svg: number }> =>
      page.evaluate(() => {
        const plot = document.querySelector('.pk-plot') as HTMLElement & {
          data: { name: string; x: number[] }[];
        };
        return {
          names: plot.data.map((t) => t.name),
          lengths: plot.data.map((t) => t.x.length),
          svg: plot.querySelectorAll('.scatterlayer .trace').length,
        };
      });
    const first = await traces();
    assert.deepEqual(first.names, [
      'loss',
      'lr',
      'map1 Dice',
      'map2 Dice',
      'map3 Dice',
      'map4 Dice',
      'fused Dice',
      'val Dice',
    ]);
    assert.deepEqual(first.lengths, Array(8).fill(3));
    assert.equal(first.svg, 8);

    await render(page, code, TRAINING_MIME, buildTrainingPayload(rows(7), HOSTILE), true);
    const second = await traces();
    assert.deepEqual(second.lengths, Array(8).fill(7));
    assert.equal(await page.getAttribute('.pk-plot', 'data-first'), 'yes');
    const summary = (await page.textContent('.pk-summary')) ?? '';
    assert.match(summary, /^epoch 7: loss 0\.7143, fused Dice 0\.7200$/);
  });

  it('shows a wrong payload as an error message in the cell', async () => {
    const training = buildTrainingPayload([]);
    await render(page, bundle('slice-viewer'), VOLUME_MIME, training);
    assert.equal(
      await page.textContent('.pk-error'),
      'PankNet slice viewer: expected a panknet.volume payload, found panknet.training',
    );
  });
});
