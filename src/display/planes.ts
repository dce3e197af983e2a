/**
 * Plane geometry of the slice views, pure and shared by the PNG fallback and the renderers:
 * which voxel axes a plane shows, which way they run on screen, and how to cut a slice.
 * Screen convention (radiological): axial and coronal show the patient's right on the left;
 * axial has anterior at the top; coronal and sagittal have superior at the top; sagittal has
 * anterior on the left.
 */
import type { Mat4, Vec3 } from '../io/volume.js';
import type { AxisCode, AxisCodes } from './payload-types.js';

/** The three orthogonal planes. */
export type PlaneName = 'axial' | 'coronal' | 'sagittal';

/** Every plane, in the order the views show them. */
export const PLANES: readonly PlaneName[] = ['axial', 'coronal', 'sagittal'];

/** How one plane maps voxel axes to screen columns and rows. */
export interface PlaneGeometry {
  /** Plane name. */
  plane: PlaneName;
  /** Voxel axis (0 = i, 1 = j, 2 = k) across slices. */
  normalAxis: number;
  /** Voxel axis along screen columns (left to right). */
  colAxis: number;
  /** Voxel axis along screen rows (top to bottom). */
  rowAxis: number;
  /** True when column 0 is the last voxel along `colAxis`. */
  flipCol: boolean;
  /** True when row 0 is the last voxel along `rowAxis`. */
  flipRow: boolean;
  /** Slice width in voxels (columns). */
  width: number;
  /** Slice height in voxels (rows). */
  height: number;
  /** Number of slices along `normalAxis`. */
  depth: number;
  /** Width of one screen column in mm. */
  pixelWidthMm: number;
  /** Height of one screen row in mm. */
  pixelHeightMm: number;
}

const OPPOSITE: Record<AxisCode, AxisCode> = { R: 'L', L: 'R', A: 'P', P: 'A', S: 'I', I: 'S' };
const POSITIVE: AxisCode[] = ['R', 'A', 'S'];

/**
 * Nearest world axis of each voxel axis (as nibabel's `aff2axcodes`); for oblique affines the
 * largest direction cosines win, each world axis used once.
 *
 * @param affine - Voxel-to-world transform, RAS+ mm, rows.
 * @returns Axis letters for i, j, k, e.g. `['L', 'P', 'S']` for a DICOM-like LPS grid.
 */
export function axisCodesOf(affine: Mat4): AxisCodes {
  const used = [false, false, false];
  const codes: AxisCode[] = ['R', 'A', 'S'];
  // Greedy on the largest absolute cosine so that oblique grids still get three distinct axes.
  const pairs: { axis: number; world: number; weight: number }[] = [];
  for (let axis = 0; axis < 3; axis++) {
    const norm = Math.hypot(affine[0][axis], affine[1][axis], affine[2][axis]) || 1;
    for (let world = 0; world < 3; world++) {
      pairs.push({ axis, world, weight: Math.abs(affine[world][axis]) / norm });
    }
  }
  pairs.sort((a, b) => b.weight - a.weight || a.axis - b.axis || a.world - b.world);
  const done = [false, false, false];
  for (const { axis, world } of pairs) {
    if (done[axis] || used[world]) continue;
    done[axis] = true;
    used[world] = true;
    const positive = POSITIVE[world];
    codes[axis] = affine[world][axis] >= 0 ? positive : OPPOSITE[positive];
  }
  return codes as AxisCodes;
}

function axisOf(codes: AxisCodes, letters: [AxisCode, AxisCode]): number {
  return codes.findIndex((code) => code === letters[0] || code === letters[1]);
}

/**
 * Geometry of one plane for a grid.
 *
 * @param plane - Plane to show.
 * @param shape - Voxel counts along i, j, k.
 * @param spacingMm - Voxel size along i, j, k in mm.
 * @param codes - Axis letters from `axisCodesOf`.
 * @returns Axes, flips, sizes in voxels and pixel size in mm.
 */
export function planeGeometry(
  plane: PlaneName,
  shape: Vec3,
  spacingMm: Vec3,
  codes: AxisCodes,
): PlaneGeometry {
  const lr = axisOf(codes, ['R', 'L']);
  const ap = axisOf(codes, ['A', 'P']);
  const si = axisOf(codes, ['S', 'I']);
  let normalAxis: number;
  let colAxis: number;
  let rowAxis: number;
  let flipCol: boolean;
  if (plane === 'axial') {
    [normalAxis, colAxis, rowAxis] = [si, lr, ap];
    flipCol = codes[lr] === 'R';
  } else if (plane === 'coronal') {
    [normalAxis, colAxis, rowAxis] = [ap, lr, si];
    flipCol = codes[lr] === 'R';
  } else {
    [normalAxis, colAxis, rowAxis] = [lr, ap, si];
    flipCol = codes[ap] === 'A';
  }
  // Screen rows grow downwards: towards posterior (axial) or inferior (coronal, sagittal).
  const flipRow = plane === 'axial' ? codes[ap] === 'A' : codes[si] === 'S';
  return {
    plane,
    normalAxis,
    colAxis,
    rowAxis,
    flipCol,
    flipRow,
    width: shape[colAxis],
    height: shape[rowAxis],
    depth: shape[normalAxis],
    pixelWidthMm: spacingMm[colAxis],
    pixelHeightMm: spacingMm[rowAxis],
  };
}

/**
 * Voxel index under a screen pixel of a slice.
 *
 * @param geometry - From `planeGeometry`.
 * @param col - Column in voxels, 0..width-1.
 * @param row - Row in voxels, 0..height-1.
 * @param sliceIndex - Slice along the normal axis, 0..depth-1.
 * @returns `[i, j, k]` in voxels.
 */
export function voxelOfPixel(
  geometry: PlaneGeometry,
  col: number,
  row: number,
  sliceIndex: number,
): Vec3 {
  const ijk: Vec3 = [0, 0, 0];
  ijk[geometry.colAxis] = geometry.flipCol ? geometry.width - 1 - col : col;
  ijk[geometry.rowAxis] = geometry.flipRow ? geometry.height - 1 - row : row;
  ijk[geometry.normalAxis] = sliceIndex;
  return ijk;
}

/**
 * Screen pixel of a voxel in a plane (the inverse of `voxelOfPixel`).
 *
 * @returns `[col, row, sliceIndex]` in voxels.
 */
export function pixelOfVoxel(geometry: PlaneGeometry, ijk: Vec3): Vec3 {
  const c = ijk[geometry.colAxis];
  const r = ijk[geometry.rowAxis];
  return [
    geometry.flipCol ? geometry.width - 1 - c : c,
    geometry.flipRow ? geometry.height - 1 - r : r,
    ijk[geometry.normalAxis],
  ];
}

/**
 * Cuts one slice out of a volume array into screen order (row-major, `width * height`).
 *
 * @param data - Values on the grid, x fastest (`data[i + nx * (j + ny * k)]`).
 * @param shape - Voxel counts along i, j, k.
 * @param geometry - From `planeGeometry` for the same shape.
 * @param sliceIndex - Slice along the normal axis, clamped to 0..depth-1.
 * @param out - Optional output of length `width * height` to reuse.
 * @returns The slice, values copied as they are.
 */
export function extractSlice<T extends Uint8Array | Int16Array | Float32Array>(
  data: T,
  shape: Vec3,
  geometry: PlaneGeometry,
  sliceIndex: number,
  out: T,
): T {
  const strides = [1, shape[0], shape[0] * shape[1]];
  const slice = Math.min(geometry.depth - 1, Math.max(0, Math.round(sliceIndex)));
  const base = slice * strides[geometry.normalAxis];
  const colStride = strides[geometry.colAxis];
  const rowStride = strides[geometry.rowAxis];
  const { width, height } = geometry;
  for (let row = 0; row < height; row++) {
    const r = geometry.flipRow ? height - 1 - row : row;
    const rowBase = base + r * rowStride;
    for (let col = 0; col < width; col++) {
      const c = geometry.flipCol ? width - 1 - col : col;
      out[row * width + col] = data[rowBase + c * colStride];
    }
  }
  return out;
}

/**
 * World position of a voxel.
 *
 * @param affine - Voxel-to-world transform, RAS+ mm.
 * @param ijk - Voxel index (fractional allowed).
 * @returns `[x, y, z]` in RAS+ mm.
 */
export function worldOfVoxel(affine: Mat4, ijk: Vec3): Vec3 {
  const [i, j, k] = ijk;
  return [0, 1, 2].map(
    (row) => affine[row][0] * i + affine[row][1] * j + affine[row][2] * k + affine[row][3],
  ) as Vec3;
}
