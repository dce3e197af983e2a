/**
 * Atomic file output: write beside the target, flush to disk, then rename over it, so that a
 * reader never sees half a file and an interrupted write leaves the previous file in place.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { InputFileError } from './errors.js';

/** Options of `writeFileAtomic`. */
export interface WriteFileAtomicOptions {
  /** Create the destination folder (and its parents) when missing (default false). */
  createFolder?: boolean;
  /** What the file is, for the error message (default `'file'`, e.g. `'CSV'`, `'mask'`). */
  what?: string;
}

/** Words a file-system failure as `<problem>. <what to do>`. */
function writeProblem(cause: unknown, what: string): string {
  const code = (cause as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return `cannot write the ${what}: its folder does not exist. Create the folder first`;
    case 'EISDIR':
      return `cannot write the ${what}: this path is a folder. Give a file name`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `cannot write the ${what}: the folder is not writable (${code}). Choose another place`;
    case 'ENOSPC':
      return `cannot write the ${what}: the disk is full. Free space and try again`;
    default: {
      const reason = cause instanceof Error ? cause.message : String(cause);
      return `cannot write the ${what} (${reason}). Check that the folder exists and is writable`;
    }
  }
}

/**
 * Writes `data` to `path` through a temporary file in the same folder (`.<name>.<random>.tmp`),
 * fsynced, then renamed over `path`. On any failure the temporary file is removed and `path`
 * is left as it was.
 *
 * @param path - Destination file.
 * @param data - The complete contents: bytes, or text written as UTF-8.
 * @param options - Folder creation and error wording.
 * @throws InputFileError naming `path`, what went wrong and what to do.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const folder = dirname(path);
  const temp = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    if (options.createFolder) await mkdir(folder, { recursive: true });
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { force: true });
    throw new InputFileError(path, `${writeProblem(cause, options.what ?? 'file')}.`, { cause });
  }
}
