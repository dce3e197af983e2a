import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { InputFileError } from '../util/errors.js';
import type { CaseResult } from './evaluate-cases.js';

/** Mean scores of one cross-validation fold over its test cases. */
export interface FoldScores {
  /** Fold name: `fold0` ..., or the evaluation report's file name. */
  name: string;
  /** Number of test cases. */
  cases: number;
  /** Mean pancreas Dice. */
  dice: number;
  /** Mean of background and pancreas Dice, averaged over cases. */
  diceMeanWithBackground: number;
  /** Mean HD95 in mm; `Infinity` when a case has an empty mask. */
  hd95Mm: number;
}

/** Mean and standard deviation over folds of each fold score. */
export interface CrossValidationSummary {
  /** The folds, in the order given. */
  folds: FoldScores[];
  /** Mean over folds. */
  mean: { dice: number; diceMeanWithBackground: number; hd95Mm: number };
  /** Sample standard deviation over folds (n - 1 denominator; 0 for one fold). */
  std: { dice: number; diceMeanWithBackground: number; hd95Mm: number };
}

/**
 * Averages case results into one fold's scores.
 *
 * @param name - Fold name.
 * @param cases - The fold's test cases, at least one.
 * @returns The fold's mean scores.
 */
export function foldScores(name: string, cases: readonly CaseResult[]): FoldScores {
  const mean = (pick: (c: CaseResult) => number): number =>
    cases.reduce((sum, c) => sum + pick(c), 0) / cases.length;
  return {
    name,
    cases: cases.length,
    dice: mean((c) => c.dice),
    diceMeanWithBackground: mean((c) => c.diceMeanWithBackground),
    hd95Mm: mean((c) => c.hd95Mm),
  };
}

/**
 * Mean and sample standard deviation of fold scores.
 *
 * @param folds - At least one fold.
 * @returns The folds with their mean and std.
 */
export function summarizeFolds(folds: readonly FoldScores[]): CrossValidationSummary {
  const stats = (pick: (f: FoldScores) => number): [number, number] => {
    const values = folds.map(pick);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    if (values.length < 2) return [mean, 0];
    const squares = values.reduce((sum, v) => sum + (v - mean) ** 2, 0);
    return [mean, Math.sqrt(squares / (values.length - 1))];
  };
  const [dice, diceStd] = stats((f) => f.dice);
  const [withBackground, withBackgroundStd] = stats((f) => f.diceMeanWithBackground);
  const [hd95, hd95Std] = stats((f) => f.hd95Mm);
  return {
    folds: [...folds],
    mean: { dice, diceMeanWithBackground: withBackground, hd95Mm: hd95 },
    std: {
      dice: diceStd,
      diceMeanWithBackground: withBackgroundStd,
      hd95Mm: Number.isFinite(hd95) ? hd95Std : Infinity,
    },
  };
}

/**
 * Reads one fold's scores from a report written by `panknet evaluate --json` (a file, or a run
 * folder holding `evaluate.json`). Means are recomputed from the cases; a `null` HD95 counts
 * as infinite.
 *
 * @param path - Report file or folder.
 * @returns The fold's scores, named after `path`.
 * @throws InputFileError when the file is missing, not JSON, or has no cases.
 */
export async function readFoldReport(path: string): Promise<FoldScores> {
  const info = await stat(path).catch((cause: unknown) => {
    throw new InputFileError(path, 'no such file or folder. Check the path.', { cause });
  });
  const file = info.isDirectory() ? join(path, 'evaluate.json') : path;
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new InputFileError(
      file,
      'cannot be read. Save each fold with panknet evaluate --json > evaluate.json.',
      { cause },
    );
  });

  let report: unknown;
  try {
    report = JSON.parse(text) as unknown;
  } catch (cause) {
    throw new InputFileError(
      file,
      'is not JSON. Pass the output of panknet evaluate --json, one file per fold.',
      { cause },
    );
  }
  const cases =
    typeof report === 'object' && report !== null && 'cases' in report ? report.cases : undefined;
  if (!Array.isArray(cases) || cases.length === 0 || !cases.every(isScoredCase)) {
    throw new InputFileError(
      file,
      'has no "cases" list with dice, dice_mean_with_background and hd95_mm. Pass the output ' +
        'of panknet evaluate --json, one file per fold.',
    );
  }
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  return {
    name: path,
    cases: cases.length,
    dice: mean(cases.map((c) => c.dice)),
    diceMeanWithBackground: mean(cases.map((c) => c.dice_mean_with_background)),
    hd95Mm: mean(cases.map((c) => c.hd95_mm ?? Infinity)),
  };
}

interface ScoredCaseJson {
  dice: number;
  dice_mean_with_background: number;
  hd95_mm: number | null;
}

function isScoredCase(value: unknown): value is ScoredCaseJson {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.dice === 'number' &&
    typeof c.dice_mean_with_background === 'number' &&
    (typeof c.hd95_mm === 'number' || c.hd95_mm === null)
  );
}

/**
 * Formats the fold table: per-fold mean Dice (pancreas, then with background) and HD95, then
 * the mean ± std over folds.
 *
 * @param summary - From `summarizeFolds`.
 * @returns Lines of text ending with a newline.
 */
export function formatFoldTable(summary: CrossValidationSummary): string {
  const distance = (mm: number): string => (Number.isFinite(mm) ? mm.toFixed(2) : 'inf');
  const rows = [['fold', 'cases', 'Dice', 'Dice+bg', 'HD95 mm']];
  for (const f of summary.folds) {
    rows.push([
      f.name,
      String(f.cases),
      f.dice.toFixed(4),
      f.diceMeanWithBackground.toFixed(4),
      distance(f.hd95Mm),
    ]);
  }
  const { mean, std } = summary;
  rows.push([
    'mean ± std',
    String(summary.folds.reduce((n, f) => n + f.cases, 0)),
    `${mean.dice.toFixed(4)} ± ${std.dice.toFixed(4)}`,
    `${mean.diceMeanWithBackground.toFixed(4)} ± ${std.diceMeanWithBackground.toFixed(4)}`,
    `${distance(mean.hd95Mm)} ± ${distance(std.hd95Mm)}`,
  ]);
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col])))
      .join('  '),
  );
  lines.push('Dice: pancreas only. Dice+bg: mean of background and pancreas Dice.');
  return `${lines.join('\n')}\n`;
}
