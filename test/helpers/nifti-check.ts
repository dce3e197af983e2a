/**
 * Independent checks of NIfTI files for the tests: a minimal raw NIfTI-1/2 voxel reader (no
 * scaling, no geometry logic of ours) and world-grid facts computed directly from an affine.
 * Kept separate from `src/` so that expectations do not reuse the code under test.
 */

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/**
 * The value stored on disk at voxel (i, j, k) of the first volume, before any scaling: read
 * straight from the bytes (NIfTI-1 or -2, either byte order, .nii or .nii.gz).
 */
export function rawStoredValue(path: string, ijk: [number, number, number]): number {
  let bytes = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  let size = view.getInt32(0, true);
  if (size !== 348 && size !== 540) {
    le = false;
    size = view.getInt32(0, false);
  }
  const v2 = size === 540;
  const dim = (n: number): number =>
    v2 ? Number(view.getBigInt64(16 + 8 * n, le)) : view.getInt16(40 + 2 * n, le);
  const datatype = view.getInt16(v2 ? 12 : 70, le);
  const voxOffset = v2 ? Number(view.getBigInt64(168, le)) : view.getFloat32(108, le);
  const index = ijk[0] + dim(1) * (ijk[1] + dim(2) * ijk[2]);
  const readers: Record<number, [number, (at: number) => number]> = {
    2: [1, (at) => view.getUint8(at)],
    256: [1, (at) => view.getInt8(at)],
    4: [2, (at) => view.getInt16(at, le)],
    512: [2, (at) => view.getUint16(at, le)],
    8: [4, (at) => view.getInt32(at, le)],
    768: [4, (at) => view.getUint32(at, le)],
    16: [4, (at) => view.getFloat32(at, le)],
    64: [8, (at) => view.getFloat64(at, le)],
  };
  const [width, read] = readers[datatype];
  return read(voxOffset + index * width);
}

type Mat = number[][];

/** For each voxel axis, the world axis (0 R, 1 A, 2 S) of its largest direction component. */
export function dominantWorldAxes(affine: Mat): number[] {
  return [0, 1, 2].map((c) => {
    const col = [0, 1, 2].map((r) => Math.abs(affine[r][c]));
    return col.indexOf(Math.max(...col));
  });
}

/** Axis codes by the sign of each column's dominant component (valid for near-aligned grids). */
export function simpleAxcodes(affine: Mat): string[] {
  return dominantWorldAxes(affine).map((w, c) => (affine[w][c] > 0 ? 'RAS'[w] : 'LPI'[w]));
}

/** World position of a voxel index. */
export function toWorld(affine: Mat, ijk: number[]): number[] {
  return [0, 1, 2].map(
    (r) => affine[r][0] * ijk[0] + affine[r][1] * ijk[1] + affine[r][2] * ijk[2] + affine[r][3],
  );
}

/** Shape, spacing and voxel-centre bbox along R, A, S of an axis-aligned grid. */
export function worldFacts(
  affine: Mat,
  shape: number[],
): { shape: number[]; spacing: number[]; bbox: number[][] } {
  const axes = dominantWorldAxes(affine);
  const out = { shape: [0, 0, 0], spacing: [0, 0, 0], bbox: [[], [], []] as number[][] };
  const a = toWorld(affine, [0, 0, 0]);
  const b = toWorld(affine, [shape[0] - 1, shape[1] - 1, shape[2] - 1]);
  axes.forEach((w, c) => {
    out.shape[w] = shape[c];
    out.spacing[w] = Math.hypot(affine[0][c], affine[1][c], affine[2][c]);
  });
  for (let w = 0; w < 3; w++) out.bbox[w] = [Math.min(a[w], b[w]), Math.max(a[w], b[w])];
  return out;
}

/** Solves `affine * [i, j, k, 1] = xyz` for (i, j, k) by Cramer's rule. */
export function toVoxel(affine: Mat, xyz: number[]): number[] {
  const m = [0, 1, 2].map((r) => [affine[r][0], affine[r][1], affine[r][2]]);
  const rhs = [0, 1, 2].map((r) => xyz[r] - affine[r][3]);
  const det = (x: Mat): number =>
    x[0][0] * (x[1][1] * x[2][2] - x[1][2] * x[2][1]) -
    x[0][1] * (x[1][0] * x[2][2] - x[1][2] * x[2][0]) +
    x[0][2] * (x[1][0] * x[2][1] - x[1][1] * x[2][0]);
  const d = det(m);
  return [0, 1, 2].map(
    (c) => det(m.map((row, r) => row.map((v, cc) => (cc === c ? rhs[r] : v)))) / d,
  );
}

/** Value of the voxel nearest to a world point; throws when the point is outside the grid. */
export function valueAtWorld(
  volume: { data: ArrayLike<number>; shape: number[]; affine: Mat },
  ras: number[],
): number {
  const ijk = toVoxel(volume.affine, ras).map((v) => Math.round(v));
  const [nx, ny, nz] = volume.shape;
  if (ijk.some((v, a) => v < 0 || v >= [nx, ny, nz][a])) {
    throw new Error(`world point [${ras.join(', ')}] maps to voxel [${ijk.join(', ')}], outside`);
  }
  return volume.data[ijk[0] + nx * (ijk[1] + ny * ijk[2])];
}
