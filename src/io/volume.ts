/**
 * The one volume type of PankNet-TS: voxels on a grid with an exact voxel-to-world affine.
 * Volume I/O, preprocessing, metrics and display all speak this type; none needs TensorFlow.js.
 */

/** Typed arrays a volume may hold. Intensities stay in a type that can represent them. */
export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

/** Datatype names as used in `info --json` and NIfTI headers. */
export type VoxelDatatype =
  'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

/** A 4x4 matrix as four rows of four numbers. */
export type Mat4 = [
  [number, number, number, number],
  [number, number, number, number],
  [number, number, number, number],
  [number, number, number, number],
];

/** Three numbers along the voxel axes i, j, k (sizes in voxels, spacing in mm). */
export type Vec3 = [number, number, number];

/** What a user needs to trace a volume back to its source. */
export interface VolumeMeta {
  /** Datatype as stored on disk (before scl_slope or RescaleSlope were applied). */
  datatype: VoxelDatatype;
  /** File or folder the volume was read from, when it came from disk. */
  sourceFile?: string;
  /** DICOM SeriesDescription, or the NIfTI `descrip` field. */
  seriesDescription?: string;
  /** DICOM SeriesInstanceUID when read from DICOM. */
  seriesUid?: string;
  /** Modality when known (`CT`, `MR`). */
  modality?: string;
  /** Where the affine came from: `sform`, `qform`, `pixdim` or `dicom`. */
  affineFrom?: 'sform' | 'qform' | 'pixdim' | 'dicom' | 'computed';
  /** Array dimensions as stored on disk, including t (and more) for 4D+ NIfTI files. */
  shapeOnDisk?: number[];
  /** NIfTI `qform_code` of the source file (0 = unknown), when read from NIfTI. */
  qformCode?: number;
  /** NIfTI `sform_code` of the source file (0 = unknown), when read from NIfTI. */
  sformCode?: number;
  /** The 0-based time point read from a 4D file, when there was a choice. */
  frame?: number;
  /** Things a user should know about how the file was read (one sentence each). */
  warnings?: string[];
}

/**
 * A 3D volume. Voxel (i, j, k) lives at `data[i + nx * (j + ny * k)]` (x fastest, as in NIfTI)
 * and at world position `affine * [i, j, k, 1]` in RAS+ millimetres (the nibabel convention).
 */
export interface Volume {
  /** Voxel values, x fastest; length `shape[0] * shape[1] * shape[2]`. */
  data: VoxelArray;
  /** Voxel counts along i, j, k. */
  shape: Vec3;
  /** Voxel size along i, j, k in mm: the lengths of the affine's first three columns. */
  spacingMm: Vec3;
  /** Voxel-to-world transform, RAS+ mm. */
  affine: Mat4;
  /** Provenance and datatype. */
  meta: VolumeMeta;
}

/** Number of voxels of a shape. */
export function voxelCount(shape: Vec3): number {
  return shape[0] * shape[1] * shape[2];
}
