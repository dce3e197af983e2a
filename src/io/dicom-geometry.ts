/**
 * Geometry of a DICOM slice stack: slice order, slice spacing and the voxel-to-world affine,
 * all from ImagePositionPatient (IPP), ImageOrientationPatient (IOP) and PixelSpacing
 * (PS3.3 C.7.6.2.1.1). Pure functions on numbers; no file access.
 */

import { InputFileError } from '../util/errors.js';
import type { Mat4, Vec3 } from './volume.js';

/** Geometry tags of one slice. */
export interface SliceGeometryInput {
  /** File the slice came from (for messages). */
  file: string;
  /** ImagePositionPatient: centre of the first transmitted pixel, LPS mm. */
  position: Vec3;
  /** ImageOrientationPatient: row cosine (direction of increasing column) then column cosine. */
  orientation: [number, number, number, number, number, number];
}

/** Options of `stackGeometry`. */
export interface StackGeometryOptions {
  /** PixelSpacing [row spacing, column spacing] in mm (distance between rows, then columns). */
  pixelSpacingMm: [number, number];
  /** Slice spacing in mm for a single slice (from SpacingBetweenSlices or SliceThickness). */
  singleSliceSpacingMm: number;
  /** Folder or file named in error messages. */
  source: string;
}

/** The stack's order and grid. */
export interface StackGeometry {
  /** Indices into the input slices, inferior-to-superior along the slice normal. */
  order: number[];
  /** Voxel (i = column, j = row, k = slice in `order`) to RAS+ mm. */
  affine: Mat4;
  /** Lengths of the affine's first three columns, mm. */
  spacingMm: Vec3;
  /** One sentence per irregularity found (uneven spacing, gantry tilt). */
  warnings: string[];
}

/** Orientation cosines further apart than this (per component) mean a different stack. */
const ORIENTATION_TOLERANCE = 1e-3;

/** Two slices closer than this along the normal sit at the same position, mm. */
const DUPLICATE_TOLERANCE_MM = 0.01;

const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
const norm = (a: Vec3): number => Math.sqrt(dot(a, a));
const unit = (a: Vec3): Vec3 => scale(a, 1 / norm(a));
const fmt = (x: number): string => String(Number(x.toFixed(3)));

/**
 * Orders slices along the normal of their common orientation and builds the affine.
 *
 * The slice direction is the cross product of the row and column cosines; slices are sorted
 * by the projection of their position on it and the slice spacing is the median gap between
 * those projections (never SliceThickness). Uneven gaps (beyond 1% or 0.01 mm) give a warning
 * and the volume is built on the median gap. Positions that move in-plane from slice to slice
 * (gantry tilt) give a warning and a sheared affine whose slice column is the mean step
 * between positions, which keeps every voxel at its true place.
 *
 * @param slices - Geometry tags of each slice (at least one), in any order.
 * @param options - Pixel spacing, single-slice spacing, name for messages.
 * @returns Slice order, RAS+ affine, spacing and warnings.
 * @throws InputFileError when orientations differ or two slices share a position.
 */
export function stackGeometry(
  slices: SliceGeometryInput[],
  options: StackGeometryOptions,
): StackGeometry {
  const first = slices[0];
  const rowCos = unit([first.orientation[0], first.orientation[1], first.orientation[2]]);
  const colCos = unit([first.orientation[3], first.orientation[4], first.orientation[5]]);
  if (Math.abs(dot(rowCos, colCos)) > ORIENTATION_TOLERANCE) {
    throw new InputFileError(
      first.file,
      `ImageOrientationPatient ${first.orientation.join('\\')} has row and column ` +
        'directions that are not perpendicular. Re-export the series or repair the header.',
    );
  }
  for (const slice of slices) {
    const deviation = Math.max(
      ...slice.orientation.map((v, n) => Math.abs(v - first.orientation[n])),
    );
    if (deviation > ORIENTATION_TOLERANCE) {
      throw new InputFileError(
        slice.file,
        `ImageOrientationPatient ${slice.orientation.join('\\')} differs from ` +
          `${first.orientation.join('\\')} of ${first.file}: the series mixes stacks ` +
          '(e.g. a localizer). Remove the odd files or pass only the files of one stack.',
      );
    }
  }

  const normal = cross(rowCos, colCos);
  const along = slices.map((s) => dot(s.position, normal));
  const order = slices.map((_, n) => n).sort((a, b) => along[a] - along[b]);
  for (let n = 1; n < order.length; n++) {
    const gap = along[order[n]] - along[order[n - 1]];
    if (gap < DUPLICATE_TOLERANCE_MM) {
      throw new InputFileError(
        options.source,
        `${slices[order[n - 1]].file} and ${slices[order[n]].file} lie at the same position ` +
          `(${fmt(along[order[n]])} mm along the slice normal): the series holds duplicates ` +
          'or several acquisitions. Remove the duplicate files or split the series.',
      );
    }
  }

  const warnings: string[] = [];
  let step: Vec3;
  if (slices.length === 1) {
    step = scale(normal, options.singleSliceSpacingMm);
  } else {
    const gaps = order.slice(1).map((idx, n) => along[idx] - along[order[n]]);
    const median = medianOf(gaps);
    const uneven = unevenSpacingWarning(gaps, median, slices, order);
    if (uneven !== null) warnings.push(uneven);
    const firstPos = slices[order[0]].position;
    const lastPos = slices[order[order.length - 1]].position;
    const tilt = tiltWarning(slices, order, normal, median);
    if (tilt !== null) {
      warnings.push(tilt);
      step = scale(sub(lastPos, firstPos), 1 / (order.length - 1));
    } else {
      step = scale(normal, median);
    }
  }

  const [rowSpacing, colSpacing] = options.pixelSpacingMm;
  const iCol = scale(rowCos, colSpacing);
  const jCol = scale(colCos, rowSpacing);
  const origin = slices[order[0]].position;
  // LPS to RAS: negate the x and y rows.
  const flip = [-1, -1, 1];
  const row = (r: number): [number, number, number, number] => [
    flip[r] * iCol[r],
    flip[r] * jCol[r],
    flip[r] * step[r],
    flip[r] * origin[r],
  ];
  const affine: Mat4 = [row(0), row(1), row(2), [0, 0, 0, 1]];
  return { order, affine, spacingMm: [norm(iCol), norm(jCol), norm(step)], warnings };
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A sentence listing uneven gaps, or null when all gaps match the median. */
function unevenSpacingWarning(
  gaps: number[],
  median: number,
  slices: SliceGeometryInput[],
  order: number[],
): string | null {
  const tolerance = Math.max(0.01, 0.01 * median);
  const odd = gaps.map((g, n) => ({ g, n })).filter(({ g }) => Math.abs(g - median) > tolerance);
  if (odd.length === 0) return null;
  const listed = odd
    .slice(0, 5)
    .map(({ g, n }) => `${fmt(g)} mm between slices ${n} and ${n + 1} (${slices[order[n]].file})`)
    .join(', ');
  const more = odd.length > 5 ? ` and ${odd.length - 5} more` : '';
  // Slice n sits at the sum of the gaps before it, the grid puts it at n * median.
  let offset = 0;
  let worst = 0;
  for (const g of gaps) {
    offset += g - median;
    worst = Math.max(worst, Math.abs(offset));
  }
  return (
    `uneven slice spacing: most gaps are ${fmt(median)} mm but ${listed}${more}; ` +
    `a slice is probably missing. The volume is built on a ${fmt(median)} mm grid, so slices ` +
    `past a gap are up to ${fmt(worst)} mm from their true position: find the missing files ` +
    'or re-export the series before measuring.'
  );
}

/** A sentence describing gantry tilt, or null when positions move along the normal only. */
function tiltWarning(
  slices: SliceGeometryInput[],
  order: number[],
  normal: Vec3,
  median: number,
): string | null {
  const tolerance = Math.max(0.01, 0.01 * median);
  let largest = 0;
  for (let n = 1; n < order.length; n++) {
    const delta = sub(slices[order[n]].position, slices[order[n - 1]].position);
    const inPlane = sub(delta, scale(normal, dot(delta, normal)));
    largest = Math.max(largest, norm(inPlane));
  }
  if (largest <= tolerance) return null;
  const degrees = (Math.atan2(largest, median) * 180) / Math.PI;
  return (
    `gantry tilt of about ${fmt(degrees)} degrees: each slice is shifted ${fmt(largest)} mm ` +
    'in-plane from the previous one. The affine is sheared to keep every voxel at its true ' +
    'place; tools that assume orthogonal voxel axes will misplace slices, so resample to an ' +
    'orthogonal grid (or correct the tilt with dcm2niix) before using such tools.'
  );
}
