import type { Vec3, Volume } from '../io/volume.js';
import { InputFileError, ShapeError } from '../util/errors.js';
import { countConfusion, type ConfusionCounts } from './confusion-counts.js';
import { overlapMetrics, type OverlapMetrics } from './overlap-metrics.js';
import { surfaceDistances } from './surface-distances.js';

/** Every metric `panknet evaluate` reports for one case. */
export interface SegmentationMetrics extends OverlapMetrics {
  /** 95th-percentile Hausdorff distance in mm (see `surfaceDistances`); may be `Infinity`. */
  hd95Mm: number;
  /** Average symmetric surface distance in mm; may be `Infinity`. */
  asdMm: number;
  /** Volume of the predicted foreground in mL. */
  predVolumeMl: number;
  /** Volume of the reference foreground in mL. */
  refVolumeMl: number;
  /** The voxel counts behind the overlap scores. */
  counts: ConfusionCounts;
}

/**
 * Computes overlap scores, surface distances and organ volumes of a binary prediction against
 * a binary reference on the same voxel grid.
 *
 * @param pred - Prediction flattened x fastest, length `nx * ny * nz`; non-zero = foreground.
 * @param ref - Reference, same grid; non-zero = foreground (pick a label with `labelMask`).
 * @param shape - Voxel counts `[nx, ny, nz]`.
 * @param spacingMm - Voxel size along i, j, k in mm.
 * @returns All metrics of one case.
 * @throws ShapeError if a length does not match the shape.
 */
export function evaluateMasks(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  shape: Vec3,
  spacingMm: Vec3,
): SegmentationMetrics {
  const expected = shape[0] * shape[1] * shape[2];
  if (pred.length !== expected || ref.length !== expected) {
    throw new ShapeError(
      `evaluateMasks(pred, ref, shape): pred has ${pred.length} voxels and ref ${ref.length}, ` +
        `shape [${shape.join(', ')}] needs ${expected}; pass both masks on that grid.`,
    );
  }

  const counts = countConfusion(pred, ref);
  const distances = surfaceDistances(pred, ref, shape, spacingMm);
  const voxelMl = (spacingMm[0] * spacingMm[1] * spacingMm[2]) / 1000;
  return {
    ...overlapMetrics(counts),
    hd95Mm: distances.hd95Mm,
    asdMm: distances.asdMm,
    predVolumeMl: (counts.tp + counts.fp) * voxelMl,
    refVolumeMl: (counts.tp + counts.fn) * voxelMl,
    counts,
  };
}

/**
 * Binary mask of a volume: voxels equal to `label`, or every non-zero voxel when `label` is
 * undefined. Multi-organ label maps need the label (TotalSegmentator: pancreas = 7).
 *
 * @param data - Voxel values, any typed array.
 * @param label - The label to select, or undefined for "non-zero".
 * @returns Uint8Array of the same length, 1 on foreground.
 */
export function labelMask(data: ArrayLike<number>, label?: number): Uint8Array {
  const out = new Uint8Array(data.length);
  if (label === undefined) {
    for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0 ? 1 : 0;
  } else {
    for (let i = 0; i < data.length; i++) out[i] = data[i] === label ? 1 : 0;
  }
  return out;
}

/** Largest affine difference, in mm, that still counts as the same grid. */
export const GRID_TOLERANCE_MM = 1e-3;

/**
 * Checks that a prediction and a reference share one voxel grid: the same shape and affines
 * equal within `GRID_TOLERANCE_MM` (1e-3 mm) element by element. Metrics are never computed
 * across grids, and nothing is resampled behind the user's back.
 *
 * @param pred - Prediction volume (`meta.sourceFile` names it in the message).
 * @param ref - Reference volume.
 * @throws InputFileError naming both files, what differs, and how to fix it.
 */
export function assertSameGrid(pred: Volume, ref: Volume): void {
  const predName = pred.meta.sourceFile ?? 'prediction';
  const refName = ref.meta.sourceFile ?? 'reference';
  const fix =
    'Write the prediction on the reference grid (predict on the image the reference ' +
    'belongs to), or resample it there with nearest-neighbour interpolation.';
  if (pred.shape.some((n, axis) => n !== ref.shape[axis])) {
    throw new InputFileError(
      predName,
      `shape [${pred.shape.join(', ')}] differs from reference ${refName} ` +
        `shape [${ref.shape.join(', ')}]. ${fix}`,
    );
  }

  let worst = 0;
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      worst = Math.max(worst, Math.abs(pred.affine[r][c] - ref.affine[r][c]));
    }
  }
  if (!(worst <= GRID_TOLERANCE_MM)) {
    throw new InputFileError(
      predName,
      `affine differs from reference ${refName} by up to ${worst.toPrecision(4)} mm ` +
        `(tolerance ${GRID_TOLERANCE_MM} mm): the masks lie on different voxel grids. ${fix}`,
    );
  }
}
