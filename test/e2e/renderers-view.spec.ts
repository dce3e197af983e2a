import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';

import { jsonForScript, STANDALONE_BUNDLE, viewerHtml } from '../../src/cli/commands/view.js';
import { buildVolumePayload } from '../../src/display/volume-payload.js';
import { readNifti } from '../../src/io/read-nifti.js';
import { CLI_PATH, sharedData } from '../helpers/data.js';
import type { TestBrowser } from './renderers-browser.js';
import { buildRenderers, launchBrowser } from './renderers-browser.js';

const run = promisify(execFile);

async function redPixels(page: Page, selector: string): Promise<number> {
  const url = await page.$eval(selector, (canvas) => (canvas as HTMLCanvasElement).toDataURL());
  const png = PNG.sync.read(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
  let red = 0;
  for (let o = 0; o < png.data.length; o += 4) {
    if (png.data[o] - png.data[o + 1] > 60 && png.data[o] - png.data[o + 2] > 60) red++;
  }
  return red;
}

describe('panknet view', function () {
  this.timeout(180_000);
  let browser: TestBrowser;
  let folder: string;

  before(async () => {
    buildRenderers();
    browser = await launchBrowser();
    folder = mkdtempSync(join(tmpdir(), 'panknet-view-'));
  });

  after(async () => {
    await browser?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('writes a self-contained page of the real CT that renders the mask in Chromium', async () => {
    const output = join(folder, 'ct.html');
    const { stdout } = await run(process.execPath, [
      CLI_PATH,
      'view',
      sharedData('ct-abdomen-3mm.nii.gz'),
      '--mask',
      sharedData('ct-abdomen-3mm.pancreas.nii.gz'),
      '-o',
      output,
    ]);
    assert.equal(stdout, `${output}\n`);
    assert.deepEqual(readdirSync(folder), ['ct.html']);
    const html = readFileSync(output, 'utf8');
    assert.doesNotMatch(html, /<script[^>]+src=|<link /);

    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(pathToFileURL(output).href);
    await page.waitForSelector('.pk-plane[data-plane="sagittal"] canvas');
    assert.deepEqual(errors, []);
    assert.equal(await page.title(), 'ct-abdomen-3mm.nii.gz - PankNet');
    assert.equal(await page.locator('canvas.pk-canvas').count(), 3);
    // The viewer opens on the centre of the pancreas: red on all three planes.
    for (const plane of ['axial', 'coronal', 'sagittal']) {
      assert.ok((await redPixels(page, `.pk-plane[data-plane="${plane}"] canvas`)) > 0, plane);
    }
    await page.close();
  });

  it('keeps a hostile series description inert inside the page', async () => {
    const ct = await readNifti(sharedData('ct-abdomen-3mm.nii.gz'));
    const hostile =
      '</script><img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>';
    const payload = buildVolumePayload(
      { ...ct, meta: { ...ct.meta, seriesDescription: hostile } },
      { maxVoxels: 100_000 },
    );
    const html = viewerHtml(jsonForScript(payload), readFileSync(STANDALONE_BUNDLE, 'utf8'));
    const page = await browser.context.newPage();
    await page.setContent(html);
    await page.waitForSelector('.pk-series');
    assert.equal(await page.textContent('.pk-series'), `Series: ${hostile}`);
    assert.equal(await page.evaluate(() => (window as { __xss?: number }).__xss), undefined);
    assert.equal(await page.locator('img').count(), 0);
    await page.close();
  });

  it('refuses a mask on another grid with exit code 2 and writes nothing', async () => {
    const output = join(folder, 'bad.html');
    const failure = await run(process.execPath, [
      CLI_PATH,
      'view',
      sharedData('ct-abdomen-3mm.nii.gz'),
      '--mask',
      sharedData('ct-abdomen-3mm-30slices.labels.nii.gz'),
      '-o',
      output,
    ]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    assert.ok(failure);
    assert.equal(failure.code, 2);
    assert.match(
      failure.stderr,
      new RegExp(
        '^panknet: error: .*ct-abdomen-3mm-30slices\\.labels\\.nii\\.gz: mask shape ' +
          '122 x 101 x 30 differs from the image 122 x 101 x 112\\. Resample',
      ),
    );
    assert.deepEqual(readdirSync(folder).sort(), ['ct.html']);
  });
});
