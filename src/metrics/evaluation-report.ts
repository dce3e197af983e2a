import { writeFileAtomic } from '../util/write-atomic.js';
import type { CaseMetricKey, CaseResult } from './evaluate-cases.js';
import { CASE_METRIC_KEYS, meanMetrics } from './evaluate-cases.js';

/** JSON field name of each metric (`panknet evaluate --json`, `../shared/cases/README.md`). */
export const JSON_METRIC_NAMES: Record<CaseMetricKey, keyof MetricsJson> = {
  dice: 'dice',
  diceMeanWithBackground: 'dice_mean_with_background',
  diceBackground: 'dice_background',
  hd95Mm: 'hd95_mm',
  asdMm: 'asd_mm',
  jaccard: 'jaccard',
  precision: 'precision',
  recall: 'recall',
  predVolumeMl: 'pred_volume_ml',
  refVolumeMl: 'ref_volume_ml',
};

/** Metric values as written to JSON: distances in mm, volumes in mL; infinite is `null`. */
export interface MetricsJson {
  dice: number | null;
  dice_mean_with_background: number | null;
  dice_background: number | null;
  hd95_mm: number | null;
  asd_mm: number | null;
  jaccard: number | null;
  precision: number | null;
  recall: number | null;
  pred_volume_ml: number | null;
  ref_volume_ml: number | null;
}

/** One case of the JSON report. */
export interface CaseJson extends MetricsJson {
  /** Case name (file name without `.nii` / `.nii.gz`). */
  id: string;
  /** Prediction file. */
  pred: string;
  /** Reference file. */
  ref: string;
  /** One sentence each. */
  notes: string[];
}

/** What `panknet evaluate --json` prints. */
export interface EvaluationReportJson {
  /** One entry per case: `id`, the metrics (snake_case), `pred`, `ref`, `notes`. */
  cases: CaseJson[];
  /** Mean of each metric over cases (`null` when infinite). */
  mean: MetricsJson;
  /** Reference label used, or `null` for "any non-zero voxel". */
  label: number | null;
  /** Files found in a folder without a partner. */
  unpaired: { pred: string[]; ref: string[] };
  /** One sentence each, e.g. why a distance is `null`. */
  notes: string[];
}

function toJsonNumber(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function metricsJson(v: Record<CaseMetricKey, number>): MetricsJson {
  return {
    dice: toJsonNumber(v.dice),
    dice_mean_with_background: toJsonNumber(v.diceMeanWithBackground),
    dice_background: toJsonNumber(v.diceBackground),
    hd95_mm: toJsonNumber(v.hd95Mm),
    asd_mm: toJsonNumber(v.asdMm),
    jaccard: toJsonNumber(v.jaccard),
    precision: toJsonNumber(v.precision),
    recall: toJsonNumber(v.recall),
    pred_volume_ml: toJsonNumber(v.predVolumeMl),
    ref_volume_ml: toJsonNumber(v.refVolumeMl),
  };
}

/**
 * Builds the JSON report of an evaluation. Infinite distances (an empty mask) become `null`,
 * and a note says which case and why.
 *
 * @param cases - Case results, at least one.
 * @param label - Reference label used, if any.
 * @param unpaired - Unpaired prediction and reference files.
 * @returns The report, ready for `JSON.stringify`.
 */
export function evaluationReportJson(
  cases: readonly CaseResult[],
  label: number | undefined,
  unpaired: { pred: string[]; ref: string[] },
): EvaluationReportJson {
  const mean = meanMetrics(cases);
  const notes = cases.flatMap((c) => c.notes);
  const infinite = cases.filter((c) => !Number.isFinite(c.hd95Mm)).map((c) => c.id);
  if (infinite.length > 0) {
    notes.push(
      `hd95_mm and asd_mm are null (infinite) for ${infinite.join(', ')}, and so are their ` +
        'means: an empty mask has no surface to measure from',
    );
  }
  for (const file of unpaired.pred) notes.push(`unpaired prediction (no reference): ${file}`);
  for (const file of unpaired.ref) notes.push(`unpaired reference (no prediction): ${file}`);
  return {
    cases: cases.map((c) => ({
      id: c.id,
      ...metricsJson(c),
      pred: c.pred,
      ref: c.ref,
      notes: c.notes,
    })),
    mean: metricsJson(mean),
    label: label ?? null,
    unpaired,
    notes,
  };
}

/**
 * Formats the per-case table with the pancreas Dice first and the with-background mean beside
 * it, then the mean row.
 *
 * @param cases - Case results, at least one.
 * @returns Lines of text, ending with a newline.
 */
export function formatEvaluationTable(cases: readonly CaseResult[]): string {
  const header = ['case', 'Dice', 'Dice+bg', 'HD95 mm', 'ASD mm', 'prec', 'recall', 'pred mL'];
  header.push('ref mL');
  const row = (id: string, m: Record<CaseMetricKey, number>): string[] => [
    id,
    m.dice.toFixed(4),
    m.diceMeanWithBackground.toFixed(4),
    formatDistance(m.hd95Mm),
    formatDistance(m.asdMm),
    m.precision.toFixed(4),
    m.recall.toFixed(4),
    m.predVolumeMl.toFixed(2),
    m.refVolumeMl.toFixed(2),
  ];
  const rows = [header, ...cases.map((c) => row(c.id, c))];
  if (cases.length > 1) rows.push(row(`mean of ${cases.length}`, meanMetrics(cases)));
  const widths = header.map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col])))
      .join('  '),
  );
  lines.push(
    'Dice: pancreas only. Dice+bg: mean of background and pancreas Dice (the figure papers ' +
      'often quote, about 0.88 in PankNet).',
  );
  return `${lines.join('\n')}\n`;
}

function formatDistance(mm: number): string {
  return Number.isFinite(mm) ? mm.toFixed(2) : 'inf';
}

/**
 * Writes the cases as CSV (one row per case, then a `mean` row), to a temp file renamed into
 * place. Infinite distances are written as `inf`.
 *
 * @param cases - Case results, at least one.
 * @param path - Output `.csv` path.
 * @throws InputFileError when the file cannot be written.
 */
export async function writeEvaluationCsv(
  cases: readonly CaseResult[],
  path: string,
): Promise<void> {
  const names = CASE_METRIC_KEYS.map((key) => JSON_METRIC_NAMES[key]);
  const cell = (value: number): string => (Number.isFinite(value) ? String(value) : 'inf');
  const quote = (text: string): string =>
    /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  const lines = [['id', ...names, 'pred', 'ref'].join(',')];
  for (const c of cases) {
    const values = CASE_METRIC_KEYS.map((key) => cell(c[key]));
    lines.push([quote(c.id), ...values, quote(c.pred), quote(c.ref)].join(','));
  }
  const mean = meanMetrics(cases);
  lines.push(['mean', ...CASE_METRIC_KEYS.map((k) => cell(mean[k])), '', ''].join(','));

  await writeFileAtomic(path, `${lines.join('\n')}\n`, { what: 'CSV' });
}
