/**
 * Brute-force references for the metric specs: slow, obvious code written independently of
 * src/metrics (no distance transform, no cropping), used only on small masks.
 */
import type { Vec3 } from '../../src/io/volume.js';

import { seededRandom } from '../helpers/random.js';

export { seededRandom };

/** Random blobby mask: a few random boxes, each voxel of them kept with probability `keep`. */
export function randomMask(shape: Vec3, random: () => number, boxes = 3, keep = 0.9): Uint8Array {
  const [nx, ny, nz] = shape;
  const mask = new Uint8Array(nx * ny * nz);
  for (let b = 0; b < boxes; b++) {
    const lo = shape.map((n) => Math.floor(random() * n));
    const hi = lo.map((l, axis) => Math.min(shape[axis], l + 1 + Math.floor(random() * 4)));
    for (let k = lo[2]; k < hi[2]; k++) {
      for (let j = lo[1]; j < hi[1]; j++) {
        for (let i = lo[0]; i < hi[0]; i++) if (random() < keep) mask[i + nx * (j + ny * k)] = 1;
      }
    }
  }
  return mask;
}

/** Voxel coordinates [i, j, k] of every surface voxel (6-neighbour rule, outside = background). */
export function bruteSurface(mask: ArrayLike<number>, shape: Vec3): Vec3[] {
  const [nx, ny, nz] = shape;
  const at = (i: number, j: number, k: number): number =>
    i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz ? 0 : mask[i + nx * (j + ny * k)];
  const points: Vec3[] = [];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if (!at(i, j, k)) continue;
        const steps: Vec3[] = [
          [1, 0, 0],
          [-1, 0, 0],
          [0, 1, 0],
          [0, -1, 0],
          [0, 0, 1],
          [0, 0, -1],
        ];
        if (steps.some(([di, dj, dk]) => !at(i + di, j + dj, k + dk))) points.push([i, j, k]);
      }
    }
  }
  return points;
}

/** Distance in mm from each point of `from` to its nearest point of `to`, by trying all. */
export function bruteDirected(from: Vec3[], to: Vec3[], spacingMm: Vec3): number[] {
  return from.map((p) => {
    let best = Infinity;
    for (const q of to) {
      const d = Math.hypot(
        (p[0] - q[0]) * spacingMm[0],
        (p[1] - q[1]) * spacingMm[1],
        (p[2] - q[2]) * spacingMm[2],
      );
      if (d < best) best = d;
    }
    return best;
  });
}

/** numpy.percentile(values, 100 * q) with the default linear method, written from its docs. */
export function numpyPercentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * q;
  const lower = sorted[Math.floor(h)];
  const upper = sorted[Math.ceil(h)];
  return lower + (h - Math.floor(h)) * (upper - lower);
}

/** HD95 by brute force, with the empty-mask rules of expected.json. */
export function bruteHd95(pred: Uint8Array, ref: Uint8Array, shape: Vec3, spacing: Vec3): number {
  const a = bruteSurface(pred, shape);
  const b = bruteSurface(ref, shape);
  if (a.length === 0 && b.length === 0) return 0;
  if (a.length === 0 || b.length === 0) return Infinity;
  return Math.max(
    numpyPercentile(bruteDirected(a, b, spacing), 0.95),
    numpyPercentile(bruteDirected(b, a, spacing), 0.95),
  );
}

/** Average symmetric surface distance by brute force (both directed sets pooled). */
export function bruteAsd(pred: Uint8Array, ref: Uint8Array, shape: Vec3, spacing: Vec3): number {
  const a = bruteSurface(pred, shape);
  const b = bruteSurface(ref, shape);
  if (a.length === 0 && b.length === 0) return 0;
  if (a.length === 0 || b.length === 0) return Infinity;
  const all = [...bruteDirected(a, b, spacing), ...bruteDirected(b, a, spacing)];
  return all.reduce((s, d) => s + d, 0) / all.length;
}
