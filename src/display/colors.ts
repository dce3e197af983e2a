/**
 * Colours of the display layers, shared by the PNG fallback and the renderers (pure).
 */

/** An sRGB colour, 0..255 per channel. */
export type Rgb = [number, number, number];

/** Mask colour of label 1 (pancreas): a saturated red that stays visible over grey CT. */
export const MASK_RGB: Rgb = [255, 40, 40];

const LABEL_PALETTE: Rgb[] = [
  MASK_RGB,
  [40, 200, 255],
  [255, 200, 0],
  [80, 220, 80],
  [200, 80, 255],
  [255, 120, 200],
  [0, 160, 160],
  [255, 140, 0],
];

/** Colour of a mask label (1..255); labels cycle through eight distinct colours. */
export function labelColor(label: number): Rgb {
  return LABEL_PALETTE[(Math.max(1, label) - 1) % LABEL_PALETTE.length];
}

/** Stops of the probability colour map (dark blue, purple, orange, yellow): p = 0, 1/3, 2/3, 1. */
const PROBABILITY_STOPS: Rgb[] = [
  [10, 10, 60],
  [130, 30, 140],
  [240, 110, 30],
  [255, 250, 120],
];

/**
 * A 256-entry RGB lookup of the probability colour map, `lut[3 * b + c]` for byte b = p * 255.
 */
export function probabilityLut(): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  const segments = PROBABILITY_STOPS.length - 1;
  for (let b = 0; b < 256; b++) {
    const t = (b / 255) * segments;
    const s = Math.min(segments - 1, Math.floor(t));
    const f = t - s;
    for (let c = 0; c < 3; c++) {
      const a = PROBABILITY_STOPS[s][c];
      lut[3 * b + c] = Math.round(a + (PROBABILITY_STOPS[s + 1][c] - a) * f);
    }
  }
  return lut;
}

/** Line colours of the training curves, by series name. */
export const SERIES_COLORS: Readonly<Record<string, string>> = {
  loss: '#1f77b4',
  lr: '#7f7f7f',
  map1: '#9ecae1',
  map2: '#6baed6',
  map3: '#3182bd',
  map4: '#08519c',
  fused: '#d62728',
  val: '#2ca02c',
};

/** Parses `#rrggbb`. */
export function hexToRgb(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
