import { stat } from 'node:fs/promises';

import { InputFileError } from '../util/errors.js';
import { readDicomSeries } from './read-dicom.js';
import { readNifti } from './read-nifti.js';
import type { Volume } from './volume.js';

/** Options of `readVolume`. */
export interface ReadVolumeOptions {
  /** DICOM: the series to read, by SeriesInstanceUID or by 0-based index in the listing. */
  series?: string;
  /** NIfTI 4D: the time point to read (default: error unless there is exactly one). */
  frame?: number;
}

/**
 * Reads a volume from a NIfTI file (`.nii`, `.nii.gz`), a DICOM folder or one DICOM file.
 *
 * @param path - File or folder.
 * @param options - Series and frame choice.
 * @returns The volume, geometry in RAS+ mm.
 * @throws InputFileError when the path is missing, of an unknown kind, or unreadable.
 */
export async function readVolume(path: string, options: ReadVolumeOptions = {}): Promise<Volume> {
  const info = await stat(path).catch((cause: unknown) => {
    throw new InputFileError(path, 'no such file or folder. Check the path.', { cause });
  });
  if (info.isDirectory()) return readDicomSeries(path, options);
  if (/\.nii(\.gz)?$/i.test(path)) return readNifti(path, options);
  return readDicomSeries(path, options);
}
