import { Option, type Command } from 'commander';

import {
  evaluateCase,
  pairCaseFiles,
  type CasePair,
  type CaseResult,
} from '../../metrics/evaluate-cases.js';
import {
  evaluationReportJson,
  formatEvaluationTable,
  writeEvaluationCsv,
} from '../../metrics/evaluation-report.js';
import { PankNetError } from '../../util/errors.js';
import { log } from '../../util/log.js';
import { parseLabel } from '../parse-options.js';

/** Options of `panknet evaluate` as commander parses them. */
interface EvaluateFlags {
  pred: string[];
  ref: string[];
  label?: number;
  json?: boolean;
  csv?: string;
}

/**
 * Registers `panknet evaluate`: Dice (pancreas, background, their mean), HD95, average surface
 * distance, precision, recall and organ volumes of predictions against references.
 *
 * @param program - The root command.
 */
export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description(
      'score predicted masks against references: Dice (pancreas first, with-background mean ' +
        'beside it), HD95 and average surface distance in mm, precision, recall, volumes in mL',
    )
    .requiredOption(
      '--pred <paths...>',
      'prediction NIfTI file(s), or folder(s) of them; any non-zero voxel is foreground',
    )
    .requiredOption(
      '--ref <paths...>',
      'reference file(s) or folder(s), one per --pred path (or one file for all); folders are ' +
        'paired by file name (x.nii.gz with x.nii.gz)',
    )
    .addOption(
      new Option(
        '--label <n>',
        'reference label that is the organ (TotalSegmentator pancreas = 7); default: ' +
          'any non-zero reference voxel',
      ).argParser(parseLabel),
    )
    .option('--json', 'print {cases: [...], mean: {...}, notes: [...]}; infinite distances as null')
    .option('--csv <file>', 'also write one row per case and a mean row to this CSV file')
    .action(async (flags: EvaluateFlags) => {
      const pairs = await collectPairs(flags.pred, flags.ref);
      const cases: CaseResult[] = [];
      for (const pair of pairs.pairs) cases.push(await evaluateCase(pair, { label: flags.label }));

      if (flags.csv !== undefined) await writeEvaluationCsv(cases, flags.csv);
      if (flags.json) {
        const report = evaluationReportJson(cases, flags.label, pairs.unpaired);
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        process.stdout.write(formatEvaluationTable(cases));
      }
    });
}

async function collectPairs(
  preds: string[],
  refs: string[],
): Promise<{ pairs: CasePair[]; unpaired: { pred: string[]; ref: string[] } }> {
  if (refs.length !== preds.length && refs.length !== 1) {
    throw new PankNetError(
      `evaluate: ${preds.length} --pred paths but ${refs.length} --ref paths. Give one ` +
        'reference per prediction (in the same order), or a single reference for all.',
    );
  }

  const pairs: CasePair[] = [];
  const unpaired = { pred: [] as string[], ref: [] as string[] };
  for (let n = 0; n < preds.length; n++) {
    const found = await pairCaseFiles(preds[n], refs.length === 1 ? refs[0] : refs[n]);
    pairs.push(...found.pairs);
    unpaired.pred.push(...found.unpairedPred);
    unpaired.ref.push(...found.unpairedRef);
  }
  for (const file of unpaired.pred) log.warn(`${file}: no reference of the same name; skipped.`);
  for (const file of unpaired.ref) log.warn(`${file}: no prediction of the same name; skipped.`);
  return { pairs, unpaired };
}
