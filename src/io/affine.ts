/**
 * Pure helpers for voxel-to-world affines (4x4 rows, RAS+ mm): axis codes, spacing, inversion,
 * NIfTI quaternions and axis-orientation transforms. Conventions follow nibabel (`aff2axcodes`,
 * `io_orientation`, `quaternion` handling in `Nifti1Header`) so that our numbers match it.
 */

import { ShapeError } from '../util/errors.js';
import type { Mat4, Vec3 } from './volume.js';

/** One of the six RAS+ direction letters. */
export type AxisCode = 'R' | 'L' | 'A' | 'P' | 'S' | 'I';

/** Where one voxel axis goes: the world axis (0 = x/R, 1 = y/A, 2 = z/S) and its sign. */
export interface AxisOrientation {
  /** World axis the voxel axis runs along: 0 (R-L), 1 (A-P), 2 (S-I). */
  worldAxis: number;
  /** +1 when the index increases toward R, A or S; -1 toward L, P or I. */
  sign: 1 | -1;
}

/** Quaternion form of an affine as stored in a NIfTI header (`qform`). */
export interface QuaternionForm {
  /** Quaternion components b, c, d (a is implied, non-negative). */
  b: number;
  c: number;
  d: number;
  /** +1 or -1: -1 when the voxel axes form a left-handed frame (stored in `pixdim[0]`). */
  qfac: 1 | -1;
  /** Voxel size in mm along i, j, k (positive). */
  pixdimMm: Vec3;
  /** World position of voxel (0, 0, 0) in mm. */
  offsetMm: Vec3;
}

const POSITIVE_CODES: AxisCode[] = ['R', 'A', 'S'];
const NEGATIVE_CODES: AxisCode[] = ['L', 'P', 'I'];

/** Returns the 4x4 identity. */
export function identity4(): Mat4 {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

/**
 * Multiplies two 4x4 matrices.
 *
 * @returns `a * b`.
 */
export function multiply4(a: Mat4, b: Mat4): Mat4 {
  const out = identity4();
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += a[r][k] * b[k][c];
      out[r][c] = sum;
    }
  }
  return out;
}

/**
 * Inverts a 4x4 matrix by Gauss-Jordan elimination with partial pivoting.
 *
 * @param m - The matrix; an affine's last row is `[0, 0, 0, 1]`.
 * @returns The inverse.
 * @throws ShapeError when the matrix is singular (for example a zero voxel size).
 */
export function invert4(m: Mat4): Mat4 {
  const a = m.map((row) => [...row]);
  const inv = identity4().map((row) => [...row]);
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let r = col + 1; r < 4; r++) {
      if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    }
    if (Math.abs(a[pivot][col]) < 1e-12) {
      throw new ShapeError('invert4(m): the matrix is singular; check that no voxel size is 0.');
    }
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [inv[col], inv[pivot]] = [inv[pivot], inv[col]];
    const p = a[col][col];
    for (let c = 0; c < 4; c++) {
      a[col][c] /= p;
      inv[col][c] /= p;
    }
    for (let r = 0; r < 4; r++) {
      if (r === col) continue;
      const f = a[r][col];
      if (f === 0) continue;
      for (let c = 0; c < 4; c++) {
        a[r][c] -= f * a[col][c];
        inv[r][c] -= f * inv[col][c];
      }
    }
  }
  return inv as Mat4;
}

/**
 * Maps a voxel index (may be fractional) to world coordinates.
 *
 * @param affine - Voxel-to-world affine, RAS+ mm.
 * @param ijk - Voxel index along i, j, k.
 * @returns RAS+ position in mm.
 */
export function voxelToWorld(affine: Mat4, ijk: Vec3): Vec3 {
  const out: Vec3 = [0, 0, 0];
  for (let r = 0; r < 3; r++) {
    out[r] = affine[r][0] * ijk[0] + affine[r][1] * ijk[1] + affine[r][2] * ijk[2] + affine[r][3];
  }
  return out;
}

/**
 * Maps a world position to a fractional voxel index.
 *
 * @param affine - Voxel-to-world affine, RAS+ mm.
 * @param xyz - RAS+ position in mm.
 * @returns Fractional voxel index along i, j, k (round it for the nearest voxel).
 * @throws ShapeError when the affine is singular.
 */
export function worldToVoxel(affine: Mat4, xyz: Vec3): Vec3 {
  return voxelToWorld(invert4(affine), xyz);
}

/**
 * Voxel size from an affine: the lengths of its first three columns.
 *
 * @returns Spacing in mm along i, j, k (always positive, or 0 for a degenerate column).
 */
export function spacingFromAffine(affine: Mat4): Vec3 {
  const out: Vec3 = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    out[c] = Math.hypot(affine[0][c], affine[1][c], affine[2][c]);
  }
  return out;
}

function det3(m: number[][]): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

function inverseTranspose3(m: number[][]): number[][] {
  const d = det3(m);
  const cof = [
    [
      m[1][1] * m[2][2] - m[1][2] * m[2][1],
      -(m[1][0] * m[2][2] - m[1][2] * m[2][0]),
      m[1][0] * m[2][1] - m[1][1] * m[2][0],
    ],
    [
      -(m[0][1] * m[2][2] - m[0][2] * m[2][1]),
      m[0][0] * m[2][2] - m[0][2] * m[2][0],
      -(m[0][0] * m[2][1] - m[0][1] * m[2][0]),
    ],
    [
      m[0][1] * m[1][2] - m[0][2] * m[1][1],
      -(m[0][0] * m[1][2] - m[0][2] * m[1][0]),
      m[0][0] * m[1][1] - m[0][1] * m[1][0],
    ],
  ];
  return cof.map((row) => row.map((v) => v / d));
}

/**
 * The rotation part of an affine made exactly orthogonal: the orthogonal factor of its polar
 * decomposition (the same matrix as `U V^T` of the SVD that nibabel's `io_orientation` uses).
 * Columns are first normalised to unit length; a zero column stays zero.
 */
function nearestOrthogonal(affine: Mat4): number[][] {
  const spacing = spacingFromAffine(affine);
  let m = [0, 1, 2].map((r) =>
    [0, 1, 2].map((c) => (spacing[c] > 0 ? affine[r][c] / spacing[c] : 0)),
  );
  if (Math.abs(det3(m)) < 1e-12) return m;
  // Newton iteration X <- (X + X^-T) / 2 converges quadratically to the orthogonal polar factor.
  for (let iter = 0; iter < 50; iter++) {
    const it = inverseTranspose3(m);
    const next = m.map((row, r) => row.map((v, c) => (v + it[r][c]) / 2));
    let change = 0;
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) change = Math.max(change, Math.abs(next[r][c] - m[r][c]));
    }
    m = next;
    if (change < 1e-14) break;
  }
  return m;
}

/**
 * For each voxel axis, the world axis it runs closest to and its direction (nibabel
 * `io_orientation`): the largest entry of the orthogonalised rotation is assigned first, its row
 * and column are removed, and so on.
 *
 * @param affine - Voxel-to-world affine, RAS+ mm.
 * @returns Three orientations, one per voxel axis i, j, k.
 * @throws ShapeError when a voxel axis has no direction (zero column).
 */
export function axisOrientations(
  affine: Mat4,
): [AxisOrientation, AxisOrientation, AxisOrientation] {
  const r = nearestOrthogonal(affine).map((row) => [...row]);
  const result: (AxisOrientation | undefined)[] = [undefined, undefined, undefined];
  for (let step = 0; step < 3; step++) {
    let best = -1;
    let bestRow = 0;
    let bestCol = 0;
    for (let row = 0; row < 3; row++) {
      for (let col = 0; col < 3; col++) {
        if (Math.abs(r[row][col]) > best) {
          best = Math.abs(r[row][col]);
          bestRow = row;
          bestCol = col;
        }
      }
    }
    if (best <= 1e-8) break;
    result[bestCol] = { worldAxis: bestRow, sign: r[bestRow][bestCol] > 0 ? 1 : -1 };
    for (let k = 0; k < 3; k++) {
      r[bestRow][k] = 0;
      r[k][bestCol] = 0;
    }
  }
  if (result.some((o) => o === undefined)) {
    throw new ShapeError('axisOrientations(affine): a voxel axis has no direction (zero column).');
  }
  return result as [AxisOrientation, AxisOrientation, AxisOrientation];
}

/**
 * Axis codes of an affine, as nibabel `aff2axcodes`: for each voxel axis the letter toward which
 * its index increases.
 *
 * @param affine - Voxel-to-world affine, RAS+ mm.
 * @returns Three letters, e.g. `['L', 'P', 'S']` for a DICOM-like CT.
 */
export function axcodes(affine: Mat4): [AxisCode, AxisCode, AxisCode] {
  const orientations = axisOrientations(affine);
  return orientations.map((o) =>
    o.sign > 0 ? POSITIVE_CODES[o.worldAxis] : NEGATIVE_CODES[o.worldAxis],
  ) as [AxisCode, AxisCode, AxisCode];
}

/**
 * The affine of a NIfTI qform (NIfTI-1 standard, method 2).
 *
 * @param q - Quaternion b, c, d; qfac; pixdim (mm); offset (mm).
 * @returns Voxel-to-world affine, RAS+ mm.
 */
export function quaternionToAffine(q: QuaternionForm): Mat4 {
  const { b, c, d, qfac, pixdimMm, offsetMm } = q;
  const sq = 1 - (b * b + c * c + d * d);
  let a = 0;
  let [qb, qc, qd] = [b, c, d];
  if (sq > 1e-7) {
    a = Math.sqrt(sq);
  } else {
    // A rotation of 180 degrees: a is 0 and (b, c, d) is normalised.
    const n = Math.hypot(b, c, d);
    [qb, qc, qd] = [b / n, c / n, d / n];
  }
  const rot = [
    [a * a + qb * qb - qc * qc - qd * qd, 2 * (qb * qc - a * qd), 2 * (qb * qd + a * qc)],
    [2 * (qb * qc + a * qd), a * a + qc * qc - qb * qb - qd * qd, 2 * (qc * qd - a * qb)],
    [2 * (qb * qd - a * qc), 2 * (qc * qd + a * qb), a * a + qd * qd - qc * qc - qb * qb],
  ];
  const scale = [pixdimMm[0], pixdimMm[1], pixdimMm[2] * qfac];
  const out = identity4();
  for (let r = 0; r < 3; r++) {
    for (let col = 0; col < 3; col++) out[r][col] = rot[r][col] * scale[col];
    out[r][3] = offsetMm[r];
  }
  return out;
}

/**
 * The NIfTI qform of an affine. The rotation is taken from the affine's orthogonalised direction
 * matrix, so a sheared affine gets its nearest rigid approximation (its sform stays exact).
 *
 * @param affine - Voxel-to-world affine, RAS+ mm.
 * @returns Quaternion parameters with `a >= 0`.
 * @throws ShapeError when a voxel axis has zero length.
 */
export function affineToQuaternion(affine: Mat4): QuaternionForm {
  const pixdimMm = spacingFromAffine(affine);
  if (pixdimMm.some((v) => v === 0)) {
    throw new ShapeError('affineToQuaternion(affine): a voxel axis has zero length.');
  }
  const r = nearestOrthogonal(affine);
  let qfac: 1 | -1 = 1;
  if (det3(r) < 0) {
    qfac = -1;
    for (let row = 0; row < 3; row++) r[row][2] = -r[row][2];
  }
  // Quaternion of a proper rotation, choosing the numerically largest component first.
  const trace = r[0][0] + r[1][1] + r[2][2];
  let a: number;
  let b: number;
  let c: number;
  let d: number;
  if (trace > 0) {
    const s = 2 * Math.sqrt(1 + trace);
    a = s / 4;
    b = (r[2][1] - r[1][2]) / s;
    c = (r[0][2] - r[2][0]) / s;
    d = (r[1][0] - r[0][1]) / s;
  } else if (r[0][0] > r[1][1] && r[0][0] > r[2][2]) {
    const s = 2 * Math.sqrt(1 + r[0][0] - r[1][1] - r[2][2]);
    a = (r[2][1] - r[1][2]) / s;
    b = s / 4;
    c = (r[0][1] + r[1][0]) / s;
    d = (r[0][2] + r[2][0]) / s;
  } else if (r[1][1] > r[2][2]) {
    const s = 2 * Math.sqrt(1 + r[1][1] - r[0][0] - r[2][2]);
    a = (r[0][2] - r[2][0]) / s;
    b = (r[0][1] + r[1][0]) / s;
    c = s / 4;
    d = (r[1][2] + r[2][1]) / s;
  } else {
    const s = 2 * Math.sqrt(1 + r[2][2] - r[0][0] - r[1][1]);
    a = (r[1][0] - r[0][1]) / s;
    b = (r[0][2] + r[2][0]) / s;
    c = (r[1][2] + r[2][1]) / s;
    d = s / 4;
  }
  if (a < 0) [b, c, d] = [-b, -c, -d];
  return {
    b,
    c,
    d,
    qfac,
    pixdimMm,
    offsetMm: [affine[0][3], affine[1][3], affine[2][3]],
  };
}

/**
 * The transform that reorders and flips voxel axes so that the grid runs along R, A, S.
 *
 * @param affine - Voxel-to-world affine of the input grid, RAS+ mm.
 * @param shape - Input voxel counts along i, j, k.
 * @returns `sourceAxis[n]`: the input axis that becomes output axis n; `flip[n]`: whether it is
 *   reversed; `shape`: the output voxel counts; `newToOld`: the 4x4 map from output to input
 *   voxel indices (so the output affine is `affine * newToOld`).
 */
export function rasTransform(
  affine: Mat4,
  shape: Vec3,
): { sourceAxis: Vec3; flip: [boolean, boolean, boolean]; shape: Vec3; newToOld: Mat4 } {
  const orientations = axisOrientations(affine);
  const sourceAxis: Vec3 = [0, 0, 0];
  const flip: [boolean, boolean, boolean] = [false, false, false];
  orientations.forEach((o, inAxis) => {
    sourceAxis[o.worldAxis] = inAxis;
    flip[o.worldAxis] = o.sign < 0;
  });
  const outShape: Vec3 = [shape[sourceAxis[0]], shape[sourceAxis[1]], shape[sourceAxis[2]]];
  const newToOld: Mat4 = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  for (let n = 0; n < 3; n++) {
    const old = sourceAxis[n];
    newToOld[old][n] = flip[n] ? -1 : 1;
    newToOld[old][3] = flip[n] ? outShape[n] - 1 : 0;
  }
  return { sourceAxis, flip, shape: outShape, newToOld };
}

/** Grid facts along the world axes R, A, S of an axis-aligned grid. */
export interface WorldGrid {
  /** Voxel count along R, A, S. */
  shape: Vec3;
  /** Voxel size along R, A, S in mm. */
  spacingMm: Vec3;
  /** Lowest and highest voxel-centre coordinate along R, A, S in mm. */
  bboxMm: [[number, number], [number, number], [number, number]];
}

/**
 * Shape, spacing and voxel-centre bounding box along R, A, S, independent of voxel order.
 *
 * @param affine - Voxel-to-world affine, RAS+ mm.
 * @param shape - Voxel counts along i, j, k.
 * @param toleranceMm - Largest off-axis component (per voxel step) still called axis-aligned.
 * @returns The world grid, or `undefined` when the grid is oblique.
 */
export function worldGrid(affine: Mat4, shape: Vec3, toleranceMm = 1e-3): WorldGrid | undefined {
  const orientations = axisOrientations(affine);
  const out: WorldGrid = {
    shape: [0, 0, 0],
    spacingMm: [0, 0, 0],
    bboxMm: [
      [0, 0],
      [0, 0],
      [0, 0],
    ],
  };
  for (let axis = 0; axis < 3; axis++) {
    for (let r = 0; r < 3; r++) {
      if (r !== orientations[axis].worldAxis && Math.abs(affine[r][axis]) > toleranceMm) {
        return undefined;
      }
    }
  }
  const first = voxelToWorld(affine, [0, 0, 0]);
  const last = voxelToWorld(affine, [shape[0] - 1, shape[1] - 1, shape[2] - 1]);
  orientations.forEach((o, axis) => {
    const w = o.worldAxis;
    out.shape[w] = shape[axis];
    out.spacingMm[w] = Math.abs(affine[w][axis]);
    out.bboxMm[w] = [Math.min(first[w], last[w]), Math.max(first[w], last[w])];
  });
  return out;
}
