/**
 * Notebook display helpers: `show.volume`, `show.decoders`, `show.training` and `show.update`.
 * Inside a tslab kernel (the `panknet` kernelspec, or any tslab) each call sends one MIME bundle
 * (our `application/vnd.panknet.*+json` payload as a JSON object, a PNG fallback and a text
 * summary) with a display id, so that `show.update` can replace that output in place; anywhere
 * else the bundle is only returned. tslab is never imported: its loaded module is looked up.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { inspect } from 'node:util';

import type { Volume } from '../io/volume.js';
import { InputFileError, PankNetError } from '../util/errors.js';
import type { DecoderMapsInput, DecodersPayloadOptions } from './decoders-payload.js';
import { buildDecodersPayload } from './decoders-payload.js';
import type { MimeBundle } from './mime-bundle.js';
import { mimeBundle, mimeTypeOf } from './mime-bundle.js';
import type { DisplayPayload, TrainingRow } from './payload-types.js';
import { buildTrainingPayload } from './training-payload.js';
import type { VolumePayloadOptions } from './volume-payload.js';
import { buildVolumePayload } from './volume-payload.js';

/** The three kinds of PankNet output. */
export type ShowKind = 'volume' | 'decoders' | 'training';

/** Options of `show.training`. */
export interface ShowTrainingOptions {
  /** Title above the curves (default `PankNet training`, or the run folder's name). */
  title?: string;
}

/** What each kind is built from. */
export interface ShowSources {
  /** A volume (CT in HU or any scalar image). */
  volume: Volume;
  /** Four decoder maps and the fused map (pancreas probability in [0, 1]). */
  decoders: DecoderMapsInput;
  /** A run folder, a metrics file (`.jsonl`, `.json`, `.csv`) or the rows themselves. */
  training: string | readonly TrainingRow[];
}

/** The options of each kind. */
export interface ShowOptions {
  /** Mask, window, title, size caps. */
  volume: VolumePayloadOptions;
  /** Title, CT window, voxel cap. */
  decoders: DecodersPayloadOptions;
  /** Title. */
  training: ShowTrainingOptions;
}

/**
 * One shown output. Inside a kernel, `show.update` replaces that output in place (same display
 * id); elsewhere `bundle` is the result to use (e.g. to save or to send to another front end).
 */
export interface DisplayHandle<K extends ShowKind = ShowKind> {
  /** Which builder made `bundle`. */
  readonly kind: K;
  /** Jupyter display id of the output (16 hex digits). */
  readonly displayId: string;
  /** The latest bundle: the payload under its MIME type, `image/png` (base64), `text/plain`. */
  bundle: MimeBundle;
  /** Options of the latest build, reused by `show.update` when it gets none. */
  options: ShowOptions[K];
  /** Whether the latest bundle went to a kernel (false outside a notebook). */
  displayed: boolean;
}

/** A Jupyter `display_data` / `update_display_data` content. */
interface DisplayMessage {
  data: MimeBundle;
  metadata: Record<string, unknown>;
  transient: { display_id: string };
}

type DisplayChannel = (message: DisplayMessage, update: boolean) => void;

/** Where tslab keeps its Jupyter connection, relative to any node_modules folder. */
const TSLAB_JUPYTER_MODULE = `${sep}tslab${sep}dist${sep}jupyter.js`;

/** Metrics file names looked for in a training run folder, in order. */
export const TRAINING_LOG_FILES = ['metrics.jsonl', 'metrics.csv', 'metrics.json'] as const;

/**
 * The display channel of the tslab kernel running this process, if any: tslab's `jupyter`
 * module, when loaded, holds the writer of the cell being run (set once a cell runs).
 */
function kernelChannel(): DisplayChannel | undefined {
  const cache = createRequire(import.meta.url).cache;
  for (const [file, loaded] of Object.entries(cache)) {
    if (!file.endsWith(TSLAB_JUPYTER_MODULE) || loaded === undefined) continue;
    const exported: unknown = loaded.exports;
    if (typeof exported !== 'object' || exported === null) continue;
    const writer: unknown = (exported as Record<string, unknown>).lastWriteDisplayData;
    if (typeof writer === 'function') {
      return (message, update) => {
        writer(message, update);
      };
    }
  }
  return undefined;
}

/** Sends a bundle under a display id when a kernel is there; returns whether it was sent. */
function emit(bundle: MimeBundle, displayId: string, update: boolean): boolean {
  const channel = kernelChannel();
  if (channel === undefined) return false;
  channel({ data: bundle, metadata: {}, transient: { display_id: displayId } }, update);
  return true;
}

function describeHandle(handle: DisplayHandle): string {
  const mime = mimeTypeOf(payloadOf(handle.bundle));
  const where = handle.displayed ? 'shown' : 'not shown (no kernel)';
  return `DisplayHandle(${handle.kind}, ${mime}, id ${handle.displayId}, ${where})`;
}

function payloadOf(bundle: MimeBundle): DisplayPayload {
  const values = Object.values(bundle) as unknown[];
  return values.find((value) => typeof value === 'object' && value !== null) as DisplayPayload;
}

function newHandle<K extends ShowKind>(
  kind: K,
  bundle: MimeBundle,
  options: ShowOptions[K],
): DisplayHandle<K> {
  const handle: DisplayHandle<K> = {
    kind,
    displayId: randomBytes(8).toString('hex'),
    bundle,
    options,
    displayed: false,
  };
  // A cell that ends with `show.volume(...)` prints its value: keep that line short.
  Object.defineProperty(handle, inspect.custom, {
    value: () => describeHandle(handle),
    enumerable: false,
  });
  return handle;
}

function parseNumber(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return Number(trimmed);
}

/** Rows of a CSV file with a header line; empty cells are absent, others numbers. */
function parseCsvRows(file: string, text: string): TrainingRow[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new InputFileError(file, 'empty file. Expected a header line.');
  const header = lines[0].split(',').map((name) => name.trim());
  if (!header.includes('epoch')) {
    throw new InputFileError(
      file,
      `no "epoch" column (found ${header.join(', ')}). Expected the training loop's columns ` +
        'epoch, loss, lr, dice_map1..4, dice_fused, val_dice.',
    );
  }
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    const row: Record<string, number | undefined> = {};
    header.forEach((name, index) => {
      row[name] = parseNumber(cells[index] ?? '');
    });
    return row as unknown as TrainingRow;
  });
}

function parseJsonRows(file: string, text: string, jsonLines: boolean): TrainingRow[] {
  const values: unknown[] = [];
  try {
    if (jsonLines) {
      for (const line of text.split(/\r?\n/)) {
        if (line.trim() !== '') values.push(JSON.parse(line));
      }
    } else {
      const parsed: unknown = JSON.parse(text);
      if (!Array.isArray(parsed)) {
        throw new InputFileError(file, 'expected a JSON array of rows. Write one row per epoch.');
      }
      values.push(...(parsed as unknown[]));
    }
  } catch (cause) {
    if (cause instanceof PankNetError) throw cause;
    const problem = cause instanceof Error ? cause.message : String(cause);
    throw new InputFileError(file, `not valid JSON (${problem}). Check the file.`, { cause });
  }
  values.forEach((value, index) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const problem = `row ${index + 1} is not a JSON object`;
      throw new InputFileError(file, `${problem}. Expected one {epoch, loss, ...} per row.`);
    }
  });
  return values as TrainingRow[];
}

/**
 * Reads training rows from a run folder (the first of `TRAINING_LOG_FILES` found there) or from
 * a metrics file: `.jsonl` (one JSON row a line), `.json` (an array) or `.csv` (a header line).
 *
 * @param path - Run folder or metrics file.
 * @returns Rows `{epoch, loss, lr, dice_map1..4, dice_fused, val_dice?}` in file order.
 * @throws InputFileError when the path is missing, has no metrics file, or cannot be parsed.
 */
export function readTrainingRows(path: string): TrainingRow[] {
  let file = path;
  const info = statOrUndefined(path);
  if (info === undefined) {
    throw new InputFileError(path, 'no such file or folder. Pass a training run folder.');
  }
  if (info.isDirectory()) {
    const found = TRAINING_LOG_FILES.map((name) => join(path, name)).find(
      (candidate) => statOrUndefined(candidate)?.isFile() === true,
    );
    if (found === undefined) {
      throw new InputFileError(
        path,
        `no training log in this folder (looked for ${TRAINING_LOG_FILES.join(', ')}). ` +
          'Pass the run folder the training wrote, or the rows themselves.',
      );
    }
    file = found;
  }

  const text = readFileSync(file, 'utf8');
  if (file.toLowerCase().endsWith('.csv')) return parseCsvRows(file, text);
  if (file.toLowerCase().endsWith('.jsonl')) return parseJsonRows(file, text, true);
  if (file.toLowerCase().endsWith('.json')) return parseJsonRows(file, text, false);
  throw new InputFileError(file, 'unknown metrics format. Use .jsonl, .json or .csv.');
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function trainingTitle(source: ShowSources['training'], options: ShowTrainingOptions): string {
  if (options.title !== undefined) return options.title;
  if (typeof source === 'string') return `PankNet training: ${source}`;
  return 'PankNet training';
}

function buildBundle<K extends ShowKind>(
  kind: K,
  source: ShowSources[K],
  options: ShowOptions[K],
): MimeBundle {
  if (kind === 'volume') {
    const volumeOptions = options as VolumePayloadOptions;
    return mimeBundle(buildVolumePayload(source as Volume, volumeOptions));
  }
  if (kind === 'decoders') {
    const decoderOptions = options as DecodersPayloadOptions;
    return mimeBundle(buildDecodersPayload(source as DecoderMapsInput, decoderOptions));
  }
  const trainingSource = source as ShowSources['training'];
  const rows =
    typeof trainingSource === 'string' ? readTrainingRows(trainingSource) : trainingSource;
  const title = trainingTitle(trainingSource, options as ShowTrainingOptions);
  return mimeBundle(buildTrainingPayload(rows, title));
}

function showKind<K extends ShowKind>(
  kind: K,
  source: ShowSources[K],
  options: ShowOptions[K],
): DisplayHandle<K> {
  const handle = newHandle(kind, buildBundle(kind, source, options), options);
  handle.displayed = emit(handle.bundle, handle.displayId, false);
  return handle;
}

/**
 * Shows a volume in the slice viewer (`application/vnd.panknet.volume+json`).
 *
 * @param volume - Image on its grid, x fastest (CT in HU or any scalar image).
 * @param options - `mask` (a `Volume` or array on the same grid, 0 background), `window`
 *   (`abdomen`, `pancreas`, `bone`, `auto` or `{ name, width, level }` in raw units), `title`,
 *   `maxVoxels` (default 4 M, larger volumes are block-averaged), `maxRawVoxels`.
 * @returns The handle; its `bundle` holds the payload, `image/png` (base64) and `text/plain`.
 * @throws ShapeError when the volume or mask length does not match the shape.
 * @throws UnsupportedError for an unknown window preset or mask labels outside 0..255.
 */
function showVolume(volume: Volume, options: VolumePayloadOptions = {}): DisplayHandle<'volume'> {
  return showKind('volume', volume, options);
}

/**
 * Shows the four decoder maps and the fused map side by side
 * (`application/vnd.panknet.decoders+json`).
 *
 * @param result - Pancreas probability in [0, 1] of decoders 1..4 and the fused map, all on the
 *   grid `shape` (x fastest), with optional geometry and CT background.
 * @param options - Title, CT window, voxel cap per map (default 1 M).
 * @returns The handle; its `bundle` holds the payload, `image/png` (base64) and `text/plain`.
 * @throws ShapeError when a map or the image does not have `shape` voxels.
 */
function showDecoders(
  result: DecoderMapsInput,
  options: DecodersPayloadOptions = {},
): DisplayHandle<'decoders'> {
  return showKind('decoders', result, options);
}

/**
 * Shows training curves (`application/vnd.panknet.training+json`): loss, Dice of each map, lr.
 *
 * @param runDirOrRows - A run folder (read with `readTrainingRows`), a metrics file, or rows
 *   `{epoch, loss, lr, dice_map1..4, dice_fused, val_dice?}` with Dice in [0, 1].
 * @param options - Title.
 * @returns The handle; pass it to `show.update` after each epoch to redraw the same output.
 * @throws InputFileError when a run folder or file cannot be read.
 * @throws ShapeError when a row has no finite epoch.
 */
function showTraining(
  runDirOrRows: string | readonly TrainingRow[],
  options: ShowTrainingOptions = {},
): DisplayHandle<'training'> {
  return showKind('training', runDirOrRows, options);
}

/**
 * Rebuilds a shown output from new data and replaces it in place (Jupyter
 * `update_display_data` with the handle's display id); outside a kernel only `bundle` changes.
 *
 * @param handle - From `show.volume`, `show.decoders` or `show.training`.
 * @param source - New data of the handle's kind (a `Volume`, decoder maps, or training rows or
 *   run folder).
 * @param options - Options of the new build (default: those of the previous build).
 * @returns Nothing, so that a cell ending in `show.update(...)` prints nothing; the handle's
 *   `bundle`, `options` and `displayed` now describe the new output.
 * @throws The errors of the handle's builder.
 */
function updateShown<K extends ShowKind>(
  handle: DisplayHandle<K>,
  source: ShowSources[K],
  options: ShowOptions[K] = handle.options,
): void {
  handle.bundle = buildBundle(handle.kind, source, options);
  handle.options = options;
  handle.displayed = emit(handle.bundle, handle.displayId, true);
}

/**
 * Notebook display helpers. In a tslab kernel they show rich outputs (with PNG and text
 * fallbacks for other front ends); elsewhere they return the MIME bundle in the handle.
 */
export const show = {
  volume: showVolume,
  decoders: showDecoders,
  training: showTraining,
  update: updateShown,
} as const;
