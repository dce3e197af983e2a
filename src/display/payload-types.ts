/**
 * Payload types of PankNet's notebook outputs, shared by the library (which builds them) and the
 * renderers (which draw them). Types only: renderers import this file and nothing that reads
 * files, runs the network or loads TensorFlow.js. Every string taken from a file (series
 * description, file name) is plain data; renderers insert it as text, never as HTML.
 */
import type { Mat4, Vec3 } from '../io/volume.js';

/** A world axis letter of the RAS+ convention: where increasing voxel index points. */
export type AxisCode = 'R' | 'L' | 'A' | 'P' | 'S' | 'I';

/** Axis letters of the voxel axes i, j, k, e.g. `['R', 'A', 'S']` (nibabel's `aff2axcodes`). */
export type AxisCodes = [AxisCode, AxisCode, AxisCode];

/** An intensity window: values in `[level - width / 2, level + width / 2]` map to black..white. */
export interface DisplayWindow {
  /** Preset name (`abdomen`, `pancreas`, `bone`, `auto`, `custom`). */
  name: string;
  /** Window width in raw units (HU for CT), > 0. */
  width: number;
  /** Window centre in raw units (HU for CT). */
  level: number;
}

/** The voxel grid a payload's arrays live on, after any downsampling. */
export interface PayloadGrid {
  /** Voxel counts along i, j, k of the arrays in this payload. */
  shape: Vec3;
  /** Voxel size along i, j, k in mm. */
  spacingMm: Vec3;
  /** Voxel-to-world transform of this grid, RAS+ mm (rows). */
  affine: Mat4;
  /** Nearest world axis of each voxel axis. */
  axisCodes: AxisCodes;
  /** Voxel counts of the volume before downsampling. */
  sourceShape: Vec3;
  /** Integer downsampling factor along i, j, k (1 = full resolution). */
  downsample: Vec3;
}

/**
 * Raw values of a volume, enough to show the real value (HU) under the pointer and to re-window
 * freely. `value = intercept + slope * int16`; little-endian int16, x fastest, base64.
 */
export interface RawValues {
  /** Storage type of `data`. */
  dtype: 'int16';
  /** Base64 of the int16 array, `shape[0] * shape[1] * shape[2]` values. */
  data: string;
  /** Scale from stored integer to raw value (1 for CT in HU). */
  slope: number;
  /** Offset from stored integer to raw value (0 for CT in HU). */
  intercept: number;
}

/** A label mask on the payload grid. */
export interface MaskLayer {
  /** Base64 of a uint8 array on the payload grid: 0 background, > 0 label value. */
  data: string;
  /** Distinct non-zero labels present, ascending. */
  labels: number[];
  /** Non-zero voxels of the mask at source resolution. */
  sourceVoxelCount: number;
  /** Volume of the non-zero voxels at source resolution, in mL. */
  volumeMl: number;
}

/** Payload of `application/vnd.panknet.volume+json`: one volume and an optional mask. */
export interface VolumePayload {
  /** Payload kind, checked by the renderer. */
  kind: 'panknet.volume';
  /** Payload format version. */
  version: 1;
  /** Title shown above the viewer (plain text). */
  title: string;
  /** Grid of `voxels`, `raw` and `mask`. */
  grid: PayloadGrid;
  /** Base64 of uint8 voxels (x fastest) windowed with `window`: 0 at its low end, 255 at top. */
  voxels: string;
  /** The window `voxels` were made with. */
  window: DisplayWindow;
  /** Window presets the viewer offers (the first is the default). */
  presets: DisplayWindow[];
  /** Raw values when small enough (see `VolumePayloadOptions.maxRawVoxels`); else absent. */
  raw?: RawValues;
  /** Minimum and maximum raw value of the source volume. */
  valueRange: [number, number];
  /** Unit of raw values: `HU` for CT, empty when unknown. */
  unit: string;
  /** Optional label mask. */
  mask?: MaskLayer;
  /** Source file (plain text, never HTML). */
  sourceFile?: string;
  /** DICOM SeriesDescription or NIfTI descrip (plain text, never HTML). */
  seriesDescription?: string;
  /** Modality when known. */
  modality?: string;
}

/** Payload of `application/vnd.panknet.decoders+json`: four decoder maps plus the fused map. */
export interface DecodersPayload {
  /** Payload kind, checked by the renderer. */
  kind: 'panknet.decoders';
  /** Payload format version. */
  version: 1;
  /** Title shown above the grid (plain text). */
  title: string;
  /** Grid of every array below. */
  grid: PayloadGrid;
  /** Names of the maps, in order: four decoders (tap 1..4), then the fused map. */
  names: [string, string, string, string, string];
  /**
   * Base64 of five uint8 arrays (x fastest): pancreas probability in [0, 1] times 255, rounded.
   * Order as `names`.
   */
  maps: [string, string, string, string, string];
  /** Optional CT background, uint8 base64 windowed with `window`. */
  image?: string;
  /** Window of `image`, when present. */
  window?: DisplayWindow;
}

/** One training log row, as the training loop writes it (Dice in [0, 1], lr in 1/step). */
export interface TrainingRow {
  /** Epoch number (1-based in our loop, any increasing number is accepted). */
  epoch: number;
  /** Training loss of the epoch (deep-supervised soft Dice sum). */
  loss: number;
  /** Learning rate used in the epoch. */
  lr: number;
  /** Training Dice of decoder maps 1..4 (absent for taps without a decoder) and the fused map. */
  dice_map1?: number;
  dice_map2?: number;
  dice_map3?: number;
  dice_map4?: number;
  dice_fused: number;
  /** Validation Dice (pancreas), when validation ran this epoch. */
  val_dice?: number | null;
}

/** Payload of `application/vnd.panknet.training+json`: one column per series. */
export interface TrainingPayload {
  /** Payload kind, checked by the renderer. */
  kind: 'panknet.training';
  /** Payload format version. */
  version: 1;
  /** Title shown above the curves (plain text). */
  title: string;
  /** Epochs, ascending as given. */
  epoch: number[];
  /** Loss per epoch; `null` where the row had a non-finite value. */
  loss: (number | null)[];
  /** Learning rate per epoch. */
  lr: (number | null)[];
  /** Dice per epoch of map1..map4 and fused, keyed by series name. */
  dice: {
    map1: (number | null)[];
    map2: (number | null)[];
    map3: (number | null)[];
    map4: (number | null)[];
    fused: (number | null)[];
  };
  /** Validation Dice per epoch, `null` where validation did not run. */
  valDice: (number | null)[];
}

/** Any PankNet display payload. */
export type DisplayPayload = VolumePayload | DecodersPayload | TrainingPayload;
