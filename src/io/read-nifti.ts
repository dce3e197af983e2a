import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { promisify } from 'node:util';
import { constants as zlibConstants, gunzip, gunzipSync } from 'node:zlib';

import { isNIFTI1, isNIFTI2, readHeader } from 'nifti-reader-js';

import { InputFileError, UnsupportedError } from '../util/errors.js';
import { log } from '../util/log.js';
import { invert4, quaternionToAffine, spacingFromAffine } from './affine.js';
import type { Mat4, Vec3, Volume, VolumeMeta, VoxelArray, VoxelDatatype } from './volume.js';

const gunzipAsync = promisify(gunzip);

/** Options of `readNifti`. */
export interface ReadNiftiOptions {
  /** 4D files: the 0-based time point to read. Required when the file has more than one. */
  frame?: number;
}

/** NIfTI datatype codes we decode, with their names and sizes in bytes. */
export const NIFTI_DATATYPES: Record<number, { name: VoxelDatatype; bytes: number }> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
};

/** Names of NIfTI datatype codes we recognise but do not decode, for error messages. */
const UNSUPPORTED_DATATYPES: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

/** Formats a shape as `32 x 32 x 20`. */
export function formatShape(shape: readonly number[]): string {
  return shape.join(' x ');
}

/**
 * Decodes `count` voxels of a datatype from a buffer, swapping bytes when the file's byte order
 * differs from the machine's.
 */
function decodeVoxels(
  buffer: ArrayBuffer,
  byteOffset: number,
  count: number,
  datatype: VoxelDatatype,
  littleEndian: boolean,
): VoxelArray {
  const nativeLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const bytes = NIFTI_DATATYPES[codeOf(datatype)].bytes;
  if (littleEndian === nativeLittle || bytes === 1) {
    const copy = buffer.slice(byteOffset, byteOffset + count * bytes);
    return typedArrayOf(datatype, copy);
  }
  const view = new DataView(buffer, byteOffset, count * bytes);
  const out = typedArrayOf(datatype, new ArrayBuffer(count * bytes));
  const le = littleEndian;
  for (let n = 0; n < count; n++) {
    const at = n * bytes;
    switch (datatype) {
      case 'int16':
        out[n] = view.getInt16(at, le);
        break;
      case 'uint16':
        out[n] = view.getUint16(at, le);
        break;
      case 'int32':
        out[n] = view.getInt32(at, le);
        break;
      case 'uint32':
        out[n] = view.getUint32(at, le);
        break;
      case 'float32':
        out[n] = view.getFloat32(at, le);
        break;
      default:
        out[n] = view.getFloat64(at, le);
    }
  }
  return out;
}

function codeOf(datatype: VoxelDatatype): number {
  const entry = Object.entries(NIFTI_DATATYPES).find(([, v]) => v.name === datatype);
  return Number(entry?.[0]);
}

/** A typed array of a datatype over a buffer (the buffer length must be a multiple). */
function typedArrayOf(datatype: VoxelDatatype, buffer: ArrayBuffer): VoxelArray {
  switch (datatype) {
    case 'uint8':
      return new Uint8Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'uint16':
      return new Uint16Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'uint32':
      return new Uint32Array(buffer);
    case 'float32':
      return new Float32Array(buffer);
    default:
      return new Float64Array(buffer);
  }
}

/** Reads the sform rows, which nifti-reader-js does not expose when it prefers the qform. */
function readSform(buffer: ArrayBuffer, nifti2: boolean, littleEndian: boolean): Mat4 {
  const view = new DataView(buffer);
  const rows: number[][] = [];
  for (let r = 0; r < 3; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      row.push(
        nifti2
          ? view.getFloat64(400 + 32 * r + 8 * c, littleEndian)
          : view.getFloat32(280 + 16 * r + 4 * c, littleEndian),
      );
    }
    rows.push(row);
  }
  rows.push([0, 0, 0, 1]);
  return rows as Mat4;
}

/**
 * nibabel's affine for a header without qform or sform: pixdim on the diagonal, x flipped
 * (radiological Analyze convention), the volume centre at the origin.
 */
function fallbackAffine(shape: Vec3, pixdim: Vec3): Mat4 {
  const out: Mat4 = [
    [-pixdim[0], 0, 0, 0],
    [0, pixdim[1], 0, 0],
    [0, 0, pixdim[2], 0],
    [0, 0, 0, 1],
  ];
  for (let r = 0; r < 3; r++) out[r][3] = -out[r][r] * ((shape[r] - 1) / 2);
  return out;
}

function affinesDiffer(a: Mat4, b: Mat4, toleranceMm: number): boolean {
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) if (Math.abs(a[r][c] - b[r][c]) > toleranceMm) return true;
  }
  return false;
}

function isSingular(affine: Mat4): boolean {
  try {
    invert4(affine);
    return affine.slice(0, 3).some((row) => row.some((v) => !Number.isFinite(v)));
  } catch {
    return true;
  }
}

/** The first bytes of a gzip stream, decompressed without inflating the rest. */
function gunzipPrefix(raw: Buffer): Buffer {
  try {
    return gunzipSync(raw.subarray(0, 65536), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    // A stream too damaged to start is reported by the full decompression that follows.
    return Buffer.alloc(0);
  }
}

/** Voxel data larger than this is refused before it is decompressed or allocated. */
export function maxVoxelBytes(): number {
  return Math.min(16 * 2 ** 30, Math.floor(totalmem() / 2));
}

/**
 * Refuses a header that declares more voxel data than this machine can hold (a damaged or
 * hostile file claiming, say, 100000^3 voxels), from the header bytes alone.
 */
function refuseOversizedHeader(path: string, head: Buffer): void {
  if (head.length < 348) return;
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  for (const little of [true, false]) {
    const size = view.getInt32(0, little);
    let dims: number[];
    let datatype: number;
    if (size === 348) {
      dims = Array.from({ length: 8 }, (_, i) => view.getInt16(40 + 2 * i, little));
      datatype = view.getInt16(70, little);
    } else if (size === 540 && head.length >= 540) {
      dims = Array.from({ length: 8 }, (_, i) => Number(view.getBigInt64(16 + 8 * i, little)));
      datatype = view.getInt16(12, little);
    } else {
      continue;
    }
    const ndim = dims[0]!;
    const bytesPerVoxel = NIFTI_DATATYPES[datatype]?.bytes ?? 1;
    if (ndim < 1 || ndim > 7) return;
    const sizes = dims.slice(1, ndim + 1);
    const declared = sizes.reduce((a, b) => a * Math.max(1, b), 1) * bytesPerVoxel;
    if (declared > maxVoxelBytes()) {
      throw new InputFileError(
        path,
        `header declares ${formatShape(sizes)} voxels, ${(declared / 2 ** 30).toFixed(1)} GiB ` +
          `of data, more than this machine can hold (${(maxVoxelBytes() / 2 ** 30).toFixed(1)} ` +
          'GiB). The header is damaged or the file is not a volume; export it again.',
      );
    }
    return;
  }
}

async function loadBytes(path: string): Promise<{ buffer: ArrayBuffer; gzipped: boolean }> {
  const raw = await readFile(path).catch((cause: unknown) => {
    const code = (cause as { code?: string }).code;
    const problem =
      code === 'ENOENT'
        ? 'no such file. Check the path'
        : code === 'EISDIR'
          ? 'is a folder, not a NIfTI file. Give a .nii or .nii.gz file'
          : `cannot be read (${code ?? 'I/O error'}). Check its permissions`;
    throw new InputFileError(path, `${problem}.`, { cause });
  });
  let bytes: Buffer = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    refuseOversizedHeader(path, gunzipPrefix(raw));
    bytes = await gunzipAsync(raw).catch((cause: unknown) => {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new InputFileError(
        path,
        `the gzip stream is truncated or corrupt (${reason}); the file holds ${raw.length} ` +
          'compressed bytes. Copy or export the file again.',
        { cause },
      );
    });
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  return { buffer: buffer as ArrayBuffer, gzipped: bytes !== raw };
}

/**
 * Reads a NIfTI-1 or NIfTI-2 file (`.nii` or `.nii.gz`, either byte order) into a `Volume`.
 *
 * Intensities: with a non-trivial `scl_slope`/`scl_inter` (slope non-zero and not (1, 0)) the
 * values are scaled into a Float32Array (Float64Array for float64 files); a zero slope means
 * "no scaling". Otherwise the stored typed array is kept. Geometry follows nibabel: the sform
 * when `sform_code > 0`, else the qform when `qform_code > 0`, else pixdim with x flipped and
 * the centre at the origin (orientation unknown; a warning says so).
 *
 * @param path - A `.nii` or `.nii.gz` file.
 * @param options - `frame`: the time point of a 4D file (0-based).
 * @returns The 3D volume, affine in RAS+ mm; `meta` holds datatype, codes and shape on disk.
 * @throws InputFileError when the file is missing, not NIfTI, truncated (gzip or voxel data
 *   shorter than the header promises), of an unknown datatype, 4D without `frame`, or has a
 *   singular affine.
 * @throws UnsupportedError for datatypes we recognise but do not decode (complex, RGB, int64),
 *   `.hdr/.img` pairs, and 5D+ files.
 */
export async function readNifti(path: string, options: ReadNiftiOptions = {}): Promise<Volume> {
  const { buffer, gzipped } = await loadBytes(path);

  // Header checks: magic, datatype, dimensions, and that the data is all there.
  if (buffer.byteLength < 348) {
    throw new InputFileError(
      path,
      `is ${buffer.byteLength} bytes long, shorter than a NIfTI header (348 bytes). ` +
        'The file is truncated or not NIfTI; copy or export it again.',
    );
  }
  const nifti1 = isNIFTI1(buffer);
  const nifti2 = !nifti1 && isNIFTI2(buffer);
  if (!nifti1 && !nifti2) {
    if (isNIFTI1(buffer, true) || isNIFTI2(buffer, true)) {
      throw new UnsupportedError(
        `${path}: is the header of a .hdr/.img pair, which is not supported. ` +
          'Convert it to a single .nii file (for example with nibabel or fslchfiletype).',
      );
    }
    throw new InputFileError(
      path,
      'is not a NIfTI-1 or NIfTI-2 file (no "n+1" or "n+2" magic in the header). ' +
        'Give a .nii or .nii.gz file, or a DICOM folder.',
    );
  }
  const header = readHeader(buffer);
  const littleEndian = header.littleEndian;
  const typeInfo = NIFTI_DATATYPES[header.datatypeCode];
  if (typeInfo === undefined) {
    const known = UNSUPPORTED_DATATYPES[header.datatypeCode];
    const what = known
      ? `has datatype ${known} (code ${header.datatypeCode}), which is not supported`
      : `has unknown datatype code ${header.datatypeCode}`;
    throw new InputFileError(
      path,
      `${what}; supported: uint8, int8, int16, uint16, int32, uint32, float32, float64. ` +
        'Convert the image to one of these (for example float32).',
    );
  }
  const ndim = header.dims[0];
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) {
    throw new InputFileError(
      path,
      `has dim[0] = ${ndim}, expected 1 to 7. The header is corrupt; export the file again.`,
    );
  }
  const dimsOnDisk = header.dims.slice(1, ndim + 1);
  if (dimsOnDisk.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new InputFileError(
      path,
      `has invalid dimensions ${formatShape(dimsOnDisk)}; every size must be at least 1. ` +
        'The header is corrupt; export the file again.',
    );
  }
  const shape: Vec3 = [dimsOnDisk[0], dimsOnDisk[1] ?? 1, dimsOnDisk[2] ?? 1];
  const frames = dimsOnDisk[3] ?? 1;
  const beyond = dimsOnDisk.slice(4).reduce((a, b) => a * b, 1);
  const voxels3d = shape[0] * shape[1] * shape[2];
  const allVoxels = voxels3d * frames * beyond;
  const voxOffset = Math.max(0, Math.floor(header.vox_offset));
  const dataBytes = allVoxels * typeInfo.bytes;
  const haveBytes = Math.max(0, buffer.byteLength - voxOffset);
  if (haveBytes < dataBytes) {
    const where = gzipped ? ' after decompression' : '';
    throw new InputFileError(
      path,
      `header promises ${formatShape(dimsOnDisk)} ${typeInfo.name} voxels, ${dataBytes} bytes ` +
        `of voxel data after byte ${voxOffset}, but the file holds only ${haveBytes} bytes of ` +
        `voxel data${where}, ${dataBytes - haveBytes} bytes missing. The file is truncated ` +
        'or its header is wrong; copy or export it again.',
    );
  }
  if (beyond > 1) {
    throw new UnsupportedError(
      `${path}: has ${ndim} dimensions (${formatShape(dimsOnDisk)}); only 3D volumes and 4D ` +
        'time series are supported. Split the file into 3D volumes.',
    );
  }
  const frame = options.frame;
  if (frame !== undefined && (!Number.isInteger(frame) || frame < 0 || frame >= frames)) {
    throw new InputFileError(
      path,
      `frame ${frame} does not exist: the image has ${frames} time point(s) ` +
        `(${formatShape(dimsOnDisk)}). Pass a frame from 0 to ${frames - 1}.`,
    );
  }
  if (frames > 1 && frame === undefined) {
    throw new InputFileError(
      path,
      `4D image with ${frames} time points (${formatShape(dimsOnDisk)}), expected 3D. ` +
        'Pass --frame N (or { frame: N }) to read one time point, or split the file.',
    );
  }
  const warnings: string[] = [];
  if (ndim >= 4 && frames === 1) {
    warnings.push(`stored as 4D (${formatShape(dimsOnDisk)}) with one time point; read as 3D.`);
  }

  // Voxels: decode one frame, then apply scl_slope/scl_inter when they are non-trivial.
  const frameIndex = frame ?? 0;
  const stored = decodeVoxels(
    buffer,
    voxOffset + frameIndex * voxels3d * typeInfo.bytes,
    voxels3d,
    typeInfo.name,
    littleEndian,
  );
  let nanCount = 0;
  if (typeInfo.name === 'float32' || typeInfo.name === 'float64') {
    for (let n = 0; n < voxels3d; n++) if (Number.isNaN(stored[n])) nanCount++;
  }
  if (nanCount > 0) {
    warnings.push(
      `${nanCount} of ${voxels3d} voxels are NaN (not a number); they are kept as NaN, and ` +
        'normalisation treats them as the lowest intensity.',
    );
  }
  const slope = header.scl_slope;
  const inter = Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  let data: VoxelArray = stored;
  if (Number.isFinite(slope) && slope !== 0 && !(slope === 1 && inter === 0)) {
    data = typeInfo.name === 'float64' ? new Float64Array(voxels3d) : new Float32Array(voxels3d);
    for (let n = 0; n < voxels3d; n++) data[n] = stored[n] * slope + inter;
  }

  // Geometry, with nibabel's precedence: sform, then qform, then pixdim.
  const pixdimRaw: Vec3 = [header.pixDims[1], header.pixDims[2], header.pixDims[3]];
  const pixdim = pixdimRaw.map((v) => (Number.isFinite(v) && v !== 0 ? Math.abs(v) : 1)) as Vec3;
  const qformCode = header.qform_code;
  const sformCode = header.sform_code;
  let qform: Mat4 | undefined;
  if (qformCode > 0) {
    qform = quaternionToAffine({
      b: header.quatern_b,
      c: header.quatern_c,
      d: header.quatern_d,
      qfac: header.pixDims[0] < 0 ? -1 : 1,
      pixdimMm: pixdim,
      offsetMm: [header.qoffset_x, header.qoffset_y, header.qoffset_z],
    });
  }
  let affine: Mat4;
  let affineFrom: VolumeMeta['affineFrom'];
  if (sformCode > 0) {
    affine = readSform(buffer, nifti2, littleEndian);
    affineFrom = 'sform';
    if (qform !== undefined && affinesDiffer(affine, qform, 1e-3)) {
      warnings.push('qform and sform differ; using the sform (as nibabel does).');
    }
  } else if (qform !== undefined) {
    affine = qform;
    affineFrom = 'qform';
  } else {
    affine = fallbackAffine(shape, pixdim);
    affineFrom = 'pixdim';
    warnings.push(
      'no qform or sform (both codes 0): orientation unknown; using pixdim with x flipped, ' +
        'centred on the origin (as nibabel does).',
    );
  }
  const spacingFromPixdim = affineFrom !== 'sform';
  if (spacingFromPixdim && pixdimRaw.some((v) => !Number.isFinite(v) || v === 0)) {
    throw new InputFileError(
      path,
      `pixdim gives voxel sizes ${pixdimRaw.join(' x ')} mm; none may be zero or missing ` +
        `for the ${affineFrom} geometry. Fix the header (for example with nibabel) and try again.`,
    );
  }
  if (isSingular(affine)) {
    throw new InputFileError(
      path,
      `the ${affineFrom} affine is singular or not finite, so voxel positions are undefined. ` +
        'Fix the header geometry (for example with nibabel) and try again.',
    );
  }

  for (const warning of warnings) log.warn(`${path}: ${warning}`);
  const description = header.description.replace(/\0.*$/s, '').trim();
  return {
    data,
    shape,
    spacingMm: spacingFromAffine(affine),
    affine,
    meta: {
      datatype: typeInfo.name,
      sourceFile: path,
      ...(description ? { seriesDescription: description } : {}),
      affineFrom,
      shapeOnDisk: dimsOnDisk,
      qformCode,
      sformCode,
      ...(frames > 1 ? { frame: frameIndex } : {}),
      warnings,
    },
  };
}
