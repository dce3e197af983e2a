/**
 * Mask post-processing: keep the largest connected component, fill enclosed holes. Pure code on
 * typed arrays in the volume's order (x fastest), no TensorFlow.js.
 */

import type { Vec3 } from '../io/volume.js';

/** Neighbourhood of connected-component labelling. */
export type Connectivity = 6 | 26;

function neighbourOffsets(connectivity: Connectivity): Vec3[] {
  const offsets: Vec3[] = [];
  for (let dz = -1; dz <= 1; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const steps = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (steps === 0 || (connectivity === 6 && steps > 1)) continue;
        offsets.push([dx, dy, dz]);
      }
    }
  }
  return offsets;
}

/**
 * Labels the connected components of the voxels where `member(i)` is true.
 *
 * @param shape - `[nx, ny, nz]` voxel counts, x fastest.
 * @returns Component index per voxel (0 = not a member, 1.. = component) and component sizes
 *   (`sizes[k]` voxels in component k; `sizes[0]` unused), and which components touch the border.
 */
export function labelComponents(
  shape: Vec3,
  member: (index: number) => boolean,
  connectivity: Connectivity = 26,
): { labels: Int32Array; sizes: number[]; touchesBorder: boolean[] } {
  const [nx, ny, nz] = shape;
  const labels = new Int32Array(nx * ny * nz);
  const sizes = [0];
  const touchesBorder = [false];
  const offsets = neighbourOffsets(connectivity);
  const queue = new Int32Array(nx * ny * nz);
  for (let seed = 0; seed < labels.length; seed++) {
    if (labels[seed] !== 0 || !member(seed)) continue;
    const label = sizes.length;
    let head = 0;
    let tail = 0;
    let border = false;
    queue[tail++] = seed;
    labels[seed] = label;
    while (head < tail) {
      const index = queue[head++]!;
      const x = index % nx;
      const y = Math.floor(index / nx) % ny;
      const z = Math.floor(index / (nx * ny));
      if (x === 0 || y === 0 || z === 0 || x === nx - 1 || y === ny - 1 || z === nz - 1)
        border = true;
      for (const [dx, dy, dz] of offsets) {
        const xx = x + dx;
        const yy = y + dy;
        const zz = z + dz;
        if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
        const next = xx + nx * (yy + ny * zz);
        if (labels[next] !== 0 || !member(next)) continue;
        labels[next] = label;
        queue[tail++] = next;
      }
    }
    sizes.push(tail);
    touchesBorder.push(border);
  }
  return { labels, sizes, touchesBorder };
}

/**
 * Keeps only the largest 26-connected foreground component of a binary mask (in place).
 *
 * @param mask - Binary mask, x fastest, non-zero = foreground.
 * @param shape - `[nx, ny, nz]` voxel counts.
 * @returns The same array, for chaining.
 */
export function keepLargestComponent(mask: Uint8Array, shape: Vec3): Uint8Array {
  const { labels, sizes } = labelComponents(shape, (i) => mask[i] !== 0, 26);
  if (sizes.length <= 2) return mask;
  let largest = 1;
  for (let k = 2; k < sizes.length; k++) if (sizes[k]! > sizes[largest]!) largest = k;
  for (let i = 0; i < mask.length; i++) mask[i] = labels[i] === largest ? 1 : 0;
  return mask;
}

/**
 * Fills holes: background regions (6-connected) that do not reach the volume border become
 * foreground (in place).
 *
 * @param mask - Binary mask, x fastest, non-zero = foreground.
 * @param shape - `[nx, ny, nz]` voxel counts.
 * @returns The same array, for chaining.
 */
export function fillHoles(mask: Uint8Array, shape: Vec3): Uint8Array {
  const { labels, touchesBorder } = labelComponents(shape, (i) => mask[i] === 0, 6);
  for (let i = 0; i < mask.length; i++) {
    const label = labels[i]!;
    if (label !== 0 && !touchesBorder[label]) mask[i] = 1;
  }
  return mask;
}
