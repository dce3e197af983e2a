import { stat } from 'node:fs/promises';

import type { Command } from 'commander';

import { axcodes, worldGrid } from '../../io/affine.js';
import { listDicomSeries } from '../../io/read-dicom.js';
import type { DicomSeriesSummary } from '../../io/read-dicom.js';
import { readVolume } from '../../io/read-volume.js';
import type { Mat4, Volume, VoxelDatatype } from '../../io/volume.js';
import { InputFileError } from '../../util/errors.js';
import { parseNonNegativeInteger } from '../parse-options.js';

/** What `panknet info --json` prints: header geometry, datatype and intensity statistics. */
export interface VolumeInfo {
  file: string;
  format: 'nifti' | 'dicom';
  /** Array dimensions as stored: i, j, k, plus t (and more) for 4D+ NIfTI files. */
  shape: number[];
  shape_on_disk: number[];
  /** The 3D grid that was read (i, j, k). */
  spatial_shape: [number, number, number];
  time_points: number;
  /** The time point read, for 4D files with more than one. */
  frame?: number;
  n_slices: number;
  /** Voxel size along i, j, k in mm (affine column lengths); `spacing_mm` is the same. */
  spacing: [number, number, number];
  spacing_mm: [number, number, number];
  /** Axis codes as one string (`RAS`, `LPS`) and as letters. */
  orientation: string;
  axcodes: string[];
  /** Voxel-to-world affine, rows, RAS+ mm. */
  affine: Mat4;
  affine_from?: string;
  qform_code?: number;
  sform_code?: number;
  /** Along R, A, S; present only for axis-aligned grids. */
  world_shape?: { R: number; A: number; S: number };
  world_spacing_mm?: { R: number; A: number; S: number };
  bbox_ras_mm?: { R: [number, number]; A: [number, number]; S: [number, number] };
  datatype: VoxelDatatype;
  /** Statistics over finite voxels, after scl_slope/RescaleSlope. */
  min: number;
  max: number;
  mean: number;
  sum: number;
  intensity: { min: number; max: number; mean: number };
  finite_voxels: number;
  description?: string;
  modality?: string;
  series_uid?: string;
  /** DICOM folders: every series found. */
  series?: DicomSeriesSummary[];
  warnings: string[];
}

/**
 * Summarises a volume as `info --json` reports it.
 *
 * @param volume - The volume read.
 * @param file - The path the user gave.
 * @param format - Which reader read it.
 */
export function summarizeVolume(
  volume: Volume,
  file: string,
  format: 'nifti' | 'dicom',
): VolumeInfo {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let finite = 0;
  for (let n = 0; n < volume.data.length; n++) {
    const v = volume.data[n];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    finite++;
  }
  const mean = finite > 0 ? sum / finite : Number.NaN;
  const spatial: [number, number, number] = [...volume.shape];
  const onDisk = volume.meta.shapeOnDisk ?? spatial;
  const codes = axcodes(volume.affine);
  const grid = worldGrid(volume.affine, volume.shape);
  const spacing: [number, number, number] = [...volume.spacingMm];
  const m = volume.meta;
  return {
    file,
    format,
    shape: [...onDisk],
    shape_on_disk: [...onDisk],
    spatial_shape: spatial,
    time_points: onDisk[3] ?? 1,
    ...(m.frame !== undefined ? { frame: m.frame } : {}),
    n_slices: volume.shape[2],
    spacing,
    spacing_mm: spacing,
    orientation: codes.join(''),
    axcodes: codes,
    affine: volume.affine,
    ...(m.affineFrom !== undefined ? { affine_from: m.affineFrom } : {}),
    ...(m.qformCode !== undefined ? { qform_code: m.qformCode } : {}),
    ...(m.sformCode !== undefined ? { sform_code: m.sformCode } : {}),
    ...(grid
      ? {
          world_shape: { R: grid.shape[0], A: grid.shape[1], S: grid.shape[2] },
          world_spacing_mm: { R: grid.spacingMm[0], A: grid.spacingMm[1], S: grid.spacingMm[2] },
          bbox_ras_mm: { R: grid.bboxMm[0], A: grid.bboxMm[1], S: grid.bboxMm[2] },
        }
      : {}),
    datatype: m.datatype,
    min,
    max,
    mean,
    sum,
    intensity: { min, max, mean },
    finite_voxels: finite,
    ...(m.seriesDescription !== undefined ? { description: m.seriesDescription } : {}),
    ...(m.modality !== undefined ? { modality: m.modality } : {}),
    ...(m.seriesUid !== undefined ? { series_uid: m.seriesUid } : {}),
    warnings: [...(m.warnings ?? [])],
  };
}

function round(value: number, digits = 4): string {
  return Number.isFinite(value) ? String(Number(value.toFixed(digits))) : String(value);
}

function formatText(info: VolumeInfo): string {
  const lines = [
    `file:        ${info.file} (${info.format})`,
    `shape:       ${info.shape.join(' x ')}`,
    `spacing:     ${info.spacing.map((v) => round(v)).join(' x ')} mm`,
    `orientation: ${info.orientation}${info.affine_from ? ` (from ${info.affine_from})` : ''}`,
    `datatype:    ${info.datatype}`,
    `intensity:   min ${round(info.min)}, max ${round(info.max)}, mean ${round(info.mean)}`,
    'affine:',
    ...info.affine.map((row) => `  [${row.map((v) => round(v)).join(', ')}]`),
  ];
  if (info.qform_code !== undefined) {
    lines.push(`codes:       qform ${info.qform_code}, sform ${info.sform_code ?? 0}`);
  }
  if (info.description) lines.push(`description: ${info.description}`);
  for (const s of info.series ?? []) {
    const files = `${s.files} files`;
    lines.push(`series:      #${s.number ?? '?'} ${s.uid} (${files}) ${s.description ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Options of the `info` command as commander passes them. */
interface InfoOptions {
  json?: boolean;
  series?: string;
  frame?: number;
}

/**
 * Reads a volume and prints its geometry, datatype and intensity statistics; writes nothing.
 *
 * @param path - NIfTI file, DICOM folder or DICOM file.
 * @param options - `json`, `series`, `frame`.
 * @returns The summary printed.
 * @throws InputFileError (and other PankNetErrors) from the readers.
 */
export async function runInfo(path: string, options: InfoOptions): Promise<VolumeInfo> {
  const entry = await stat(path).catch((cause: unknown) => {
    throw new InputFileError(path, 'no such file or folder. Check the path.', { cause });
  });
  const nifti = !entry.isDirectory() && /\.nii(\.gz)?$/i.test(path);
  const series = entry.isDirectory() ? await listDicomSeries(path) : undefined;
  const volume = await readVolume(path, { series: options.series, frame: options.frame });
  const info = summarizeVolume(volume, path, nifti ? 'nifti' : 'dicom');
  if (series) info.series = series;
  process.stdout.write(options.json ? `${JSON.stringify(info, null, 2)}\n` : formatText(info));
  return info;
}

/** Registers `panknet info PATH [--json] [--series UID|INDEX] [--frame N]`. */
export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('print geometry, datatype and intensity statistics of a NIfTI or DICOM image')
    .argument('<path>', 'NIfTI file (.nii, .nii.gz), DICOM folder or DICOM file')
    .option('--json', 'print one JSON object')
    .option('--series <uid>', 'DICOM: series to read, by SeriesInstanceUID or 0-based index')
    .option('--frame <n>', 'NIfTI 4D: time point to read (0-based)', parseNonNegativeInteger)
    .action(async (path: string, options: InfoOptions) => {
      await runInfo(path, options);
    });
}
