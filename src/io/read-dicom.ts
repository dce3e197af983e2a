/**
 * DICOM series reading: a folder (searched recursively) or a list of files becomes one
 * `Volume`. Parsing is done by dicom-parser, compressed pixels by the codecs of
 * `dicom-codecs.ts`, geometry by `dicom-geometry.ts`.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import dicomParser from 'dicom-parser';
import type { DataSet } from 'dicom-parser';

import { InputFileError, UnsupportedError } from '../util/errors.js';
import { log } from '../util/log.js';
import { decodeCompressedFrame, transferSyntaxInfo } from './dicom-codecs.js';
import { stackGeometry } from './dicom-geometry.js';
import type { Vec3, Volume, VoxelArray, VoxelDatatype } from './volume.js';

/** One series found in a folder or file list. */
export interface DicomSeriesSummary {
  /** SeriesInstanceUID (0020,000E); `(no SeriesInstanceUID)` when the files lack it. */
  uid: string;
  /** SeriesNumber (0020,0011), or null when absent. */
  number: number | null;
  /** SeriesDescription (0008,103E), or an empty string. */
  description: string;
  /** Number of image files (slices) of the series. */
  files: number;
  /** Modality (0008,0060) of its first file, e.g. `CT`. */
  modality?: string;
}

/** Options of `readDicomSeries`. */
export interface ReadDicomOptions {
  /** The series to read: its SeriesInstanceUID, or its 0-based index in `listDicomSeries`. */
  series?: string;
}

/** Header fields of one image file, kept between the scan and the pixel pass. */
interface SliceHeader {
  file: string;
  seriesUid: string;
  seriesNumber: number | null;
  description: string;
  modality: string | undefined;
  transferSyntax: string;
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  samplesPerPixel: number;
  frames: number;
  position: Vec3 | null;
  orientation: [number, number, number, number, number, number] | null;
  pixelSpacing: [number, number] | null;
  sliceThickness: number | null;
  spacingBetweenSlices: number | null;
  slope: number;
  intercept: number;
}

interface FileSet {
  /** Folder, file or first file's folder: named in messages and in `meta.sourceFile`. */
  source: string;
  files: string[];
  /** True when the caller named the files: a non-DICOM file is then an error, not skipped. */
  named: boolean;
}

const NO_UID = '(no SeriesInstanceUID)';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const PIXEL_DATA = 'x7fe00010';

/**
 * Lists the DICOM image series in a folder (searched recursively) or a list of files.
 * Files that are not DICOM, and DICOM objects without an image (DICOMDIR, reports), are
 * skipped in a folder.
 *
 * @param pathOrFiles - A folder, one file, or a list of files.
 * @returns Series ordered by SeriesNumber (absent last), then UID: the order `series` indexes.
 * @throws InputFileError when the path is missing, a named file is not DICOM, a DICOM file is
 *   corrupt, or no DICOM image is found.
 */
export async function listDicomSeries(
  pathOrFiles: string | string[],
): Promise<DicomSeriesSummary[]> {
  const fileSet = await collectFiles(pathOrFiles);
  const headers = await scanHeaders(fileSet);
  return groupSeries(headers).map((group) => group.summary);
}

/**
 * Reads one DICOM series into a volume.
 *
 * Slices are stacked along the normal of ImageOrientationPatient by ImagePositionPatient
 * (never by file name or InstanceNumber); the slice spacing comes from those positions.
 * RescaleSlope and RescaleIntercept are applied per slice. Voxel (i, j, k) is column i, row j
 * of the k-th slice from the lowest position along the normal.
 *
 * @param pathOrFiles - A folder (searched recursively), one file, or a list of files.
 * @param options - `series`: UID or 0-based index in `listDicomSeries`, needed when there are
 *   several series.
 * @returns The volume: data in the stored type when no rescale applies, else Int16Array when
 *   every rescaled value is an integer within int16 (Int32Array beyond), else Float32Array;
 *   affine in RAS+ mm; `meta.datatype` is the stored type; `meta.warnings` lists uneven
 *   spacing and gantry tilt (also logged with `log.warn`).
 * @throws InputFileError for missing, corrupt or inconsistent files, several series without a
 *   choice, or a series that does not exist.
 * @throws UnsupportedError for transfer syntaxes without a decoder (e.g. big endian), colour
 *   and multi-frame images.
 */
export async function readDicomSeries(
  pathOrFiles: string | string[],
  options: ReadDicomOptions = {},
): Promise<Volume> {
  const fileSet = await collectFiles(pathOrFiles);
  const headers = await scanHeaders(fileSet);
  const group = pickSeries(groupSeries(headers), fileSet.source, options.series);
  const slices = group.slices;
  checkSupported(slices);

  const first = slices[0];
  const geometry = stackGeometry(
    slices.map((s) => ({
      file: s.file,
      position: s.position as Vec3,
      orientation: s.orientation as [number, number, number, number, number, number],
    })),
    {
      pixelSpacingMm: first.pixelSpacing ?? [1, 1],
      singleSliceSpacingMm: first.spacingBetweenSlices ?? first.sliceThickness ?? 1,
      source: fileSet.source,
    },
  );
  const warnings = [...geometry.warnings];
  if (first.pixelSpacing === null) {
    warnings.push('no PixelSpacing (0028,0030): 1 mm pixels assumed; distances are not in mm.');
  }
  if (slices.length === 1) {
    let from = 'a 1 mm default';
    if (first.spacingBetweenSlices !== null) from = 'SpacingBetweenSlices';
    else if (first.sliceThickness !== null) from = 'SliceThickness';
    warnings.push(
      `one slice only: its thickness (${geometry.spacingMm[2]} mm) comes from ${from}; ` +
        'pass the folder to read the whole series.',
    );
  }

  const ordered = geometry.order.map((n) => slices[n]);
  const { raw, datatype } = await readStoredPixels(ordered);
  const data = rescale(
    raw,
    first.rows * first.columns,
    ordered.map((s) => s.slope),
    ordered.map((s) => s.intercept),
  );

  for (const warning of warnings) log.warn(`${fileSet.source}: ${warning}`);
  const shape: Vec3 = [first.columns, first.rows, slices.length];
  log.info(
    `read DICOM series ${group.summary.uid}: ${shape.join('x')} voxels, ` +
      `spacing ${geometry.spacingMm.map((s) => s.toFixed(3)).join(' x ')} mm`,
  );
  return {
    data,
    shape,
    spacingMm: geometry.spacingMm,
    affine: geometry.affine,
    meta: {
      datatype,
      sourceFile: fileSet.source,
      seriesDescription: group.summary.description,
      seriesUid: group.summary.uid,
      modality: group.summary.modality,
      affineFrom: 'dicom',
      warnings,
    },
  };
}

async function collectFiles(pathOrFiles: string | string[]): Promise<FileSet> {
  if (Array.isArray(pathOrFiles)) {
    if (pathOrFiles.length === 0) {
      throw new InputFileError('readDicomSeries', 'empty file list. Pass a folder or files.');
    }
    return { source: dirname(pathOrFiles[0]), files: pathOrFiles, named: true };
  }
  const info = await stat(pathOrFiles).catch((cause: unknown) => {
    throw new InputFileError(pathOrFiles, 'no such file or folder. Check the path.', { cause });
  });
  if (!info.isDirectory()) return { source: pathOrFiles, files: [pathOrFiles], named: true };
  const files: string[] = [];
  await walk(pathOrFiles, files);
  files.sort();
  return { source: pathOrFiles, files, named: false };
}

async function walk(folder: string, files: string[]): Promise<void> {
  const entries = await readdir(folder, { withFileTypes: true });
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) await walk(path, files);
    else if (entry.isFile()) files.push(path);
    else if (entry.isSymbolicLink()) {
      // Linked files count (archives often link slices); linked folders are not followed.
      const target = await stat(path).catch(() => null);
      if (target?.isFile() === true) files.push(path);
    }
  }
}

/** The text of whatever dicom-parser threw (it throws strings and `{ exception }` objects). */
function parserMessage(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  if (typeof thrown === 'string') return thrown;
  if (typeof thrown === 'object' && thrown !== null && 'exception' in thrown) {
    return parserMessage((thrown as { exception: unknown }).exception);
  }
  return String(thrown);
}

/** True when the bytes start like a DICOM file: a Part 10 preamble, or a raw group-8 tag. */
function looksLikeDicom(bytes: Uint8Array): 'part10' | 'raw' | null {
  if (bytes.length >= 132) {
    const magic = String.fromCharCode(bytes[128], bytes[129], bytes[130], bytes[131]);
    if (magic === 'DICM') return 'part10';
  }
  // Old files without a preamble start with an implicit VR group 0008 element.
  if (bytes.length >= 8 && bytes[0] === 0x08 && bytes[1] === 0x00 && bytes[3] === 0x00) {
    return 'raw';
  }
  return null;
}

async function parseFile(file: string, named: boolean): Promise<DataSet | null> {
  const bytes = await readFile(file).catch((cause: unknown) => {
    throw new InputFileError(file, 'cannot be read. Check its permissions.', { cause });
  });
  const kind = looksLikeDicom(bytes);
  if (kind === null) {
    if (!named) return null;
    throw new InputFileError(
      file,
      'is not a DICOM file (no "DICM" marker at byte 128). Pass DICOM files or their folder.',
    );
  }
  try {
    const options = kind === 'raw' ? { TransferSyntaxUID: IMPLICIT_LE } : undefined;
    return dicomParser.parseDicom(bytes, options);
  } catch (thrown) {
    if (kind === 'raw' && !named) return null;
    throw new InputFileError(
      file,
      `corrupt or truncated DICOM (${parserMessage(thrown)}). ` +
        'Copy the file again from its source, or remove it from the folder.',
      { cause: thrown },
    );
  }
}

function numbers(ds: DataSet, tag: string, count: number): number[] | null {
  const values: number[] = [];
  for (let n = 0; n < count; n++) {
    const v = ds.floatString(tag, n);
    if (v === undefined || !Number.isFinite(v)) return null;
    values.push(v);
  }
  return values;
}

function optionalNumber(ds: DataSet, tag: string): number | null {
  const v = ds.elements[tag] !== undefined ? ds.floatString(tag) : undefined;
  return v !== undefined && Number.isFinite(v) ? v : null;
}

function readHeader(file: string, ds: DataSet): SliceHeader | null {
  const rows = ds.uint16('x00280010');
  const columns = ds.uint16('x00280011');
  // Objects without Rows/Columns (DICOMDIR, reports, RT structures) hold no image.
  if (rows === undefined || columns === undefined) return null;
  const position = numbers(ds, 'x00200032', 3);
  const orientation = numbers(ds, 'x00200037', 6);
  const spacing = numbers(ds, 'x00280030', 2);
  const numberString = ds.string('x00200011');
  const seriesNumber = numberString !== undefined ? Number.parseInt(numberString, 10) : NaN;
  return {
    file,
    seriesUid: ds.string('x0020000e') ?? NO_UID,
    seriesNumber: Number.isFinite(seriesNumber) ? seriesNumber : null,
    description: ds.string('x0008103e') ?? '',
    modality: ds.string('x00080060'),
    transferSyntax: ds.string('x00020010') ?? IMPLICIT_LE,
    rows,
    columns,
    bitsAllocated: ds.uint16('x00280100') ?? 16,
    bitsStored: ds.uint16('x00280101') ?? ds.uint16('x00280100') ?? 16,
    signed: ds.uint16('x00280103') === 1,
    samplesPerPixel: ds.uint16('x00280002') ?? 1,
    frames: ds.intString('x00280008') ?? 1,
    position: position as Vec3 | null,
    orientation: orientation as SliceHeader['orientation'],
    pixelSpacing: spacing as [number, number] | null,
    sliceThickness: optionalNumber(ds, 'x00180050'),
    spacingBetweenSlices: optionalNumber(ds, 'x00180088'),
    slope: optionalNumber(ds, 'x00281053') ?? 1,
    intercept: optionalNumber(ds, 'x00281052') ?? 0,
  };
}

async function scanHeaders(fileSet: FileSet): Promise<SliceHeader[]> {
  const headers: SliceHeader[] = [];
  for (const file of fileSet.files) {
    const ds = await parseFile(file, fileSet.named);
    const header = ds === null ? null : readHeader(file, ds);
    if (header !== null) headers.push(header);
    else if (ds !== null && fileSet.named) {
      throw new InputFileError(
        file,
        'is a DICOM object without an image (no Rows/Columns). Pass the image files instead.',
      );
    }
  }
  if (headers.length === 0) {
    throw new InputFileError(
      fileSet.source,
      `no DICOM image found among ${fileSet.files.length} files. ` +
        'Check the path; DICOM files need a "DICM" marker at byte 128.',
    );
  }
  return headers;
}

interface SeriesGroup {
  summary: DicomSeriesSummary;
  slices: SliceHeader[];
}

function groupSeries(headers: SliceHeader[]): SeriesGroup[] {
  const byUid = new Map<string, SliceHeader[]>();
  for (const h of headers) {
    const list = byUid.get(h.seriesUid);
    if (list === undefined) byUid.set(h.seriesUid, [h]);
    else list.push(h);
  }
  const groups = [...byUid.entries()].map(([uid, slices]): SeriesGroup => {
    const summary: DicomSeriesSummary = {
      uid,
      number: slices[0].seriesNumber,
      description: slices[0].description,
      files: slices.length,
    };
    if (slices[0].modality !== undefined) summary.modality = slices[0].modality;
    return { summary, slices };
  });
  return groups.sort((a, b) => {
    const na = a.summary.number ?? Number.POSITIVE_INFINITY;
    const nb = b.summary.number ?? Number.POSITIVE_INFINITY;
    if (na !== nb) return na < nb ? -1 : 1;
    return a.summary.uid < b.summary.uid ? -1 : a.summary.uid > b.summary.uid ? 1 : 0;
  });
}

function describeSeries(groups: SeriesGroup[]): string {
  return groups
    .map(({ summary: s }, n) => {
      const description = s.description === '' ? '(no description)' : `"${s.description}"`;
      return `[${n}] ${s.uid} ${description} ${s.files} slice${s.files === 1 ? '' : 's'}`;
    })
    .join('; ');
}

function pickSeries(groups: SeriesGroup[], source: string, series?: string): SeriesGroup {
  if (series === undefined) {
    if (groups.length === 1) return groups[0];
    throw new InputFileError(
      source,
      `${groups.length} DICOM series found, expected one: ${describeSeries(groups)}. ` +
        'Pick one with --series <UID or index> (option { series } in the library).',
    );
  }
  const byUid = groups.find((g) => g.summary.uid === series);
  if (byUid !== undefined) return byUid;
  if (/^\d+$/.test(series) && Number(series) < groups.length) return groups[Number(series)];
  throw new InputFileError(
    source,
    `no series "${series}" here; found ${describeSeries(groups)}. ` +
      'Pass --series with one of these UIDs or 0-based indices.',
  );
}

function checkSupported(slices: SliceHeader[]): void {
  const first = slices[0];
  for (const s of slices) {
    const syntax = transferSyntaxInfo(s.transferSyntax);
    if (syntax.encoding === null) {
      throw new UnsupportedError(
        `${s.file}: ${syntax.name} (${s.transferSyntax}) is not supported. Convert the ` +
          'series to explicit VR little endian first, e.g. `dcmdjpeg IN OUT` or ' +
          '`gdcmconv --raw IN OUT`.',
      );
    }
    if (s.frames > 1) {
      throw new UnsupportedError(
        `${s.file}: multi-frame DICOM (${s.frames} frames) is not supported. Convert it to ` +
          'NIfTI with dcm2niix, or to one file per slice (e.g. `dcmsplit` from dcm4che).',
      );
    }
    if (s.samplesPerPixel !== 1) {
      throw new UnsupportedError(
        `${s.file}: ${s.samplesPerPixel} samples per pixel (colour); only greyscale CT/MR ` +
          'images are supported. Pass a greyscale series.',
      );
    }
    if (![8, 16, 32].includes(s.bitsAllocated) || s.bitsStored > s.bitsAllocated) {
      throw new InputFileError(
        s.file,
        `BitsAllocated ${s.bitsAllocated} with BitsStored ${s.bitsStored} is not a ` +
          'valid greyscale layout (expected 8, 16 or 32 bits). Re-export the series.',
      );
    }
    if (s.position === null || s.orientation === null) {
      throw new InputFileError(
        s.file,
        'has no ImagePositionPatient/ImageOrientationPatient (0020,0032/0037), so it cannot ' +
          'be placed in space (a localizer, screenshot or secondary capture?). Remove it or ' +
          'pick another series.',
      );
    }
    if (s.rows !== first.rows || s.columns !== first.columns) {
      throw new InputFileError(
        s.file,
        `is ${s.columns}x${s.rows} pixels (Columns x Rows) but ${first.file} of the same ` +
          `series is ${first.columns}x${first.rows}. Remove the odd file or re-export the series.`,
      );
    }
    if (s.bitsAllocated !== first.bitsAllocated || s.signed !== first.signed) {
      throw new InputFileError(
        s.file,
        `stores ${s.signed ? 'signed' : 'unsigned'} ${s.bitsAllocated}-bit pixels but ` +
          `${first.file} of the same series stores ${first.signed ? 'signed' : 'unsigned'} ` +
          `${first.bitsAllocated}-bit ones. Re-export the series with one pixel format.`,
      );
    }
  }
}

function storedType(bits: number, signed: boolean): VoxelDatatype {
  if (bits === 8) return signed ? 'int8' : 'uint8';
  if (bits === 16) return signed ? 'int16' : 'uint16';
  return signed ? 'int32' : 'uint32';
}

function allocate(datatype: VoxelDatatype, length: number): VoxelArray {
  switch (datatype) {
    case 'int8':
      return new Int8Array(length);
    case 'uint8':
      return new Uint8Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'uint16':
      return new Uint16Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'uint32':
      return new Uint32Array(length);
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
  }
}

/** Reads and decodes every slice (in stack order) into one array of the stored type. */
async function readStoredPixels(
  slices: SliceHeader[],
): Promise<{ raw: VoxelArray; datatype: VoxelDatatype }> {
  const first = slices[0];
  const pixelCount = first.rows * first.columns;
  const bytesPerSample = first.bitsAllocated / 8;
  const datatype = storedType(first.bitsAllocated, first.signed);
  const raw = allocate(datatype, pixelCount * slices.length);
  for (let k = 0; k < slices.length; k++) {
    const s = slices[k];
    const bytes = await framePixelBytes(s, pixelCount * bytesPerSample);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const offset = k * pixelCount;
    const extra = s.bitsAllocated - s.bitsStored;
    for (let p = 0; p < pixelCount; p++) {
      let u =
        bytesPerSample === 1
          ? view.getUint8(p)
          : bytesPerSample === 2
            ? view.getUint16(2 * p, true)
            : view.getUint32(4 * p, true);
      // Keep BitsStored bits, then sign-extend from the top stored bit (PS3.5 8.1.1).
      if (extra > 0) u &= 2 ** s.bitsStored - 1;
      if (s.signed && u >= 2 ** (s.bitsStored - 1)) u -= 2 ** s.bitsStored;
      raw[offset + p] = u;
    }
  }
  return { raw, datatype };
}

/** The little-endian sample bytes of a slice's single frame. */
async function framePixelBytes(s: SliceHeader, expectedBytes: number): Promise<Uint8Array> {
  const ds = await parseFile(s.file, true);
  const element = ds?.elements[PIXEL_DATA];
  if (ds === null || element === undefined) {
    throw new InputFileError(
      s.file,
      'has no pixel data (7FE0,0010). Re-export the series with images, or remove the file.',
    );
  }
  const syntax = transferSyntaxInfo(s.transferSyntax);
  if (syntax.encoding === 'native') {
    const end = element.dataOffset + expectedBytes;
    if (element.length < expectedBytes || end > ds.byteArray.length) {
      throw new InputFileError(
        s.file,
        `pixel data holds ${element.length} bytes, expected ${expectedBytes} ` +
          `(${s.columns}x${s.rows} pixels of ${s.bitsAllocated} bits): the file is truncated. ` +
          'Copy it again from its source.',
      );
    }
    return ds.byteArray.subarray(element.dataOffset, end);
  }
  if (syntax.encoding === null) throw new Error('unreachable: checked in checkSupported');
  try {
    const fragments = element.fragments ?? [];
    if (fragments.length === 0) throw new Error('no compressed fragments');
    const encoded = dicomParser.readEncapsulatedPixelDataFromFragments(
      ds,
      element,
      0,
      fragments.length,
    );
    return await decodeCompressedFrame(syntax.encoding, encoded, {
      rows: s.rows,
      columns: s.columns,
      bitsAllocated: s.bitsAllocated,
      bitsStored: s.bitsStored,
    });
  } catch (thrown) {
    throw new InputFileError(
      s.file,
      `cannot decode its ${syntax.name} pixel data (${parserMessage(thrown)}). ` +
        'Decompress it with `dcmdjpeg`/`gdcmconv --raw` and read the result, or re-export it.',
      { cause: thrown },
    );
  }
}

/**
 * Applies each slice's RescaleSlope and RescaleIntercept; keeps the stored array when every
 * slice has slope 1 and intercept 0.
 */
function rescale(
  raw: VoxelArray,
  sliceSize: number,
  slopes: number[],
  intercepts: number[],
): VoxelArray {
  if (slopes.every((m) => m === 1) && intercepts.every((b) => b === 0)) return raw;

  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let integral = true;
  for (let k = 0; k < slopes.length; k++) {
    const m = slopes[k];
    const b = intercepts[k];
    const sliceIntegral = Number.isInteger(m) && Number.isInteger(b);
    for (let p = k * sliceSize; p < (k + 1) * sliceSize; p++) {
      const v = raw[p] * m + b;
      if (v < min) min = v;
      if (v > max) max = v;
      if (!sliceIntegral && integral && !Number.isInteger(v)) integral = false;
    }
  }

  let out: VoxelArray;
  if (integral && min >= -32768 && max <= 32767) out = new Int16Array(raw.length);
  else if (integral && min >= -(2 ** 31) && max < 2 ** 31) out = new Int32Array(raw.length);
  else out = new Float32Array(raw.length);
  for (let k = 0; k < slopes.length; k++) {
    const m = slopes[k];
    const b = intercepts[k];
    for (let p = k * sliceSize; p < (k + 1) * sliceSize; p++) out[p] = raw[p] * m + b;
  }
  return out;
}
