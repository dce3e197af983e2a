/**
 * Preprocessed training cases cached on disk, so that epochs do not repeat reading, reorienting,
 * resampling and normalising. Each case is stored as two uncompressed NIfTI files (image
 * float32, label uint8) on the network grid, under a key that changes when the source files or
 * the preprocessing change.
 */

import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { readNifti } from '../io/read-nifti.js';
import { readVolume } from '../io/read-volume.js';
import type { Volume } from '../io/volume.js';
import { writeNifti } from '../io/write-nifti.js';
import type { Triple } from '../model/architecture.js';
import { prepareForNetwork, type PreprocessingSpec } from '../preprocess/prepare-for-network.js';
import { InputFileError } from '../util/errors.js';
import type { ImageLabelPair, LabelMap } from './datasets.js';
import { applyLabelMap } from './datasets.js';
import { foregroundIndices, type TrainingCase } from './patches.js';

async function fileStamp(path: string): Promise<string> {
  const info = await stat(path);
  return `${path}:${info.size}:${info.mtimeMs}`;
}

/** Folder name of a case in the cache: id plus a hash of sources and preprocessing. */
export async function cacheKey(
  pair: ImageLabelPair,
  spec: PreprocessingSpec,
  labelMap: LabelMap,
): Promise<string> {
  const stamp = [await fileStamp(pair.image), await fileStamp(pair.label)];
  const hash = createHash('sha256')
    .update(JSON.stringify({ stamp, spec, labelMap, version: 1 }))
    .digest('hex')
    .slice(0, 16);
  return `${pair.id}-${hash}`;
}

function toTrainingCase(id: string, image: Volume, label: Volume): TrainingCase {
  const [nx, ny, nz] = image.shape;
  const shape: Triple = [nz, ny, nx];
  const labels = label.data instanceof Uint8Array ? label.data : Uint8Array.from(label.data);
  return {
    id,
    image: image.data instanceof Float32Array ? image.data : Float32Array.from(image.data),
    label: labels,
    shape,
    foreground: foregroundIndices(labels),
  };
}

/**
 * Loads a case from the cache, preparing and caching it first when needed.
 *
 * @param pair - Image and label files.
 * @param spec - The model's preprocessing.
 * @param labelMap - Stored label values to classes (see `datasets.ts`).
 * @param cacheDir - Cache folder (created if missing).
 * @returns The case on the network grid, `[D, H, W]`.
 * @throws InputFileError when image and label grids differ.
 */
export async function loadTrainingCase(
  pair: ImageLabelPair,
  spec: PreprocessingSpec,
  labelMap: LabelMap,
  cacheDir: string,
): Promise<TrainingCase> {
  const folder = join(cacheDir, await cacheKey(pair, spec, labelMap));
  const imagePath = join(folder, 'image.nii');
  const labelPath = join(folder, 'label.nii');
  const cached = await stat(labelPath).then(
    () => true,
    () => false,
  );
  if (cached) {
    return toTrainingCase(pair.id, await readNifti(imagePath), await readNifti(labelPath));
  }

  const image = await readVolume(pair.image);
  const rawLabel = await readVolume(pair.label);
  const sameGrid =
    image.shape.every((n, a) => n === rawLabel.shape[a]) &&
    image.affine.every((row, r) =>
      row.every((v, c) => Math.abs(v - rawLabel.affine[r]![c]!) < 1e-3),
    );
  if (!sameGrid) {
    throw new InputFileError(
      pair.label,
      `label grid ${rawLabel.shape.join(' x ')} does not match its image ${pair.image} ` +
        `(${image.shape.join(' x ')}, or a different affine). Resample the label onto the image.`,
    );
  }
  const binary: Volume = {
    ...rawLabel,
    data: applyLabelMap(rawLabel.data, labelMap),
    meta: { ...rawLabel.meta, datatype: 'uint8' },
  };
  const prepared = prepareForNetwork(image, spec, binary);
  await mkdir(folder, { recursive: true });
  await writeNifti(prepared.grid, imagePath);
  await writeNifti(prepared.label!, labelPath);
  return toTrainingCase(pair.id, prepared.grid, prepared.label!);
}
