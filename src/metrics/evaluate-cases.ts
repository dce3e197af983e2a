import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { readNifti } from '../io/read-nifti.js';
import { InputFileError } from '../util/errors.js';
import { log } from '../util/log.js';
import { assertSameGrid, evaluateMasks, labelMask } from './segmentation-metrics.js';
import type { SegmentationMetrics } from './segmentation-metrics.js';

/** One prediction file and the reference it is scored against. */
export interface CasePair {
  /** Case name: the prediction's file name without `.nii` / `.nii.gz`. */
  id: string;
  /** Prediction file (NIfTI); any non-zero voxel is foreground. */
  pred: string;
  /** Reference file (NIfTI): a binary mask or a label map. */
  ref: string;
}

/** Pairs found in two folders, and the files that have no partner. */
export interface CasePairing {
  /** Pairs, sorted by id. */
  pairs: CasePair[];
  /** Prediction files without a reference of the same case name. */
  unpairedPred: string[];
  /** Reference files without a prediction of the same case name. */
  unpairedRef: string[];
}

/** Metrics of one case, with what a user should know about how they were computed. */
export interface CaseResult extends SegmentationMetrics {
  /** Case name. */
  id: string;
  /** Prediction file. */
  pred: string;
  /** Reference file. */
  ref: string;
  /** One sentence each: infinite distances, absent labels, probability-like predictions. */
  notes: string[];
}

/** Options of `evaluateCase`. */
export interface EvaluateCaseOptions {
  /**
   * Reference label that is the organ (e.g. 7 = pancreas in TotalSegmentator label maps);
   * default: every non-zero reference voxel.
   */
  label?: number;
}

const NIFTI_NAME = /\.nii(\.gz)?$/i;

/**
 * Case name of a file: its base name without `.nii` or `.nii.gz`.
 *
 * @param path - A file path.
 * @returns E.g. `pancreas_001` for `/a/pancreas_001.nii.gz`.
 */
export function caseId(path: string): string {
  return basename(path).replace(NIFTI_NAME, '');
}

/**
 * Pairs predictions with references: two files make one pair; two folders are paired by case
 * name (`x.nii` pairs with `x.nii.gz`), and files without a partner are listed, not dropped
 * silently.
 *
 * @param pred - A prediction file, or a folder of them.
 * @param ref - A reference file, or a folder of them.
 * @returns The pairs and the unpaired files.
 * @throws InputFileError when a path is missing, a file is paired with a folder, a folder holds
 *   no NIfTI file or one case name twice, or no pair is found.
 */
export async function pairCaseFiles(pred: string, ref: string): Promise<CasePairing> {
  const predIsDir = await isDirectory(pred);
  const refIsDir = await isDirectory(ref);
  if (!predIsDir && !refIsDir) {
    return { pairs: [{ id: caseId(pred), pred, ref }], unpairedPred: [], unpairedRef: [] };
  }
  if (predIsDir !== refIsDir) {
    const folder = predIsDir ? pred : ref;
    const file = predIsDir ? ref : pred;
    throw new InputFileError(
      folder,
      `is a folder but ${file} is a file. Pass two files, or two folders whose NIfTI files ` +
        'are paired by name.',
    );
  }

  const preds = await niftiFilesByCase(pred);
  const refs = await niftiFilesByCase(ref);
  const pairs: CasePair[] = [];
  for (const [id, file] of preds) {
    const partner = refs.get(id);
    if (partner !== undefined) pairs.push({ id, pred: file, ref: partner });
  }
  const unpairedPred = [...preds].filter(([id]) => !refs.has(id)).map(([, file]) => file);
  const unpairedRef = [...refs].filter(([id]) => !preds.has(id)).map(([, file]) => file);
  if (pairs.length === 0) {
    throw new InputFileError(
      pred,
      `no file name matches one in ${ref} (${preds.size} predictions, ${refs.size} references). ` +
        'Name each prediction like its reference (case.nii.gz in both folders).',
    );
  }
  pairs.sort((a, b) => a.id.localeCompare(b.id));
  return { pairs, unpairedPred: unpairedPred.sort(), unpairedRef: unpairedRef.sort() };
}

async function isDirectory(path: string): Promise<boolean> {
  const info = await stat(path).catch((cause: unknown) => {
    throw new InputFileError(path, 'no such file or folder. Check the path.', { cause });
  });
  return info.isDirectory();
}

async function niftiFilesByCase(folder: string): Promise<Map<string, string>> {
  const names = (await readdir(folder)).filter((n) => NIFTI_NAME.test(n) && !n.startsWith('.'));
  const byCase = new Map<string, string>();
  for (const name of names.sort()) {
    const id = caseId(name);
    const seen = byCase.get(id);
    if (seen !== undefined) {
      throw new InputFileError(
        join(folder, name),
        `has the same case name "${id}" as ${seen}. Keep one of them in the folder.`,
      );
    }
    byCase.set(id, join(folder, name));
  }
  if (byCase.size === 0) {
    throw new InputFileError(
      folder,
      'holds no .nii or .nii.gz file. Point to the folder of NIfTI masks, or pass one file.',
    );
  }
  return byCase;
}

/**
 * Reads a prediction and a reference, checks they share one grid, and computes every metric.
 * Prediction foreground is any non-zero voxel; reference foreground is `label` when given,
 * else any non-zero voxel. Warns (and notes) when the reference looks like a label map but no
 * label was given, when the label is absent, and when the prediction is not integer-valued.
 *
 * @param pair - The two files.
 * @param options - The reference label.
 * @returns The case's metrics and notes; distances may be `Infinity` (an empty mask).
 * @throws InputFileError when a file cannot be read or the grids differ (naming both files).
 */
export async function evaluateCase(
  pair: CasePair,
  options: EvaluateCaseOptions = {},
): Promise<CaseResult> {
  const predVolume = await readNifti(pair.pred);
  const refVolume = await readNifti(pair.ref);
  predVolume.meta.sourceFile = pair.pred;
  refVolume.meta.sourceFile = pair.ref;
  assertSameGrid(predVolume, refVolume);

  const notes: string[] = [];
  const refLabels = distinctValues(refVolume.data, 256);
  if (options.label !== undefined && !refLabels.values.has(options.label)) {
    notes.push(
      `reference ${pair.ref} has no voxel of label ${options.label} ` +
        `(labels present: ${describeLabels(refLabels)}); its mask is empty`,
    );
  }
  if (options.label === undefined && refLabels.values.size > 2) {
    notes.push(
      `reference ${pair.ref} holds labels ${describeLabels(refLabels)}; all non-zero labels ` +
        'count as foreground. Pass --label N to score one organ (TotalSegmentator pancreas = 7)',
    );
  }
  if (!isIntegerValued(predVolume.data)) {
    notes.push(
      `prediction ${pair.pred} has non-integer values (a probability map?); every non-zero ` +
        'voxel counts as foreground. Threshold it first, e.g. at 0.5',
    );
  }

  const pred = labelMask(predVolume.data);
  const ref = labelMask(refVolume.data, options.label);
  const metrics = evaluateMasks(pred, ref, refVolume.shape, refVolume.spacingMm);
  if (!Number.isFinite(metrics.hd95Mm)) {
    const empty = metrics.predVolumeMl === 0 ? 'prediction' : 'reference';
    notes.push(`${pair.id}: the ${empty} mask is empty, so hd95_mm and asd_mm are infinite`);
  }
  for (const note of notes) log.warn(note);
  return { id: pair.id, pred: pair.pred, ref: pair.ref, ...metrics, notes };
}

interface DistinctValues {
  values: Set<number>;
  truncated: boolean;
}

function distinctValues(data: ArrayLike<number>, limit: number): DistinctValues {
  const values = new Set<number>();
  for (let i = 0; i < data.length; i++) {
    values.add(data[i]);
    if (values.size > limit) return { values, truncated: true };
  }
  return { values, truncated: false };
}

function describeLabels({ values, truncated }: DistinctValues): string {
  const sorted = [...values].sort((a, b) => a - b);
  const shown = sorted.slice(0, 20).join(', ');
  return sorted.length > 20 || truncated ? `${shown}, ...` : shown;
}

function isIntegerValued(data: ArrayLike<number>): boolean {
  for (let i = 0; i < data.length; i++) if (!Number.isInteger(data[i])) return false;
  return true;
}

/** Metric fields of a case that are averaged over cases, in report order. */
export const CASE_METRIC_KEYS = [
  'dice',
  'diceMeanWithBackground',
  'diceBackground',
  'hd95Mm',
  'asdMm',
  'jaccard',
  'precision',
  'recall',
  'predVolumeMl',
  'refVolumeMl',
] as const;

/** One averaged metric name. */
export type CaseMetricKey = (typeof CASE_METRIC_KEYS)[number];

/**
 * Mean of every metric over cases. A distance mean is `Infinity` when any case's is (an empty
 * mask somewhere): averaging only the finite ones would hide a missed organ.
 *
 * @param cases - At least one case.
 * @returns One mean per metric key; `NaN` for an empty list.
 */
export function meanMetrics(cases: readonly CaseResult[]): Record<CaseMetricKey, number> {
  const mean = {} as Record<CaseMetricKey, number>;
  for (const key of CASE_METRIC_KEYS) {
    mean[key] = cases.reduce((sum, c) => sum + c[key], 0) / cases.length;
  }
  return mean;
}
