import type { Command } from 'commander';

import { registerConvert } from './convert.js';
import { registerCv } from './cv.js';
import { registerEvaluate } from './evaluate.js';
import { registerExportOnnx } from './export-onnx.js';
import { registerImportS3d } from './import-s3d.js';
import { registerInfo } from './info.js';
import { registerPredict } from './predict.js';
import { registerView } from './view.js';
import { registerSummary } from './summary.js';
import { registerTrain } from './train.js';

/** Adds one sub-command to the program. */
export type RegisterCommand = (program: Command) => void;

/** Every sub-command of `panknet`, in the order `--help` lists them. */
export const COMMANDS: RegisterCommand[] = [
  registerInfo,
  registerConvert,
  registerPredict,
  registerTrain,
  registerEvaluate,
  registerCv,
  registerView,
  registerSummary,
  registerImportS3d,
  registerExportOnnx,
];
