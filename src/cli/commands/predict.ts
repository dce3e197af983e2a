import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { Option } from 'commander';
import type { Command } from 'commander';

import { buildVolumePayload } from '../../display/volume-payload.js';
import { volumePng } from '../../display/png-fallback.js';
import { DEMO_MODEL_DIR } from '../../infer/demo-model.js';
import type { EngineChoice, LoadedModel } from '../../infer/load-model.js';
import type { PredictVolumeResult } from '../../infer/predict-volume.js';
import { readVolume } from '../../io/read-volume.js';
import type { Volume } from '../../io/volume.js';
import { writeNifti } from '../../io/write-nifti.js';
import type { BackendName } from '../../backend/select-backend.js';
import { InputFileError, PankNetError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/write-atomic.js';
import {
  backendOption,
  parseFraction,
  parseNonNegativeInteger,
  parsePositiveInteger,
} from '../parse-options.js';
import { createProgressBar } from '../progress.js';
import { refuseOverwritingInput } from '../same-path.js';
import { caseId } from '../../metrics/index.js';

interface PredictFlags {
  output: string;
  model: string;
  probabilities?: string;
  decoderMaps?: string;
  overlap: number;
  tta?: boolean;
  postprocess: boolean;
  engine: EngineChoice;
  backend?: BackendName;
  batch?: number;
  preview?: string;
  series?: string;
  frame?: number;
  threshold: number;
}

const NIFTI = /\.nii(\.gz)?$/i;

/** Inputs of a batch call: the NIfTI files and DICOM sub-folders of a folder. */
async function batchInputs(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries
    .filter((entry) => (entry.isFile() && NIFTI.test(entry.name)) || entry.isDirectory())
    .map((entry) => join(folder, entry.name))
    .sort();
}

async function isBatch(input: string, output: string): Promise<boolean> {
  const info = await stat(input).catch(() => undefined);
  if (!info?.isDirectory()) return false;
  const files = await readdir(input);
  // A folder of NIfTI files is a batch; a folder of DICOM slices is one case.
  return files.some((name) => NIFTI.test(name)) || output.endsWith('/') || !NIFTI.test(output);
}

function formatTimings(result: PredictVolumeResult, readMs: number, writeMs: number): string {
  const stages = { read: readMs, ...result.timingsMs, write: writeMs };
  return Object.entries(stages)
    .map(([stage, ms]) => `${stage} ${(ms / 1000).toFixed(1)} s`)
    .join(', ');
}

async function predictOne(
  input: string,
  output: string,
  flags: PredictFlags,
  model: LoadedModel,
): Promise<void> {
  refuseOverwritingInput(input, output);
  if ((await stat(output).catch(() => undefined))?.isDirectory()) {
    throw new InputFileError(
      output,
      'is a folder; for one input, -o names the mask file (e.g. mask.nii.gz).',
    );
  }
  let started = performance.now();
  const volume: Volume = await readVolume(input, { series: flags.series, frame: flags.frame });
  const readMs = performance.now() - started;
  const progress = createProgressBar();
  const { predictVolume } = await import('../../infer/predict-volume.js');
  let result: PredictVolumeResult;
  try {
    result = await predictVolume(volume, model.engine, model.preprocessing, {
      overlap: flags.overlap,
      tta: flags.tta,
      batchSize: flags.batch,
      decoderMaps: flags.decoderMaps !== undefined,
      postprocess: flags.postprocess,
      threshold: flags.threshold,
      onProgress: progress.onProgress,
    });
  } finally {
    progress.stop();
  }

  started = performance.now();
  await writeNifti(result.mask, output, { datatype: 'uint8' });
  if (flags.probabilities) await writeNifti(result.probability, flags.probabilities);
  if (flags.decoderMaps && result.decoderMaps) {
    await mkdir(flags.decoderMaps, { recursive: true });
    const taps = model.engine.taps;
    for (const [i, map] of result.decoderMaps.entries()) {
      await writeNifti(map, join(flags.decoderMaps, `decoder${taps[i]}.nii.gz`));
    }
  }
  if (flags.preview) {
    const payload = buildVolumePayload(volume, { mask: result.mask, window: 'abdomen' });
    await writeFileAtomic(flags.preview, volumePng(payload), { what: 'preview' });
  }
  const writeMs = performance.now() - started;
  process.stdout.write(
    `${basename(input)}: pancreas ${result.volumeMl.toFixed(1)} mL -> ${output}\n` +
      `  ${result.windows} windows on ${model.engine.name}; ` +
      `${formatTimings(result, readMs, writeMs)}\n` +
      (model.modelDir === DEMO_MODEL_DIR
        ? '  model: the demo model (no --model given), trained on one example CT to show the ' +
          'pipeline; its masks are not for research or clinical use\n'
        : `  model: ${model.modelDir}\n`),
  );
}

/** Registers `panknet predict`. */
export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('segment the pancreas in a CT (NIfTI file or DICOM folder), or a folder of them')
    .argument('<input>', 'NIfTI file, DICOM folder, or a folder of NIfTI files / DICOM folders')
    .requiredOption('-o, --output <path>', 'mask file (.nii.gz), or a folder for a batch')
    .option('--model <dir>', 'checkpoint or run folder', DEMO_MODEL_DIR)
    .option('--probabilities <file>', 'also write the pancreas probability (float32 NIfTI)')
    .option('--decoder-maps <dir>', "also write each decoder's pancreas probability")
    .option('--overlap <fraction>', 'window overlap in [0, 1)', parseFraction, 0.5)
    .option('--tta', 'flip test-time augmentation (4 times slower)')
    .option('--no-postprocess', 'keep every component and hole (no largest-component filter)')
    .option('--threshold <p>', 'pancreas probability threshold', parseFraction, 0.5)
    .addOption(
      new Option('--engine <engine>', 'inference engine')
        .choices(['auto', 'onnx', 'tfjs'])
        .default('auto'),
    )
    .addOption(backendOption())
    .option('--batch <n>', 'windows per engine call', parsePositiveInteger)
    .option('--preview <file.png>', 'quick-look PNG: three planes through the mask')
    .option('--series <uid|index>', 'DICOM series to read when a folder holds several')
    .option('--frame <n>', 'time point of a 4D NIfTI', parseNonNegativeInteger)
    .action(async (input: string, flags: PredictFlags) => {
      // The engines load only here, so that the other commands start without them.
      const { loadModel } = await import('../../infer/load-model.js');
      const model = await loadModel(flags.model, { engine: flags.engine, backend: flags.backend });
      try {
        if (!(await isBatch(input, flags.output))) {
          await predictOne(input, flags.output, flags, model);
          return;
        }
        const inputs = await batchInputs(input);
        if (inputs.length === 0) {
          throw new InputFileError(input, 'holds no NIfTI files or DICOM folders to segment.');
        }
        await mkdir(flags.output, { recursive: true });
        const failed: string[] = [];
        for (const [n, path] of inputs.entries()) {
          process.stderr.write(`[${n + 1}/${inputs.length}] ${basename(path)}\n`);
          try {
            const out = join(flags.output, `${caseId(path)}.nii.gz`);
            await predictOne(path, out, { ...flags, preview: undefined }, model);
          } catch (error) {
            if (!(error instanceof PankNetError)) throw error;
            process.stderr.write(`panknet: warning: skipped: ${error.message}\n`);
            failed.push(path);
          }
        }
        process.stdout.write(`${inputs.length - failed.length} of ${inputs.length} segmented\n`);
        if (failed.length > 0) {
          throw new PankNetError(
            `${failed.length} of ${inputs.length} cases failed ` +
              `(${failed.map((f) => basename(f)).join(', ')}); ` +
              'see the warnings above.',
          );
        }
      } finally {
        await model.engine.dispose();
      }
    });
}
