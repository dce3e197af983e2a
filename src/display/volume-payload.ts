/**
 * Builds the slice-viewer payload (`application/vnd.panknet.volume+json`) from a `Volume` and an
 * optional mask: windowed 8-bit voxels, raw int16 values when small, geometry, mask.
 */
import { basename } from 'node:path';

import type { Vec3, VoxelArray, Volume } from '../io/volume.js';
import { voxelCount } from '../io/volume.js';
import { ShapeError, UnsupportedError } from '../util/errors.js';
import { log } from '../util/log.js';
import {
  downsampleBlocks,
  downsampledAffine,
  downsampledShape,
  downsampleFactors,
} from './downsample.js';
import type { DisplayWindow, PayloadGrid, RawValues, VolumePayload } from './payload-types.js';
import { axisCodesOf } from './planes.js';
import type { WindowPresetName } from './window.js';
import { autoWindow, WINDOW_PRESETS, windowToByte } from './window.js';

/** Default cap on payload voxels: 4 M voxels, i.e. 4 MB of 8-bit voxels plus 4 MB of mask. */
export const DEFAULT_MAX_VOXELS = 4_000_000;

/** Default cap for including raw int16 values: 2 M voxels (4 MB). */
export const DEFAULT_MAX_RAW_VOXELS = 2_000_000;

/** Options of `buildVolumePayload`. */
export interface VolumePayloadOptions {
  /** Label mask on the same grid: a `Volume` or a bare array (x fastest); 0 is background. */
  mask?: Volume | VoxelArray;
  /** Window of the 8-bit voxels: a CT preset, `auto` (1st..99th percentile) or explicit. */
  window?: WindowPresetName | 'auto' | DisplayWindow;
  /** Title shown above the viewer (default: series description or file name). */
  title?: string;
  /**
   * Cap on payload voxels (default 4 M). Larger volumes are block-averaged by integer factors,
   * mask blocks keep their largest label; a notebook output then stays near 11 MB of JSON.
   */
  maxVoxels?: number;
  /** Raw int16 values are included when the payload grid has at most this many voxels. */
  maxRawVoxels?: number;
}

/** Encodes the bytes of a typed array as base64 (platform byte order: little-endian). */
export function toBase64(array: Uint8Array | Int16Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

/** Decodes base64 written by `toBase64` into a fresh Uint8Array. */
export function fromBase64(text: string): Uint8Array {
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength).slice();
}

function isCt(volume: Volume): boolean {
  const modality = volume.meta.modality?.toUpperCase();
  return modality === undefined || modality === 'CT';
}

function resolveWindow(
  choice: VolumePayloadOptions['window'],
  volume: Volume,
  values: ArrayLike<number>,
): DisplayWindow {
  if (choice === undefined) return isCt(volume) ? WINDOW_PRESETS.abdomen : autoWindow(values);
  if (choice === 'auto') return autoWindow(values);
  if (typeof choice === 'string') {
    const preset = WINDOW_PRESETS[choice];
    if (preset === undefined) {
      throw new UnsupportedError(
        `buildVolumePayload: unknown window preset "${choice}"; ` +
          `use ${Object.keys(WINDOW_PRESETS).join(', ')}, auto, or { width, level }.`,
      );
    }
    return preset;
  }
  if (!(choice.width > 0) || !Number.isFinite(choice.level)) {
    throw new ShapeError(
      `buildVolumePayload: window width ${choice.width} / level ${choice.level} is invalid; ` +
        'pass a width > 0 and a finite level.',
    );
  }
  return { ...choice, name: choice.name || 'custom' };
}

/**
 * Payload grid and downsampled values of a volume under a voxel cap.
 *
 * @param volume - Source volume.
 * @param maxVoxels - Cap on payload voxels.
 * @returns The grid and the values on it (the source array itself when not downsampled).
 */
export function payloadGrid(
  volume: Pick<Volume, 'shape' | 'spacingMm' | 'affine'>,
  maxVoxels: number,
): PayloadGrid {
  const factors = downsampleFactors(volume.shape, volume.spacingMm, Math.max(1, maxVoxels));
  const affine = downsampledAffine(volume.affine, factors);
  return {
    shape: downsampledShape(volume.shape, factors),
    spacingMm: volume.spacingMm.map((s, a) => s * factors[a]) as Vec3,
    affine,
    axisCodes: axisCodesOf(affine),
    sourceShape: [...volume.shape],
    downsample: factors,
  };
}

/** Values of an array on a payload grid: the array itself or its block reduction. */
export function onGrid(
  data: ArrayLike<number>,
  grid: PayloadGrid,
  mode: 'mean' | 'max',
): ArrayLike<number> {
  const [fi, fj, fk] = grid.downsample;
  if (fi === 1 && fj === 1 && fk === 1) return data;
  return downsampleBlocks(data, grid.sourceShape, grid.downsample, mode);
}

function rawValues(
  values: ArrayLike<number>,
  range: [number, number],
  integerSource: boolean,
): RawValues {
  const out = new Int16Array(values.length);
  let integers = range[0] >= -32768 && range[1] <= 32767;
  // Block means of integer data (HU) are rounded back to integers: 0.5 HU is below display use.
  for (let n = 0; integers && !integerSource && n < values.length; n++) {
    const v = values[n];
    if (Number.isFinite(v) && v !== Math.round(v)) integers = false;
  }
  // Integer data in range (CT in HU) is stored exactly; anything else is quantised to 65536 steps.
  const slope = integers ? 1 : Math.max(range[1] - range[0], 1e-12) / 65535;
  const intercept = integers ? 0 : range[0] + 32768 * slope;
  for (let n = 0; n < values.length; n++) {
    const v = values[n];
    const q = Number.isFinite(v) ? Math.round((v - intercept) / slope) : -32768;
    out[n] = Math.min(32767, Math.max(-32768, q));
  }
  return { dtype: 'int16', data: toBase64(out), slope, intercept };
}

function checkLength(what: string, length: number, volume: Volume): void {
  if (length !== voxelCount(volume.shape)) {
    throw new ShapeError(
      `buildVolumePayload: ${what} has ${length} voxels, expected ` +
        `${voxelCount(volume.shape)} (${volume.shape.join(' x ')}); pass data on the image grid.`,
    );
  }
}

/**
 * Builds the slice-viewer payload of a volume.
 *
 * @param volume - The image (CT in HU, or any scalar image); x fastest.
 * @param options - Mask, window, title and size caps.
 * @returns The payload: uint8 voxels windowed with the chosen window (default abdomen W400/L40
 *   for CT, 1st..99th percentile otherwise), int16 raw values when the grid has at most
 *   `maxRawVoxels` voxels, the mask (uint8 labels), geometry of the (maybe downsampled) grid.
 * @throws ShapeError when the data or mask length does not match the shape, or a window is bad.
 * @throws UnsupportedError for an unknown preset or mask labels outside 0..255.
 */
export function buildVolumePayload(
  volume: Volume,
  options: VolumePayloadOptions = {},
): VolumePayload {
  checkLength('the volume', volume.data.length, volume);
  const maskData = options.mask === undefined ? undefined : maskArray(options.mask, volume);

  const grid = payloadGrid(volume, options.maxVoxels ?? DEFAULT_MAX_VOXELS);
  if (grid.downsample.some((f) => f > 1)) {
    log.info(
      `display: volume ${volume.shape.join(' x ')} downsampled by ` +
        `${grid.downsample.join(' x ')} to ${grid.shape.join(' x ')} for the notebook`,
    );
  }
  const values = onGrid(volume.data, grid, 'mean');
  const window = resolveWindow(options.window, volume, values);
  const count = values.length;
  const voxels = new Uint8Array(count);
  let min = Infinity;
  let max = -Infinity;
  for (let n = 0; n < volume.data.length; n++) {
    const v = volume.data[n];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  for (let n = 0; n < count; n++) voxels[n] = windowToByte(values[n], window);
  const valueRange: [number, number] = Number.isFinite(min) ? [min, max] : [0, 0];
  const includeRaw = count <= (options.maxRawVoxels ?? DEFAULT_MAX_RAW_VOXELS);

  const ct = isCt(volume);
  const source = volume.meta.sourceFile;
  const payload: VolumePayload = {
    kind: 'panknet.volume',
    version: 1,
    title:
      options.title ??
      volume.meta.seriesDescription ??
      (source !== undefined ? basename(source) : 'volume'),
    grid,
    voxels: toBase64(voxels),
    window,
    presets: ct ? [window, ...presetsBesides(window)] : [window],
    valueRange,
    unit: ct ? 'HU' : '',
  };
  if (includeRaw) {
    const { data } = volume;
    const integerSource = !(data instanceof Float32Array || data instanceof Float64Array);
    payload.raw = rawValues(values, valueRange, integerSource);
  }
  if (maskData !== undefined) payload.mask = maskLayer(maskData, volume, grid);
  if (source !== undefined) payload.sourceFile = source;
  if (volume.meta.seriesDescription !== undefined) {
    payload.seriesDescription = volume.meta.seriesDescription;
  }
  if (volume.meta.modality !== undefined) payload.modality = volume.meta.modality;
  return payload;
}

function presetsBesides(window: DisplayWindow): DisplayWindow[] {
  return Object.values(WINDOW_PRESETS).filter((preset) => preset.name !== window.name);
}

function maskArray(mask: Volume | VoxelArray, volume: Volume): ArrayLike<number> {
  const data = 'data' in mask && 'shape' in mask ? mask.data : mask;
  if ('shape' in mask && mask.shape.some((n, a) => n !== volume.shape[a])) {
    throw new ShapeError(
      `buildVolumePayload: mask shape ${mask.shape.join(' x ')} differs from the image ` +
        `${volume.shape.join(' x ')}; resample the mask onto the image grid (nearest).`,
    );
  }
  checkLength('the mask', data.length, volume);
  return data;
}

function maskLayer(
  data: ArrayLike<number>,
  volume: Volume,
  grid: PayloadGrid,
): VolumePayload['mask'] {
  let sourceVoxelCount = 0;
  for (let n = 0; n < data.length; n++) if (data[n] > 0) sourceVoxelCount++;
  const values = onGrid(data, grid, 'max');
  const out = new Uint8Array(values.length);
  const seen = new Set<number>();
  for (let n = 0; n < values.length; n++) {
    const v = values[n];
    if (!(v > 0)) continue;
    const label = Math.round(v);
    if (label > 255) {
      throw new UnsupportedError(
        `buildVolumePayload: mask label ${label} is above 255; the viewer shows labels 1..255. ` +
          'Select the labels to show (e.g. mask === 7) before displaying.',
      );
    }
    out[n] = Math.max(1, label);
    seen.add(out[n]);
  }
  const voxelMm3 = volume.spacingMm[0] * volume.spacingMm[1] * volume.spacingMm[2];
  return {
    data: toBase64(out),
    labels: [...seen].sort((a, b) => a - b),
    sourceVoxelCount,
    volumeMl: (sourceVoxelCount * voxelMm3) / 1000,
  };
}
