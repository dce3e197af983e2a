/**
 * Builds the decoder-grid payload (`application/vnd.panknet.decoders+json`): the four decoder
 * maps and the fused map of PankNet (see ../shared/DESIGN.md, "Decoders"), 8-bit each.
 */
import type { Mat4, Vec3, Volume } from '../io/volume.js';
import { voxelCount } from '../io/volume.js';
import { ShapeError } from '../util/errors.js';
import type { DecodersPayload, DisplayWindow } from './payload-types.js';
import { onGrid, payloadGrid, toBase64 } from './volume-payload.js';
import type { WindowPresetName } from './window.js';
import { WINDOW_PRESETS, windowToByte } from './window.js';

/** Default cap on payload voxels per map: 1 M (six 8-bit arrays stay near 6 MB). */
export const DEFAULT_MAX_DECODER_VOXELS = 1_000_000;

/** Probability maps of one case, pancreas channel only. */
export interface DecoderMapsInput {
  /**
   * Pancreas probability of decoders 1..4 (taps 1..4), each in [0, 1], on the grid `shape`,
   * x fastest (a `[D, H, W]` C-order array is shape `[W, H, D]`).
   */
  maps: [ArrayLike<number>, ArrayLike<number>, ArrayLike<number>, ArrayLike<number>];
  /** Fused pancreas probability in [0, 1], same grid. */
  fused: ArrayLike<number>;
  /** Voxel counts along i, j, k. */
  shape: Vec3;
  /** Voxel size along i, j, k in mm (default 1 mm). */
  spacingMm?: Vec3;
  /** Voxel-to-world transform, RAS+ mm (default: diagonal spacing, origin 0). */
  affine?: Mat4;
  /** Optional CT on the same grid, shown under the maps. */
  image?: Volume;
}

/** Options of `buildDecodersPayload`. */
export interface DecodersPayloadOptions {
  /** Title shown above the grid. */
  title?: string;
  /** Window of the CT background (default abdomen W400/L40). */
  window?: WindowPresetName | DisplayWindow;
  /** Cap on voxels per map (default 1 M); larger grids are block-averaged. */
  maxVoxels?: number;
}

/**
 * Builds the decoder-grid payload.
 *
 * @param input - Four decoder maps, the fused map, geometry, optional CT.
 * @param options - Title, CT window, voxel cap.
 * @returns Payload with five uint8 maps (probability x 255, rounded, values outside [0, 1]
 *   clipped, NaN as 0) and the CT windowed to 8 bits when given.
 * @throws ShapeError when a map or the image does not have `shape` voxels.
 */
export function buildDecodersPayload(
  input: DecoderMapsInput,
  options: DecodersPayloadOptions = {},
): DecodersPayload {
  const count = voxelCount(input.shape);
  const arrays = [...input.maps, input.fused];
  arrays.forEach((array, index) => {
    if (array.length !== count) {
      const name = index < 4 ? `maps[${index}]` : 'fused';
      throw new ShapeError(
        `buildDecodersPayload: ${name} has ${array.length} voxels, expected ${count} ` +
          `(${input.shape.join(' x ')}); pass every map on one grid.`,
      );
    }
  });
  if (input.image !== undefined && voxelCount(input.image.shape) !== count) {
    throw new ShapeError(
      `buildDecodersPayload: image shape ${input.image.shape.join(' x ')} differs from the maps ` +
        `${input.shape.join(' x ')}; resample the image onto the maps' grid.`,
    );
  }

  const spacingMm = input.spacingMm ?? input.image?.spacingMm ?? [1, 1, 1];
  const affine: Mat4 = input.affine ??
    input.image?.affine ?? [
      [spacingMm[0], 0, 0, 0],
      [0, spacingMm[1], 0, 0],
      [0, 0, spacingMm[2], 0],
      [0, 0, 0, 1],
    ];
  const grid = payloadGrid(
    { shape: input.shape, spacingMm, affine },
    options.maxVoxels ?? DEFAULT_MAX_DECODER_VOXELS,
  );
  const maps = arrays.map((array) => {
    const values = onGrid(array, grid, 'mean');
    const out = new Uint8Array(values.length);
    for (let n = 0; n < values.length; n++) {
      const p = values[n];
      out[n] = p > 0 ? Math.round(Math.min(1, p) * 255) : 0;
    }
    return toBase64(out);
  }) as DecodersPayload['maps'];

  const payload: DecodersPayload = {
    kind: 'panknet.decoders',
    version: 1,
    title: options.title ?? 'PankNet decoder maps',
    grid,
    names: ['map1', 'map2', 'map3', 'map4', 'fused'],
    maps,
  };
  if (input.image !== undefined) {
    const choice = options.window ?? 'abdomen';
    const window = typeof choice === 'string' ? WINDOW_PRESETS[choice] : choice;
    const values = onGrid(input.image.data, grid, 'mean');
    const out = new Uint8Array(values.length);
    for (let n = 0; n < values.length; n++) out[n] = windowToByte(values[n], window);
    payload.image = toBase64(out);
    payload.window = window;
  }
  return payload;
}
