/**
 * Runs the built `panknet` CLI (`node dist/cli/main.js`) as a child process, for the specs that
 * test it from outside.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { CLI_PATH } from './data.js';

/** What a CLI run left: exit code (null when killed by a signal) and its output. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of `runCli`. */
export interface RunCliOptions {
  /** Kill the process after this many milliseconds (default 300000). */
  timeoutMs?: number;
  /** Environment variables set on top of this process's environment. */
  env?: Record<string, string>;
  /** Working folder of the child (default: this process's). */
  cwd?: string;
}

/**
 * Runs `node dist/cli/main.js ...args` and waits for it.
 *
 * @param args - Command-line arguments after `main.js`.
 * @param options - Timeout, extra environment, working folder.
 * @throws Error when the CLI is not built (`npm run build`).
 */
export function runCli(args: readonly string[], options: RunCliOptions = {}): CliRun {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`CLI not built: ${CLI_PATH} is missing. Run \`npm run build\` first.`);
  }
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}
