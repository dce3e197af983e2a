/**
 * PNG fallbacks of the display payloads, for front ends without PankNet's renderers (GitHub,
 * JupyterLab without the extension, nbconvert). Drawn on RGBA pixel buffers and encoded with
 * pngjs; no fonts, so numbers live in the text/plain summary beside them.
 */
import { PNG } from 'pngjs';

import type { Vec3 } from '../io/volume.js';
import type { Rgb } from './colors.js';
import { hexToRgb, labelColor, probabilityLut, SERIES_COLORS } from './colors.js';
import type { DecodersPayload, TrainingPayload, VolumePayload } from './payload-types.js';
import type { PlaneGeometry } from './planes.js';
import { extractSlice, planeGeometry, PLANES } from './planes.js';
import { fromBase64 } from './volume-payload.js';
import { rewindowTable, WINDOW_PRESETS, windowToByte } from './window.js';

/** An RGBA image under construction. */
interface Canvas {
  width: number;
  height: number;
  rgba: Uint8Array;
}

function newCanvas(width: number, height: number, background: Rgb): Canvas {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba.set(background, p * 4);
    rgba[p * 4 + 3] = 255;
  }
  return { width, height, rgba };
}

function encode(canvas: Canvas): Buffer {
  const png = new PNG({ width: canvas.width, height: canvas.height });
  png.data = Buffer.from(canvas.rgba.buffer, canvas.rgba.byteOffset, canvas.rgba.byteLength);
  return PNG.sync.write(png);
}

/** Grey levels of a volume payload under the soft-tissue window (abdomen W400/L40 for CT). */
function softTissueBytes(payload: VolumePayload): Uint8Array {
  const target = payload.unit === 'HU' ? WINDOW_PRESETS.abdomen : payload.window;
  const voxels = fromBase64(payload.voxels);
  if (target.width === payload.window.width && target.level === payload.window.level) {
    return voxels;
  }
  if (payload.raw !== undefined) {
    const bytes = fromBase64(payload.raw.data);
    const raw = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    const { slope, intercept } = payload.raw;
    return Uint8Array.from(raw, (q) => windowToByte(intercept + slope * q, target));
  }
  const table = rewindowTable(payload.window, target);
  return voxels.map((b) => table[b]);
}

function maskCentre(mask: Uint8Array, shape: Vec3): Vec3 | undefined {
  const low: Vec3 = [Infinity, Infinity, Infinity];
  const high: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let n = 0; n < mask.length; n++) {
    if (mask[n] === 0) continue;
    const ij = Math.floor(n / shape[0]);
    const ijk = [n % shape[0], ij % shape[1], Math.floor(ij / shape[1])];
    for (let a = 0; a < 3; a++) {
      low[a] = Math.min(low[a], ijk[a]);
      high[a] = Math.max(high[a], ijk[a]);
    }
  }
  if (low[0] === Infinity) return undefined;
  return [0, 1, 2].map((a) => Math.round((low[a] + high[a]) / 2)) as Vec3;
}

/** Screen size of a panel in output pixels, keeping the aspect from the spacing. */
function panelSize(geometry: PlaneGeometry, mmPerPixel: number): [number, number] {
  return [
    Math.max(1, Math.round((geometry.width * geometry.pixelWidthMm) / mmPerPixel)),
    Math.max(1, Math.round((geometry.height * geometry.pixelHeightMm) / mmPerPixel)),
  ];
}

function mmPerPixelFor(payload: { grid: { shape: Vec3; spacingMm: Vec3 } }): number {
  const { shape, spacingMm } = payload.grid;
  const extentMm = Math.max(...shape.map((n, a) => n * spacingMm[a]));
  const finest = Math.min(...spacingMm);
  const pixels = Math.min(384, Math.max(128, extentMm / finest));
  return extentMm / pixels;
}

/** Paints one slice (grey plus optional RGB overlay per voxel) scaled into a panel. */
function paintPanel(
  canvas: Canvas,
  left: number,
  geometry: PlaneGeometry,
  mmPerPixel: number,
  colorOf: (index: number) => Rgb,
): void {
  const [w, h] = panelSize(geometry, mmPerPixel);
  for (let y = 0; y < h; y++) {
    const rowMm = y * mmPerPixel;
    const row = Math.min(geometry.height - 1, Math.floor(rowMm / geometry.pixelHeightMm));
    for (let x = 0; x < w; x++) {
      const colMm = x * mmPerPixel;
      const col = Math.min(geometry.width - 1, Math.floor(colMm / geometry.pixelWidthMm));
      const offset = (y * canvas.width + left + x) * 4;
      canvas.rgba.set(colorOf(row * geometry.width + col), offset);
    }
  }
}

function blend(grey: number, color: Rgb, alpha: number): Rgb {
  return [
    Math.round(grey + (color[0] - grey) * alpha),
    Math.round(grey + (color[1] - grey) * alpha),
    Math.round(grey + (color[2] - grey) * alpha),
  ];
}

/** Gap between panels, in pixels. */
const GAP = 4;

/**
 * PNG of a volume payload: axial, coronal and sagittal slices side by side (radiological view,
 * aspect from the spacing), soft-tissue window (abdomen W400/L40 for CT), mask labels blended
 * at 50 % in their colours (label 1: red `MASK_RGB`). Slices pass through the centre of the
 * mask's bounding box when a mask is present, else through the volume centre.
 *
 * @returns The PNG file bytes.
 */
export function volumePng(payload: VolumePayload): Buffer {
  const { shape, spacingMm, axisCodes } = payload.grid;
  const grey = softTissueBytes(payload);
  const mask = payload.mask === undefined ? undefined : fromBase64(payload.mask.data);
  const centre = (mask && maskCentre(mask, shape)) ?? (shape.map((n) => Math.floor(n / 2)) as Vec3);
  const mmPerPixel = mmPerPixelFor(payload);
  const geometries = PLANES.map((plane) => planeGeometry(plane, shape, spacingMm, axisCodes));
  const sizes = geometries.map((g) => panelSize(g, mmPerPixel));
  const width = sizes.reduce((sum, [w]) => sum + w, 0) + GAP * (sizes.length - 1);
  const height = Math.max(...sizes.map(([, h]) => h));

  const canvas = newCanvas(width, height, [0, 0, 0]);
  let left = 0;
  geometries.forEach((geometry, index) => {
    const slice = centre[geometry.normalAxis];
    const size = geometry.width * geometry.height;
    const greySlice = extractSlice(grey, shape, geometry, slice, new Uint8Array(size));
    const maskSlice = mask && extractSlice(mask, shape, geometry, slice, new Uint8Array(size));
    paintPanel(canvas, left, geometry, mmPerPixel, (p) => {
      const g = greySlice[p];
      const label = maskSlice ? maskSlice[p] : 0;
      return label > 0 ? blend(g, labelColor(label), 0.5) : [g, g, g];
    });
    left += sizes[index][0] + GAP;
  });
  return encode(canvas);
}

/**
 * PNG of a decoders payload: map1..map4 and fused side by side on the axial slice where the
 * fused map has the most probability mass, probability colour map blended by probability over
 * the CT (or drawn alone without CT).
 *
 * @returns The PNG file bytes.
 */
export function decodersPng(payload: DecodersPayload): Buffer {
  const { shape, spacingMm, axisCodes } = payload.grid;
  const geometry = planeGeometry('axial', shape, spacingMm, axisCodes);
  const maps = payload.maps.map(fromBase64);
  const image = payload.image === undefined ? undefined : fromBase64(payload.image);
  const size = geometry.width * geometry.height;

  // The slice with the largest fused sum shows the organ; ties keep the lowest index.
  let best = Math.floor(geometry.depth / 2);
  let bestSum = 0;
  for (let s = 0; s < geometry.depth; s++) {
    const fused = extractSlice(maps[4], shape, geometry, s, new Uint8Array(size));
    const sum = fused.reduce((acc, v) => acc + v, 0);
    if (sum > bestSum) [best, bestSum] = [s, sum];
  }
  const mmPerPixel = Math.max(
    (geometry.width * geometry.pixelWidthMm) / 256,
    (geometry.height * geometry.pixelHeightMm) / 256,
  );
  const [w, h] = panelSize(geometry, mmPerPixel);
  const canvas = newCanvas(5 * w + 4 * GAP, h, [0, 0, 0]);
  const lut = probabilityLut();
  const greySlice = image && extractSlice(image, shape, geometry, best, new Uint8Array(size));
  maps.forEach((map, index) => {
    const slice = extractSlice(map, shape, geometry, best, new Uint8Array(size));
    paintPanel(canvas, index * (w + GAP), geometry, mmPerPixel, (p) => {
      const b = slice[p];
      const color: Rgb = [lut[3 * b], lut[3 * b + 1], lut[3 * b + 2]];
      return greySlice ? blend(greySlice[p], color, b / 255) : color;
    });
  });
  return encode(canvas);
}

function drawLine(canvas: Canvas, x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
  for (let s = 0; s <= steps; s++) {
    const x = Math.round(x0 + ((x1 - x0) * s) / steps);
    const y = Math.round(y0 + ((y1 - y0) * s) / steps);
    for (const [dx, dy] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ]) {
      const px = x + dx;
      const py = y + dy;
      if (px < 0 || py < 0 || px >= canvas.width || py >= canvas.height) continue;
      canvas.rgba.set(c, (py * canvas.width + px) * 4);
    }
  }
}

/** Draws a series into a plot box; `null` values break the line. */
function drawSeries(
  canvas: Canvas,
  box: { left: number; top: number; width: number; height: number },
  xs: number[],
  ys: (number | null)[],
  yRange: [number, number],
  color: Rgb,
): void {
  const xMin = xs[0];
  const xSpan = Math.max(xs[xs.length - 1] - xMin, 1e-12);
  const ySpan = Math.max(yRange[1] - yRange[0], 1e-12);
  let previous: [number, number] | undefined;
  xs.forEach((xv, n) => {
    const yv = ys[n];
    if (yv === null) {
      previous = undefined;
      return;
    }
    const x = box.left + ((xv - xMin) / xSpan) * (box.width - 1);
    const y = box.top + (1 - (yv - yRange[0]) / ySpan) * (box.height - 1);
    drawLine(canvas, previous?.[0] ?? x, previous?.[1] ?? y, x, y, color);
    previous = [x, y];
  });
}

/**
 * PNG of a training payload: loss on the left (y from 0 to its maximum), Dice of map1..map4,
 * fused and validation on the right (y from 0 to 1, grid lines every 0.25), epochs on x.
 * Colours as `SERIES_COLORS`.
 *
 * @returns The PNG file bytes (640 x 280).
 */
export function trainingPng(payload: TrainingPayload): Buffer {
  const canvas = newCanvas(640, 280, [255, 255, 255]);
  const boxes = [
    { left: 30, top: 10, width: 280, height: 250 },
    { left: 350, top: 10, width: 280, height: 250 },
  ];
  for (const box of boxes) {
    for (let q = 0; q <= 4; q++) {
      const y = box.top + Math.round(((box.height - 1) * q) / 4);
      drawLine(canvas, box.left, y, box.left + box.width - 1, y, [225, 225, 225]);
    }
    drawLine(canvas, box.left, box.top, box.left, box.top + box.height, [90, 90, 90]);
    const bottom = box.top + box.height;
    drawLine(canvas, box.left, bottom, box.left + box.width, bottom, [90, 90, 90]);
  }
  if (payload.epoch.length === 0) return encode(canvas);

  const lossMax = Math.max(1e-12, ...payload.loss.filter((v): v is number => v !== null));
  const lossRgb = hexToRgb(SERIES_COLORS.loss);
  drawSeries(canvas, boxes[0], payload.epoch, payload.loss, [0, lossMax], lossRgb);
  const diceSeries: [string, (number | null)[]][] = [
    ...Object.entries(payload.dice),
    ['val', payload.valDice],
  ];
  for (const [name, values] of diceSeries) {
    // Validation runs every few epochs: join its points instead of leaving dots.
    const keep = values.map((v) => name !== 'val' || v !== null);
    const xs = payload.epoch.filter((_, n) => keep[n]);
    const ys = values.filter((_, n) => keep[n]);
    if (xs.length === 0) continue;
    drawSeries(canvas, boxes[1], xs, ys, [0, 1], hexToRgb(SERIES_COLORS[name]));
  }
  return encode(canvas);
}
