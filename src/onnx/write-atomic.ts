/**
 * Atomic file output: write beside the target, then rename over it, so that a reader never
 * sees half a file and an interrupted export leaves the previous file in place.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { InputFileError } from '../util/errors.js';

/**
 * Writes `bytes` to `path` through a temporary file in the same folder and a rename.
 *
 * @param path - Destination file; its folder is created when missing.
 * @param bytes - The complete contents.
 * @throws InputFileError naming `path` when the folder or file cannot be written.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const folder = dirname(path);
  const temp = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputFileError(
      path,
      `cannot write the file (${reason}). Check that the folder exists and is writable.`,
      { cause: error },
    );
  }
}
