import type { Command } from 'commander';

import { axcodes } from '../../io/affine.js';
import { readVolume } from '../../io/read-volume.js';
import type { Vec3, Volume, VoxelDatatype } from '../../io/volume.js';
import { writeNifti } from '../../io/write-nifti.js';
import { reorientToRas } from '../../preprocess/reorient-to-ras.js';
import { resampleToSpacing } from '../../preprocess/resample.js';
import { InputFileError, PankNetError } from '../../util/errors.js';
import { refuseOverwritingInput } from '../same-path.js';
import { log } from '../../util/log.js';
import { parseNonNegativeInteger, parseSpacing } from '../parse-options.js';

/** Options of the `convert` command as commander passes them. */
export interface ConvertOptions {
  /** Reorient to RAS (closest canonical: axes permuted and flipped, no interpolation). */
  ras?: boolean;
  /** Resample to this voxel size (mm along i, j, k after any reorientation). */
  spacing?: Vec3;
  /** The input is a label map: nearest-neighbour resampling, integer datatype. */
  labelMap?: boolean;
  /** DICOM: series by SeriesInstanceUID or 0-based index. */
  series?: string;
  /** NIfTI 4D: time point to read. */
  frame?: number;
}

/**
 * The smallest integer datatype that holds a label map's values.
 *
 * @throws InputFileError when a value is not a whole number (the file is not a label map).
 */
export function labelDatatype(volume: Volume, file: string): VoxelDatatype {
  let min = 0;
  let max = 0;
  for (let n = 0; n < volume.data.length; n++) {
    const v = volume.data[n];
    if (!Number.isInteger(v)) {
      throw new InputFileError(
        file,
        `holds the non-integer value ${v} (voxel ${n}), so it is not a label map. ` +
          'Drop --label-map to convert it as an image.',
      );
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min >= 0 && max <= 255) return 'uint8';
  if (min >= -32768 && max <= 32767) return 'int16';
  if (min >= 0 && max <= 65535) return 'uint16';
  return 'int32';
}

/**
 * Reads a volume (NIfTI or DICOM), optionally reorients it to RAS and resamples it, and writes
 * it as NIfTI-1. Nothing is written when reading or processing fails.
 *
 * @param input - NIfTI file, DICOM folder or DICOM file.
 * @param output - `.nii` or `.nii.gz` path.
 * @param options - See `ConvertOptions`.
 * @returns The volume written.
 * @throws PankNetError for bad input or an unsupported output name.
 */
export async function runConvert(
  input: string,
  output: string,
  options: ConvertOptions,
): Promise<Volume> {
  if (!/\.nii(\.gz)?$/i.test(output)) {
    throw new PankNetError(
      `${output}: unsupported output name; convert writes NIfTI. ` +
        'Give an output path ending in .nii or .nii.gz.',
    );
  }
  refuseOverwritingInput(input, output);
  let volume = await readVolume(input, { series: options.series, frame: options.frame });

  // Label maps keep whole values: check them first, resample nearest, write an integer type.
  const datatype = options.labelMap ? labelDatatype(volume, input) : undefined;
  if (options.ras) {
    const before = axcodes(volume.affine).join('');
    volume = reorientToRas(volume);
    log.info(`reoriented ${before} to RAS`);
  }
  if (options.spacing) {
    const mode = options.labelMap ? 'nearest' : 'linear';
    volume = resampleToSpacing(volume, options.spacing, { mode });
    const size = volume.shape.join(' x ');
    log.info(`resampled to ${options.spacing.join(' x ')} mm (${mode}): ${size} voxels`);
  }
  await writeNifti(volume, output, datatype ? { datatype } : {});
  process.stdout.write(
    `wrote ${output}: ${volume.shape.join(' x ')} voxels, ` +
      `${volume.spacingMm.map((s) => Number(s.toFixed(4))).join(' x ')} mm, ` +
      `${axcodes(volume.affine).join('')}\n`,
  );
  return volume;
}

/** Registers `panknet convert IN OUT [--ras] [--spacing X,Y,Z] [--label-map] [--series UID]`. */
export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('write a NIfTI file or DICOM series as NIfTI, optionally in RAS and resampled')
    .argument('<input>', 'NIfTI file, DICOM folder or DICOM file')
    .argument('<output>', 'output .nii or .nii.gz')
    .option('--ras', 'reorient to RAS (axes permuted and flipped, no interpolation)')
    .option(
      '--spacing <x,y,z>',
      'resample to this voxel size in mm (one value: isotropic)',
      parseSpacing,
    )
    .option('--label-map', 'the input is a label map: nearest neighbour, integer datatype')
    .option('--series <uid>', 'DICOM: series to read, by SeriesInstanceUID or 0-based index')
    .option('--frame <n>', 'NIfTI 4D: time point to read (0-based)', parseNonNegativeInteger)
    .action(async (input: string, output: string, options: ConvertOptions) => {
      await runConvert(input, output, options);
    });
}
