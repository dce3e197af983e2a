import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The demo model shipped with the package (`models/demo`), the default of `predict`. */
export const DEMO_MODEL_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'models',
  'demo',
);
