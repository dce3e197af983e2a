import type { Command } from 'commander';

/** Adds one sub-command to the program. */
export type RegisterCommand = (program: Command) => void;

/** Every sub-command of `panknet`, in the order `--help` lists them. */
export const COMMANDS: RegisterCommand[] = [];
