import { Option } from 'commander';
import type { Command } from 'commander';

import type { BackendName } from '../../backend/select-backend.js';
import type { Triple } from '../../model/architecture.js';
import type { Modality } from '../../preprocess/prepare-for-network.js';
import { loadDataset, loadNihSplit } from '../../train/datasets.js';
import {
  backendOption,
  parseNonNegativeInteger,
  parsePatch,
  parsePositiveInteger,
  parsePositiveNumber,
  parseSpacing,
  positiveNumberList,
} from '../parse-options.js';
import { createProgressBar } from '../progress.js';

interface TrainFlags {
  data: string;
  out: string;
  split?: string;
  fold?: number;
  epochs: number;
  resume?: boolean;
  width: number;
  encoderWidth?: number;
  patch: Triple;
  batch: number;
  steps?: number;
  encoderWeights?: string;
  modality: Modality;
  spacing: Triple;
  lr: [number, number];
  validateEvery: number;
  seed: number;
  tumour: 'merge' | 'separate';
  backend?: BackendName;
}

/** Registers `panknet train`. */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train PankNet (the paper recipe; small settings train on a CPU)')
    .requiredOption(
      '--data <path>',
      'MSD Task07 folder (dataset.json), a JSON/CSV list of image/label pairs, ' +
        'or with --split the data root of NIH Pancreas-CT',
    )
    .requiredOption('--out <dir>', 'run folder: metrics.jsonl, last/, best/, cache/')
    .option('--split <file>', 'k-fold split JSON (NIH Pancreas-CT); needs --fold')
    .option('--fold <k>', 'fold of the split (as numbered in the file)', parseNonNegativeInteger)
    .option(
      '--epochs <n>',
      'total epochs (a resumed run continues up to it)',
      parseNonNegativeInteger,
      100,
    )
    .option('--resume', 'continue from <out>/last with the same optimizer and random stream')
    .option(
      '--width <w>',
      'decoder (and, without --encoder-width, encoder) width',
      parsePositiveNumber,
      1,
    )
    .option('--encoder-width <w>', 'encoder width (1 to use S3D weights)', parsePositiveNumber)
    .addOption(
      new Option('--patch <x,y,z>', 'patch size: x, y, slices')
        .argParser(parsePatch)
        .default([48, 128, 128] as Triple, '128,128,48'),
    )
    .option('--batch <n>', 'patches per step', parsePositiveInteger, 2)
    .option('--steps <n>', 'steps per epoch (default: cases / batch)', parseNonNegativeInteger)
    .option('--encoder-weights <dir>', 'encoder checkpoint from `panknet import-s3d`')
    .addOption(new Option('--modality <kind>', 'image kind').choices(['ct', 'mri']).default('ct'))
    .option('--spacing <x,y,z>', 'target spacing in mm', parseSpacing, [1, 1, 1])
    .option(
      '--lr <from,to>',
      'learning rate, cosine decay',
      positiveNumberList(2, 'from,to'),
      [1e-3, 1e-4],
    )
    .option(
      '--validate-every <n>',
      'validation interval in epochs (0: off)',
      parseNonNegativeInteger,
      5,
    )
    .option('--seed <n>', 'random seed', parseNonNegativeInteger, 0)
    .addOption(
      new Option('--tumour <how>', 'MSD tumour label')
        .choices(['merge', 'separate'])
        .default('merge'),
    )
    .addOption(backendOption())
    .action(async (flags: TrainFlags, command: Command) => {
      // A resumed run keeps its own settings: pass on only what was typed, so that defaults
      // do not count as a request to change them.
      const typed = (...names: string[]): boolean =>
        !flags.resume || names.some((name) => command.getOptionValueSource(name) === 'cli');
      const dataset = flags.split
        ? await loadNihSplit(flags.split, { fold: flags.fold ?? 0, dataRoot: flags.data })
        : await loadDataset(flags.data, { tumour: flags.tumour });
      // The network loads only here, so that the other commands start without TensorFlow.js.
      const { selectBackend } = await import('../../backend/select-backend.js');
      const { checkRunFolder, trainPankNet } = await import('../../train/train.js');
      if (!flags.resume) checkRunFolder(flags.out, false);
      const backend = await selectBackend({ backend: flags.backend });
      process.stderr.write(
        `training on ${dataset.train.length} cases (${dataset.layout}), ` +
          `validating on ${dataset.test.length}; TensorFlow.js backend ${backend.name}` +
          `${backend.hint ? ` (${backend.hint})` : ''}\n`,
      );

      // First Ctrl-C: finish the current step and stop; `last/` keeps the last finished epoch.
      const controller = new AbortController();
      const onInterrupt = (): void => {
        if (controller.signal.aborted) process.exit(130);
        process.stderr.write('\nstopping after this step (Ctrl-C again to quit now)\n');
        controller.abort();
      };
      process.on('SIGINT', onInterrupt);
      const progress = createProgressBar();
      try {
        const result = await trainPankNet({
          dataset,
          runDir: flags.out,
          epochs: flags.epochs,
          resume: flags.resume,
          architecture: typed('width', 'encoderWidth', 'patch')
            ? {
                encoderWidth: flags.encoderWidth ?? flags.width,
                decoderWidth: flags.width,
                patch: flags.patch,
              }
            : undefined,
          preprocessing: typed('spacing', 'modality')
            ? {
                spacingMm: flags.spacing,
                modality: flags.modality,
                windowHu: flags.modality === 'ct' ? [-100, 240] : undefined,
              }
            : undefined,
          batchSize: typed('batch') ? flags.batch : undefined,
          stepsPerEpoch: typed('steps') ? flags.steps : undefined,
          learningRate: typed('lr') ? flags.lr : undefined,
          validateEvery: typed('validateEvery') ? flags.validateEvery : undefined,
          seed: flags.seed,
          encoderWeights: flags.encoderWeights,
          signal: controller.signal,
          onProgress: progress.onProgress,
          onEpoch: (row) => {
            progress.stop();
            const maps = [1, 2, 3, 4]
              .map((tap) => row[`dice_map${tap}` as keyof typeof row])
              .filter((d): d is number => typeof d === 'number')
              .map((d) => d.toFixed(3))
              .join(' ');
            const validation =
              row.val_dice === undefined ? '' : `, val Dice ${row.val_dice.toFixed(3)}`;
            process.stdout.write(
              `epoch ${row.epoch}: loss ${row.loss.toFixed(4)}, Dice maps ${maps}, ` +
                `fused ${row.dice_fused.toFixed(3)}${validation}, lr ${row.lr.toExponential(2)}, ` +
                `${row.seconds.toFixed(1)} s\n`,
            );
          },
        });
        process.stdout.write(
          `${result.stopped ? 'stopped' : 'finished'} after epoch ${result.epochs}; ` +
            `best model in ${flags.out}/best, resume with --resume\n`,
        );
      } finally {
        progress.stop();
        process.off('SIGINT', onInterrupt);
      }
    });
}
