#!/usr/bin/env node
import { Command, CommanderError } from 'commander';

import { PankNetError } from '../util/errors.js';
import { log, setLogLevel } from '../util/log.js';
import { COMMANDS } from './commands/index.js';

/** Exit code for bad input or a request that cannot be met (see the cases contract). */
export const EXIT_BAD_INPUT = 2;

function reportAndExit(error: unknown): never {
  if (error instanceof PankNetError) {
    process.stderr.write(`panknet: error: ${error.message}\n`);
    if (error.stack) log.debug(error.stack);
    process.exit(EXIT_BAD_INPUT);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `panknet: error: internal error: ${message}. ` +
      'Please report it; run again with --verbose to print the stack trace.\n',
  );
  if (error instanceof Error && error.stack) log.debug(error.stack);
  process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  // `--verbose` anywhere on the line: debug logs and stack traces of unexpected errors.
  if (argv.includes('--verbose')) {
    setLogLevel('debug');
    argv = argv.filter((arg) => arg !== '--verbose');
  }
  const program = new Command('panknet')
    .description('PankNet pancreas segmentation: volume tools, training, inference, evaluation')
    .option('--verbose', 'print debug logs and the stack trace of unexpected errors')
    // Usage errors follow the one-line contract too: `panknet: error: <problem>`.
    .configureOutput({
      outputError: (message, write) => {
        const line = message.trimEnd().replace(/([^.])$/, '$1.');
        write(`panknet: ${line} Run with --help for usage.\n`);
      },
    })
    .exitOverride();
  for (const register of COMMANDS) register(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) process.exit(0);
      process.exit(EXIT_BAD_INPUT);
    }
    reportAndExit(error);
  }
}

void main(process.argv);
