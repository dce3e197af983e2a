/**
 * Temporary folders for the specs, made and removed by mocha hooks of the enclosing `describe`.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder made by the `make` hook and removed by the `remove` hook. */
function hookedTempDir(
  prefix: string,
  make: Mocha.HookFunction,
  remove: Mocha.HookFunction,
): () => string {
  let dir = '';
  make(function () {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  remove(function () {
    rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}

/**
 * Gives every test of the enclosing `describe` a fresh, empty temporary folder, removed after
 * the test (mocha `beforeEach`/`afterEach`).
 *
 * @param prefix - Start of the folder's name, e.g. `'panknet-read-nifti-'`.
 * @returns A getter of the running test's folder.
 */
export function tempDirPerTest(prefix: string): () => string {
  return hookedTempDir(prefix, beforeEach, afterEach);
}

/**
 * Gives the enclosing `describe` one temporary folder, shared by its tests and removed after the
 * last (mocha `before`/`after`).
 *
 * @param prefix - Start of the folder's name, e.g. `'panknet-cv-'`.
 * @returns A getter of the folder.
 */
export function tempDirPerSuite(prefix: string): () => string {
  return hookedTempDir(prefix, before, after);
}
