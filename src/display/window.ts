/**
 * Intensity windows for display: named CT presets, an automatic window for other modalities,
 * and the mapping of raw values to 8-bit grey levels. Pure; shared with the renderers.
 */
import type { DisplayWindow } from './payload-types.js';

/**
 * CT window presets in HU (width / level). Abdomen (soft tissue) W400/L40 and bone W1800/L400
 * are the usual radiology settings; pancreas W250/L75 narrows on enhanced parenchyma.
 */
export const WINDOW_PRESETS: Readonly<Record<'abdomen' | 'pancreas' | 'bone', DisplayWindow>> = {
  abdomen: { name: 'abdomen', width: 400, level: 40 },
  pancreas: { name: 'pancreas', width: 250, level: 75 },
  bone: { name: 'bone', width: 1800, level: 400 },
};

/** Name of a CT preset. */
export type WindowPresetName = keyof typeof WINDOW_PRESETS;

/**
 * Grey level (0..255) of a raw value under a window: linear between `level - width / 2` (0) and
 * `level + width / 2` (255), clipped outside, rounded to the nearest level.
 *
 * @param value - Raw value (HU for CT).
 * @param window - Window; `width` > 0.
 */
export function windowToByte(value: number, window: DisplayWindow): number {
  const low = window.level - window.width / 2;
  const t = (value - low) / window.width;
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return Math.round(t * 255);
}

/**
 * Raw value that a grey level of a window stands for (the inverse of `windowToByte` inside the
 * window; 0 and 255 also stand for everything below and above it).
 */
export function byteToValue(byte: number, window: DisplayWindow): number {
  return window.level - window.width / 2 + (byte / 255) * window.width;
}

/**
 * A 256-entry lookup from grey levels made with window `from` to grey levels of window `to`,
 * used to re-window 8-bit data when no raw values are at hand (exact only inside `from`).
 */
export function rewindowTable(from: DisplayWindow, to: DisplayWindow): Uint8Array {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) table[byte] = windowToByte(byteToValue(byte, from), to);
  return table;
}

/**
 * A window covering the 1st to 99th percentile of the finite values (for MR and other images
 * without a fixed scale). Percentiles come from a 4096-bin histogram, so they are approximate.
 *
 * @param data - Values, any order.
 * @returns Window named `auto`; width at least 1e-6.
 */
export function autoWindow(data: ArrayLike<number>): DisplayWindow {
  let min = Infinity;
  let max = -Infinity;
  let count = 0;
  for (let n = 0; n < data.length; n++) {
    const v = data[n];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    count++;
  }
  if (count === 0 || max <= min) {
    const centre = count === 0 ? 0 : min;
    return { name: 'auto', width: 1, level: centre };
  }
  const bins = new Uint32Array(4096);
  const scale = (bins.length - 1) / (max - min);
  for (let n = 0; n < data.length; n++) {
    const v = data[n];
    if (Number.isFinite(v)) bins[Math.floor((v - min) * scale)]++;
  }
  const at = (fraction: number): number => {
    let seen = 0;
    for (let b = 0; b < bins.length; b++) {
      seen += bins[b];
      if (seen >= fraction * count) return min + b / scale;
    }
    return max;
  };
  const low = at(0.01);
  const high = Math.max(at(0.99), low + 1e-6);
  return { name: 'auto', width: high - low, level: (low + high) / 2 };
}
