/**
 * `panknet import-s3d S3D_kinetics400.pt -o DIR`: turns the S3D Kinetics-400 weights into an
 * encoder-only PankNet checkpoint that `panknet train --encoder-weights DIR` starts from.
 */

import { basename } from 'node:path';

import type { Command } from 'commander';

import { DEFAULT_PANKNET_OPTIONS } from '../../model/architecture.js';
import { saveCheckpoint, type CheckpointMeta } from '../../model/checkpoint.js';
import { importS3d, S3D_FIRST_CONV, type S3dImport } from '../../model/import-s3d.js';
import { parsePositiveInteger } from '../parse-options.js';

/** Options of `panknet import-s3d`. */
interface ImportS3dFlags {
  output: string;
  inChannels: number;
}

/** The one part an imported checkpoint holds. */
const ENCODER_PARTS = ['encoder'];

/**
 * The metadata of an encoder-only checkpoint: the paper's architecture (full width, four taps,
 * patch 48 x 128 x 128) with `inChannels` inputs, at 1 mm RAS. Training replaces the
 * preprocessing fields with its own when it writes the whole network.
 *
 * @param file - The S3D checkpoint path, recorded under `training.source`.
 * @param inChannels - Input channels of the network (1 for CT).
 * @param result - What `importS3d` returned.
 * @returns Metadata for `saveCheckpoint`.
 */
export function encoderCheckpointMeta(
  file: string,
  inChannels: number,
  result: S3dImport,
): CheckpointMeta {
  const architecture = { ...DEFAULT_PANKNET_OPTIONS, inChannels };
  return {
    architecture,
    patch: architecture.patch,
    targetSpacingMm: [1, 1, 1],
    orientation: 'RAS',
    normalisation: { modality: 'ct', method: 'clip, z-score, min-max to [0, 1]' },
    labels: { '0': 'background', '1': 'pancreas' },
    training: {
      source: basename(file),
      pretrained: 'S3D Kinetics-400 (Xie et al., ECCV 2018), imported by panknet import-s3d',
      firstConvShape: result.firstConvShape,
      skipped: result.skipped.filter((key) => key.startsWith('fc.')),
    },
  };
}

/**
 * The summary that `panknet import-s3d` prints: what was read, kept and skipped, and where it
 * went.
 *
 * @param file - The checkpoint path as given.
 * @param result - What `importS3d` returned.
 * @param output - The folder written.
 * @returns Lines ending in a newline.
 */
export function formatImportSummary(file: string, result: S3dImport, output: string): string {
  const classifier = result.skipped.filter((key) => key.startsWith('fc.'));
  const trackers = result.skipped.length - classifier.length;
  const first = result.stateDict.get(`encoder.${S3D_FIRST_CONV}`)!;
  return [
    `Read ${result.keysRead} tensors from ${basename(file)}.`,
    `Imported ${result.stateDict.size} encoder tensors: ` +
      `${result.learnable.toLocaleString('en-US')} parameters ` +
      `(${result.scalars.toLocaleString('en-US')} values with BatchNorm statistics).`,
    `First convolution ${S3D_FIRST_CONV} [${result.firstConvShape.join(', ')}] averaged ` +
      `over its input channels to [${first.shape.join(', ')}].`,
    `Skipped ${result.skipped.length} keys: ${classifier.length} classifier ` +
      `(${classifier.join(', ') || 'none'}), ${trackers} num_batches_tracked.`,
    'Decoders and fusion are not included: training initialises them ' +
      `(panknet train --encoder-weights ${output}).`,
    `Wrote ${output}`,
    '',
  ].join('\n');
}

/**
 * Registers `panknet import-s3d <checkpoint> -o <dir> [--in-channels N]`.
 *
 * @param program - The `panknet` program.
 */
export function registerImportS3d(program: Command): void {
  program
    .command('import-s3d')
    .description('import S3D Kinetics-400 weights (S3D_kinetics400.pt) as the PankNet encoder')
    .argument('<checkpoint>', 'PyTorch state dict of S3D (zip or legacy .pt/.pth)')
    .requiredOption('-o, --output <dir>', 'folder to write the encoder-only checkpoint to')
    .option(
      '--in-channels <n>',
      'input channels of the network (1 for CT)',
      parsePositiveInteger,
      1,
    )
    .action(async (file: string, flags: ImportS3dFlags) => {
      const result = await importS3d(file, { inChannels: flags.inChannels });
      const meta = encoderCheckpointMeta(file, flags.inChannels, result);
      saveCheckpoint(flags.output, result.stateDict, meta, { parts: ENCODER_PARTS });
      process.stdout.write(formatImportSummary(file, result, flags.output));
    });
}
