/**
 * The library's one logger. Quiet by default (`warn`); raised with `setLogLevel` or the
 * `PANKNET_LOG` environment variable. The sink is injectable so that tests and the CLI decide
 * where lines go; library code never calls `console.*` directly.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Receives one formatted message per call. */
export type LogSink = (level: Exclude<LogLevel, 'silent'>, message: string) => void;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

function levelFromEnv(): LogLevel {
  const value = process.env.PANKNET_LOG;
  return value !== undefined && value in LEVEL_RANK ? (value as LogLevel) : 'warn';
}

const defaultSink: LogSink = (level, message) => {
  process.stderr.write(`panknet: ${level === 'warn' ? 'warning' : level}: ${message}\n`);
};

let currentLevel: LogLevel = levelFromEnv();
let currentSink: LogSink = defaultSink;

/** Sets the lowest level that is emitted. */
export function setLogLevel(level: LogLevel): void {
  currentLevel = level;
}

/** Returns the lowest level that is emitted. */
export function getLogLevel(): LogLevel {
  return currentLevel;
}

/**
 * Replaces where log lines go; returns the previous sink so that a caller can restore it.
 *
 * @param sink - The new sink, or `undefined` for the default (stderr, `panknet: <level>:`).
 */
export function setLogSink(sink: LogSink | undefined): LogSink {
  const previous = currentSink;
  currentSink = sink ?? defaultSink;
  return previous;
}

function emit(level: Exclude<LogLevel, 'silent'>, message: string): void {
  if (LEVEL_RANK[level] >= LEVEL_RANK[currentLevel]) currentSink(level, message);
}

/** The named logger used by every module of the library. */
export const log = {
  debug: (message: string): void => emit('debug', message),
  info: (message: string): void => emit('info', message),
  warn: (message: string): void => emit('warn', message),
  error: (message: string): void => emit('error', message),
};

/** One progress report of long work; consumers draw bars, the library never does. */
export interface ProgressEvent {
  /** What is running, e.g. `windows`, `epoch 3`, `weights`. */
  stage: string;
  /** Units finished so far. */
  done: number;
  /** Units in all. */
  total: number;
}

/** Callback that long-running functions accept as `onProgress`. */
export type ProgressCallback = (event: ProgressEvent) => void;
