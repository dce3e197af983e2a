import cliProgress from 'cli-progress';

import type { ProgressCallback } from '../util/log.js';

/**
 * A progress callback that draws a bar with ETA on stderr, one bar per stage. Quiet when stderr
 * is not a terminal unless `force` is set, so that logs and CI output stay readable.
 *
 * @returns The callback and `stop()`, to call when the work ends or fails.
 */
export function createProgressBar(force = false): { onProgress: ProgressCallback; stop(): void } {
  const enabled = force || process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let stage = '';
  const stop = (): void => {
    bar?.stop();
    bar = undefined;
  };
  const onProgress: ProgressCallback = (event) => {
    if (!enabled) return;
    if (bar === undefined || event.stage !== stage) {
      stop();
      stage = event.stage;
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${stage.padEnd(12)} [{bar}] {value}/{total} | {percentage}% | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
          noTTYOutput: force && process.stderr.isTTY !== true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(event.total, event.done);
    }
    bar.setTotal(event.total);
    bar.update(event.done);
    if (event.done >= event.total) stop();
  };
  return { onProgress, stop };
}
