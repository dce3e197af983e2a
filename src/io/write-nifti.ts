import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

import { PankNetError, ShapeError } from '../util/errors.js';
import { writeFileAtomic } from '../util/write-atomic.js';
import { affineToQuaternion } from './affine.js';
import { NIFTI_DATATYPES } from './read-nifti.js';
import type { Volume, VoxelArray, VoxelDatatype } from './volume.js';
import { voxelCount } from './volume.js';

const gzipAsync = promisify(gzip);

/** Size of a NIfTI-1 header plus the 4-byte extension flag; voxels start here. */
const VOX_OFFSET = 352;

/** Options of `writeNifti`. */
export interface WriteNiftiOptions {
  /**
   * Datatype on disk (default: the one of `volume.data`, e.g. uint8 for a Uint8Array mask).
   * Integer targets round values; a value outside the target range is an error.
   */
  datatype?: VoxelDatatype;
  /** sform_code to write (default: the source's when > 0, else 1 = scanner). */
  sformCode?: number;
  /** qform_code to write (default: the source's when > 0, else the sform code). */
  qformCode?: number;
}

const RANGES: Record<VoxelDatatype, [number, number]> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  float32: [-3.4028234663852886e38, 3.4028234663852886e38],
  float64: [-Infinity, Infinity],
};

/** The datatype name of a typed array. */
export function datatypeOf(data: VoxelArray): VoxelDatatype {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Float32Array) return 'float32';
  return 'float64';
}

function codeOf(datatype: VoxelDatatype): number {
  for (const [code, info] of Object.entries(NIFTI_DATATYPES)) {
    if (info.name === datatype) return Number(code);
  }
  throw new ShapeError(`writeNifti(options.datatype): unknown datatype ${String(datatype)}.`);
}

/** Writes voxel values little-endian into `view` from byte `offset`, converting the type. */
function writeVoxels(
  view: DataView,
  offset: number,
  data: VoxelArray,
  datatype: VoxelDatatype,
  path: string,
): void {
  const integer = !datatype.startsWith('float');
  const [lo, hi] = RANGES[datatype];
  const bytes = NIFTI_DATATYPES[codeOf(datatype)].bytes;
  for (let n = 0; n < data.length; n++) {
    let v = data[n];
    if (integer) {
      v = Math.round(v);
      if (!(v >= lo && v <= hi)) {
        throw new PankNetError(
          `writeNifti("${path}"): value ${data[n]} of voxel ${n} does not fit ${datatype} ` +
            `(${lo} to ${hi}). Write a wider datatype such as float32.`,
        );
      }
    }
    const at = offset + n * bytes;
    switch (datatype) {
      case 'uint8':
        view.setUint8(at, v);
        break;
      case 'int8':
        view.setInt8(at, v);
        break;
      case 'int16':
        view.setInt16(at, v, true);
        break;
      case 'uint16':
        view.setUint16(at, v, true);
        break;
      case 'int32':
        view.setInt32(at, v, true);
        break;
      case 'uint32':
        view.setUint32(at, v, true);
        break;
      case 'float32':
        view.setFloat32(at, v, true);
        break;
      default:
        view.setFloat64(at, v, true);
    }
  }
}

/**
 * Encodes a volume as the bytes of a NIfTI-1 `.nii` file (little-endian, header 348 bytes,
 * voxels from byte 352), with both sform and qform set from the affine.
 *
 * @param volume - The volume; `data` length must equal the voxel count of `shape`.
 * @param options - Datatype on disk and transform codes.
 * @param path - Used in error messages only.
 * @returns The uncompressed file bytes.
 * @throws ShapeError when data length and shape disagree; PankNetError when a value does not fit
 *   the requested integer datatype.
 */
export function encodeNifti1(
  volume: Volume,
  options: WriteNiftiOptions = {},
  path = 'buffer',
): Uint8Array {
  const count = voxelCount(volume.shape);
  if (volume.data.length !== count) {
    throw new ShapeError(
      `writeNifti("${path}"): data holds ${volume.data.length} voxels but shape ` +
        `${volume.shape.join(' x ')} needs ${count}.`,
    );
  }
  const datatype = options.datatype ?? datatypeOf(volume.data);
  const code = codeOf(datatype);
  const bytes = NIFTI_DATATYPES[code].bytes;
  const out = new Uint8Array(VOX_OFFSET + count * bytes);
  const view = new DataView(out.buffer);
  const q = affineToQuaternion(volume.affine);
  const sourceSform = volume.meta.sformCode ?? 0;
  const sformCode = options.sformCode ?? (sourceSform > 0 ? sourceSform : 1);
  const sourceQform = volume.meta.qformCode ?? 0;
  const qformCode =
    options.qformCode ?? (sourceQform > 0 ? sourceQform : sformCode > 0 ? sformCode : 1);

  view.setInt32(0, 348, true);
  view.setUint8(39, 0);
  const dims = [3, volume.shape[0], volume.shape[1], volume.shape[2], 1, 1, 1, 1];
  dims.forEach((d, n) => view.setInt16(40 + 2 * n, d, true));
  view.setInt16(70, code, true);
  view.setInt16(72, bytes * 8, true);
  const pixdim = [q.qfac, q.pixdimMm[0], q.pixdimMm[1], q.pixdimMm[2], 1, 1, 1, 1];
  pixdim.forEach((p, n) => view.setFloat32(76 + 4 * n, p, true));
  view.setFloat32(108, VOX_OFFSET, true);
  view.setFloat32(112, 1, true);
  view.setFloat32(116, 0, true);
  // xyzt_units: millimetres (2) and seconds (8).
  view.setUint8(123, 2 + 8);
  const description = (volume.meta.seriesDescription ?? '').replace(/[^\x20-\x7e]/g, '?');
  for (let n = 0; n < Math.min(79, description.length); n++) {
    view.setUint8(148 + n, description.charCodeAt(n));
  }
  view.setInt16(252, qformCode, true);
  view.setInt16(254, sformCode, true);
  [q.b, q.c, q.d, q.offsetMm[0], q.offsetMm[1], q.offsetMm[2]].forEach((v, n) =>
    view.setFloat32(256 + 4 * n, v, true),
  );
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) view.setFloat32(280 + 16 * r + 4 * c, volume.affine[r][c], true);
  }
  'n+1\0'.split('').forEach((ch, n) => view.setUint8(344 + n, ch.charCodeAt(0)));
  writeVoxels(view, VOX_OFFSET, volume.data, datatype, path);
  return out;
}

/**
 * Writes a volume as NIfTI-1 (`.nii`, or gzip-compressed when the path ends in `.gz`). The
 * file is written under a temporary name in the same folder and renamed when complete, so a
 * failure never leaves a partial output.
 *
 * @param volume - The volume to write; its affine goes to both sform and qform (the qform holds
 *   the nearest rigid transform when the affine is sheared).
 * @param path - Output path, `.nii` or `.nii.gz`.
 * @param options - Datatype on disk (default from the typed array) and transform codes.
 * @throws ShapeError or PankNetError as `encodeNifti1`; file system errors as thrown by Node.
 */
export async function writeNifti(
  volume: Volume,
  path: string,
  options: WriteNiftiOptions = {},
): Promise<void> {
  const raw = encodeNifti1(volume, options, path);
  const payload = /\.gz$/i.test(path) ? await gzipAsync(raw, { level: 6 }) : raw;
  await writeFileAtomic(path, payload, { what: 'NIfTI file' });
}
