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
  /**
   * What the file is, for the error message (`'CSV'`, `'file'`). When given, a failure is thrown
   * as `InputFileError` naming the path: `cannot write the <what> (<reason>). Check that the
   * folder exists and is writable.` When omitted, the file-system error is rethrown as Node
   * raised it (with its `code`), for callers that word their own message.
   */
  what?: string;
}

/**
 * Writes `data` to `path` through a temporary file in the same folder (`.<name>.<random>.tmp`),
 * fsynced, then renamed over `path`. On any failure the temporary file is removed and `path`
 * is left as it was.
 *
 * @param path - Destination file.
 * @param data - The complete contents: bytes, or text written as UTF-8.
 * @param options - Folder creation and error wording.
 * @throws InputFileError naming `path` when `options.what` is given; otherwise the Node error.
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
    if (options.what === undefined) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new InputFileError(
      path,
      `cannot write the ${options.what} (${reason}). Check that the folder exists and is writable.`,
      { cause },
    );
  }
}
