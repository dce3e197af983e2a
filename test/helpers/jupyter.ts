/**
 * Real Jupyter for the end-to-end tests: installs the `panknet` kernelspec into a temp prefix
 * and drives it through `jupyter-driver.py` (jupyter_client / nbclient) with Debian's Python.
 * Needs the Debian packages jupyter-client, python3-nbclient, python3-ipykernel (and
 * python3-nibabel for independent expectations); a missing one fails the test with its name.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from './data.js';

const execFileAsync = promisify(execFile);

/** Debian's Python, which has Jupyter (the `python3` on PATH may be a pyenv one without). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** The kernelspec installer under test. */
export const KERNEL_INSTALLER = join(PROJECT_ROOT, 'kernel', 'install.js');

const DRIVER = join(PROJECT_ROOT, 'test', 'helpers', 'jupyter-driver.py');

/** Large enough for a few volume payloads (a few MB of JSON each). */
const MAX_BUFFER = 512 * 1024 * 1024;

/** Output of a command that exited. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; a non-zero exit is returned, not thrown. */
export async function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      env,
      maxBuffer: MAX_BUFFER,
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? String(error),
    };
  }
}

/** Fails (never skips) when Debian's Python lacks what the driver needs, naming the packages. */
export async function checkJupyterPython(): Promise<void> {
  const probe = 'import jupyter_client, nbclient, nbformat, ipykernel, nibabel';
  const result = await runCommand(SYSTEM_PYTHON, ['-c', probe]);
  if (result.code !== 0) {
    throw new Error(
      `${SYSTEM_PYTHON} cannot run the Jupyter tests (${result.stderr.trim()}). Install the ` +
        'Debian packages: apt-get install jupyter-client python3-nbclient python3-ipykernel ' +
        'python3-nibabel',
    );
  }
}

/** A kernelspec installed for one test run. */
export interface InstalledKernel {
  /** The `--prefix` given to the installer. */
  prefix: string;
  /** `<prefix>/share/jupyter`, to put in JUPYTER_PATH. */
  jupyterPath: string;
  /** `<prefix>/share/jupyter/kernels/panknet`. */
  resourceDir: string;
  /** What the installer printed. */
  stdout: string;
}

/**
 * Installs the kernelspec with `node kernel/install.js --prefix <fresh temp dir>`.
 *
 * @throws Error with the installer's output when it fails.
 */
export async function installKernelspec(): Promise<InstalledKernel> {
  const prefix = mkdtempSync(join(tmpdir(), 'panknet-jupyter-'));
  const result = await runCommand(process.execPath, [KERNEL_INSTALLER, '--prefix', prefix]);
  if (result.code !== 0) {
    throw new Error(`kernel install failed (${result.code}):\n${result.stderr}${result.stdout}`);
  }
  const jupyterPath = join(prefix, 'share', 'jupyter');
  return {
    prefix,
    jupyterPath,
    resourceDir: join(jupyterPath, 'kernels', 'panknet'),
    stdout: result.stdout,
  };
}

/** Environment in which Jupyter finds the test kernelspec first. */
export function jupyterEnv(jupyterPath: string): NodeJS.ProcessEnv {
  return { ...process.env, JUPYTER_PATH: jupyterPath, PYDEVD_DISABLE_FILE_VALIDATION: '1' };
}

/** One cell to run in a kernel session. */
export interface SessionStep {
  code: string;
  /** Seconds before the step counts as hung (default 30). */
  timeout?: number;
  /** Seconds after which the driver interrupts the kernel (SIGINT, as Jupyter does). */
  interrupt_after?: number;
}

/** One IOPub output of a step. */
export interface KernelOutput {
  type: 'stream' | 'display_data' | 'update_display_data' | 'execute_result' | 'error';
  name?: 'stdout' | 'stderr';
  text?: string;
  data?: Record<string, unknown>;
  display_id?: string | null;
  ename?: string;
  evalue?: string;
}

/** What a step did: execute_reply status (`ok`, `error`, `abort`, or `timeout`). */
export interface StepResult {
  status: string;
  elapsed: number;
  outputs: KernelOutput[];
}

/**
 * Starts the `panknet` kernel in `cwd`, runs the steps in order, shuts it down.
 *
 * @returns One result per step.
 */
export async function runKernelSession(
  kernel: InstalledKernel,
  cwd: string,
  steps: SessionStep[],
): Promise<StepResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'panknet-session-'));
  try {
    const specFile = join(dir, 'spec.json');
    const resultFile = join(dir, 'result.json');
    writeFileSync(specFile, JSON.stringify({ kernel: 'panknet', cwd, steps }));
    const totalS = steps.reduce((sum, step) => sum + (step.timeout ?? 30), 60);
    const args = [DRIVER, 'session', specFile, '--result', resultFile];
    const env = jupyterEnv(kernel.jupyterPath);
    const result = await runCommand(SYSTEM_PYTHON, args, env, totalS * 1000);
    if (result.code !== 0) {
      throw new Error(`kernel session failed (${result.code}):\n${result.stderr}`);
    }
    return (JSON.parse(readFileSync(resultFile, 'utf8')) as { steps: StepResult[] }).steps;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Options of `runNotebook`. */
export interface NotebookRunOptions {
  /** Seconds for the whole notebook. */
  timeoutS: number;
  /** Seconds for one cell. */
  cellTimeoutS: number;
  /** Working folder of the kernel (default: the notebook's folder). */
  cwd: string;
  /** Where to write the executed notebook, for a person to look at after a failure. */
  out?: string;
}

/** One executed code cell, outputs as nbformat stores them. */
export interface NotebookCellResult {
  index: number;
  outputs: Array<Record<string, unknown>>;
}

/** Outcome of a notebook run: `ok` false with `error` on any failing cell or timeout. */
export interface NotebookResult {
  ok: boolean;
  error: string | null;
  cells: NotebookCellResult[];
}

/** Executes a notebook top to bottom with nbclient on the test kernelspec. */
export async function runNotebook(
  kernel: InstalledKernel,
  path: string,
  options: NotebookRunOptions,
): Promise<NotebookResult> {
  const dir = mkdtempSync(join(tmpdir(), 'panknet-notebook-'));
  const resultFile = join(dir, 'result.json');
  const args = [DRIVER, 'notebook', path, '--result', resultFile, '--kernel', 'panknet'];
  args.push('--timeout', String(options.timeoutS), '--cell-timeout', String(options.cellTimeoutS));
  args.push('--cwd', options.cwd);
  if (options.out !== undefined) args.push('--out', options.out);
  const env = jupyterEnv(kernel.jupyterPath);
  try {
    const result = await runCommand(SYSTEM_PYTHON, args, env, (options.timeoutS + 60) * 1000);
    if (result.code !== 0) {
      throw new Error(`notebook driver failed (${result.code}) on ${path}:\n${result.stderr}`);
    }
    return JSON.parse(readFileSync(resultFile, 'utf8')) as NotebookResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Text of the stderr streams of a cell's outputs (tslab reports errors there). */
export function stderrOf(outputs: Array<Record<string, unknown>>): string {
  return outputs
    .filter((output) => output.output_type === 'stream' && output.name === 'stderr')
    .map((output) => String(output.text))
    .join('');
}
