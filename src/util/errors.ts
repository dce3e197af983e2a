/**
 * Error classes of PankNet-TS. Every message says where, what was found versus expected, and
 * what to do; the CLI prints `message` as one line and exits with code 2.
 */

/** Base class of every error the library throws on purpose. */
export class PankNetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PankNetError';
  }
}

/** A tensor or array has the wrong rank, size or layout. */
export class ShapeError extends PankNetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShapeError';
  }
}

/** An input file is missing, unreadable, truncated, corrupt or inconsistent. */
export class InputFileError extends PankNetError {
  /** The file (or folder) that caused the error. */
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = 'InputFileError';
    this.file = file;
  }
}

/** Model weights are missing, of the wrong shape or from an incompatible checkpoint. */
export class WeightsError extends PankNetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeightsError';
  }
}

/** A compute backend or engine cannot be loaded or lacks a needed kernel. */
export class BackendError extends PankNetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
  }
}

/** A legal request this version does not support; the message names the workaround. */
export class UnsupportedError extends PankNetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnsupportedError';
  }
}
