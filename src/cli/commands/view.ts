import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';

import type { VolumePayloadOptions } from '../../display/volume-payload.js';
import { buildVolumePayload } from '../../display/volume-payload.js';
import { WINDOW_PRESETS } from '../../display/window.js';
import type { WindowPresetName } from '../../display/window.js';
import { readVolume } from '../../io/read-volume.js';
import { InputFileError, PankNetError } from '../../util/errors.js';
import { log } from '../../util/log.js';
import { writeFileAtomic } from '../../util/write-atomic.js';
import { parsePositiveInteger } from '../parse-options.js';

/** Options of the `view` command as commander passes them. */
export interface ViewOptions {
  /** Label mask on the image grid, drawn over it. */
  mask?: string;
  /** Output HTML file. */
  output: string;
  /** Initial window preset. */
  window?: WindowPresetName | 'auto';
  /** Cap on payload voxels (larger images are block-averaged). */
  maxVoxels?: number;
  /** DICOM: series by SeriesInstanceUID or 0-based index. */
  series?: string;
}

/** The built slice-viewer page script (`npm run build:renderers`), from dist/ or src/. */
export const STANDALONE_BUNDLE = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../renderers/dist/slice-viewer-standalone.js',
);

/**
 * Writes JSON into an HTML `<script type="application/json">` safely: `<`, `>`, `&` and the
 * line separators become `\u` escapes, so file metadata can never close the element.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/**
 * The self-contained viewer page: the slice-viewer script and the payload inlined, no external
 * resources, a Content-Security-Policy that allows nothing else.
 *
 * @param payloadJson - From `jsonForScript`.
 * @param script - The slice-viewer page script.
 */
export function viewerHtml(payloadJson: string, script: string): string {
  // A script element ends at the first "</script"; escaping it inside the code keeps it whole.
  const safeScript = script.replace(/<\/(script)/gi, '<\\/$1');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; ' +
      "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:\">",
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>PankNet view</title>',
    '</head>',
    '<body>',
    '<div id="panknet-view"></div>',
    `<script type="application/json" id="panknet-payload">${payloadJson}</script>`,
    `<script>${safeScript}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * Writes a self-contained HTML slice viewer of an image (and mask), atomically.
 *
 * @throws InputFileError for unreadable inputs or a mask on another grid.
 * @throws PankNetError when the viewer script is not built or the output cannot be written.
 */
export async function runView(image: string, options: ViewOptions): Promise<void> {
  if (!existsSync(STANDALONE_BUNDLE)) {
    throw new PankNetError(
      `view: the slice-viewer script ${STANDALONE_BUNDLE} is missing; ` +
        'run "npm run build:renderers" in the PankNet folder first.',
    );
  }
  const volume = await readVolume(image, options.series ? { series: options.series } : {});
  const payloadOptions: VolumePayloadOptions = {};
  if (options.window) payloadOptions.window = options.window;
  if (options.maxVoxels) payloadOptions.maxVoxels = options.maxVoxels;
  if (options.mask !== undefined) {
    const mask = await readVolume(options.mask);
    if (mask.shape.some((n, a) => n !== volume.shape[a])) {
      throw new InputFileError(
        options.mask,
        `mask shape ${mask.shape.join(' x ')} differs from the image ` +
          `${volume.shape.join(' x ')}. ` +
          'Resample the mask onto the image grid (nearest neighbour) first.',
      );
    }
    const offsetMm = Math.max(
      ...mask.affine.flatMap((row, r) => row.map((v, c) => Math.abs(v - volume.affine[r][c]))),
    );
    if (offsetMm > 1e-3) {
      log.warn(
        `view: ${options.mask} and ${image} have the same shape but affines differing by up to ` +
          `${offsetMm.toFixed(3)} mm; the mask is drawn voxel by voxel on the image.`,
      );
    }
    payloadOptions.mask = mask;
  }
  const payload = buildVolumePayload(volume, payloadOptions);
  const script = await readFile(STANDALONE_BUNDLE, 'utf8');
  const html = viewerHtml(jsonForScript(payload), script);

  const output = resolve(options.output);
  await writeFileAtomic(output, html, { what: 'viewer page' });
  process.stdout.write(`${options.output}\n`);
}

function parseWindow(value: string): WindowPresetName | 'auto' {
  if (value === 'auto' || value in WINDOW_PRESETS) return value as WindowPresetName | 'auto';
  const names = [...Object.keys(WINDOW_PRESETS), 'auto'].join(', ');
  throw new InvalidArgumentError(`expected one of ${names}, got "${value}".`);
}

/** Registers `panknet view IMAGE [--mask M] [-o view.html]`. */
export function registerView(program: Command): void {
  program
    .command('view')
    .description('write a self-contained HTML slice viewer of an image, with an optional mask')
    .argument('<image>', 'NIfTI file or DICOM folder')
    .option('--mask <file>', 'label mask on the same grid, drawn in colour')
    .option('-o, --output <file>', 'HTML file to write', 'view.html')
    .option('--window <preset>', 'initial window: abdomen, pancreas, bone or auto', parseWindow)
    .option(
      '--max-voxels <n>',
      'downsample above this many voxels (default 4000000)',
      parsePositiveInteger,
    )
    .option('--series <uid|index>', 'DICOM series to show')
    .action(async (image: string, options: ViewOptions) => runView(image, options));
}
