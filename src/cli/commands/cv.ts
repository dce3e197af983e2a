import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { Option, type Command } from 'commander';

import {
  foldScores,
  formatFoldTable,
  readFoldReport,
  summarizeFolds,
  type CrossValidationSummary,
  type FoldScores,
} from '../../metrics/cross-validation.js';
import { evaluateCase, type CasePair, type CaseResult } from '../../metrics/evaluate-cases.js';
import { listSplitFolds, loadNihSplit } from '../../train/datasets.js';
import { InputFileError, PankNetError } from '../../util/errors.js';
import { parseLabel } from '../parse-options.js';

/** Options of `panknet cv` as commander parses them. */
interface CvFlags {
  split?: string;
  predRoot?: string;
  refRoot?: string;
  label?: number;
  json?: boolean;
}

/**
 * Registers `panknet cv`: a cross-validation table of per-fold mean Dice (pancreas, with
 * background) and HD95, with the mean ± std over folds.
 *
 * @param program - The root command.
 */
export function registerCv(program: Command): void {
  program
    .command('cv')
    .description(
      'cross-validation table: per-fold mean Dice (pancreas, with background) and HD95, then ' +
        'mean ± std over folds. Either pass one `panknet evaluate --json` report per fold ' +
        '(RUNS: files, or folders holding evaluate.json), or --split with --pred-root and ' +
        "--ref-root to score every fold's test cases",
    )
    .argument('[runs...]', 'evaluate --json reports, one per fold (files or run folders)')
    .option('--split <file>', 'k-fold split JSON (e.g. nih-pancreas-ct-4fold-split.json)')
    .option(
      '--pred-root <dir>',
      'predictions named after the test images (PANCREAS_0001.nii.gz), in <dir>/fold<K>/ ' +
        'or directly in <dir>',
    )
    .option(
      '--ref-root <dir>',
      "folder the split's label paths resolve against (holding data/PANCREAS-CT, PANCREAS-CT " +
        'or annotations/)',
    )
    .addOption(
      new Option('--label <n>', 'reference label of the organ (default: any non-zero)').argParser(
        parseLabel,
      ),
    )
    .option('--json', 'print {folds: [...], mean: {...}, std: {...}}; infinite HD95 as null')
    .action(async (runs: string[], flags: CvFlags) => {
      const summary = await crossValidate(runs, flags);
      if (flags.json) process.stdout.write(`${JSON.stringify(summaryJson(summary), null, 2)}\n`);
      else process.stdout.write(formatFoldTable(summary));
    });
}

async function crossValidate(runs: string[], flags: CvFlags): Promise<CrossValidationSummary> {
  const split = flags.split;
  if ((split !== undefined) === runs.length > 0) {
    throw new PankNetError(
      'cv: pass either evaluate --json reports (one per fold) or --split with --pred-root ' +
        'and --ref-root, not both and not neither. See panknet cv --help.',
    );
  }
  if (split === undefined) {
    const folds: FoldScores[] = [];
    for (const run of runs) folds.push(await readFoldReport(run));
    return summarizeFolds(folds);
  }
  if (flags.predRoot === undefined || flags.refRoot === undefined) {
    throw new PankNetError(
      'cv --split needs --pred-root (predictions) and --ref-root (labels). See panknet cv --help.',
    );
  }

  const predRoot = flags.predRoot;
  const plan: Array<{ fold: number; pairs: CasePair[] }> = [];
  const missing: string[] = [];
  for (const fold of await listSplitFolds(split)) {
    const data = await loadNihSplit(split, { fold, dataRoot: flags.refRoot, requireImages: false });
    const pairs: CasePair[] = [];
    for (const entry of data.test) {
      const pred = await findPrediction(predRoot, fold, entry.id);
      if (pred === undefined) missing.push(`fold${fold}: ${entry.id}`);
      else pairs.push({ id: entry.id, pred, ref: entry.label });
    }
    plan.push({ fold, pairs });
  }
  if (missing.length > 0) {
    throw new InputFileError(
      predRoot,
      `${missing.length} test case${missing.length === 1 ? ' has' : 's have'} no prediction ` +
        `(${missing.join(', ')}). Write <id>.nii.gz for each into ${predRoot}/fold<K>/ or ` +
        `${predRoot}/.`,
    );
  }

  const folds: FoldScores[] = [];
  for (const { fold, pairs } of plan) {
    const cases: CaseResult[] = [];
    for (const pair of pairs) cases.push(await evaluateCase(pair, { label: flags.label }));
    folds.push(foldScores(`fold${fold}`, cases));
  }
  return summarizeFolds(folds);
}

async function findPrediction(root: string, fold: number, id: string): Promise<string | undefined> {
  for (const folder of [join(root, `fold${fold}`), root]) {
    for (const ext of ['.nii.gz', '.nii']) {
      const path = join(folder, `${id}${ext}`);
      const found = await stat(path).then(
        (info) => info.isFile(),
        () => false,
      );
      if (found) return path;
    }
  }
  return undefined;
}

interface ScoresJson {
  dice: number;
  dice_mean_with_background: number;
  hd95_mm: number | null;
}

type Scores = Pick<FoldScores, 'dice' | 'diceMeanWithBackground' | 'hd95Mm'>;

function scoresJson(s: Scores): ScoresJson {
  return {
    dice: s.dice,
    dice_mean_with_background: s.diceMeanWithBackground,
    hd95_mm: Number.isFinite(s.hd95Mm) ? s.hd95Mm : null,
  };
}

function summaryJson(summary: CrossValidationSummary): object {
  return {
    folds: summary.folds.map((f) => ({ fold: f.name, cases: f.cases, ...scoresJson(f) })),
    mean: scoresJson(summary.mean),
    std: scoresJson(summary.std),
  };
}
