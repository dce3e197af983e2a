import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';

import { InputFileError } from '../util/errors.js';

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Refuses an output path that names the input itself, which would replace the user's image.
 *
 * @throws InputFileError naming the output, with the fix.
 */
export function refuseOverwritingInput(input: string, output: string): void {
  if (canonical(input) === canonical(output)) {
    throw new InputFileError(
      output,
      'is the input itself; writing there would replace the image. Choose another output path.',
    );
  }
}
