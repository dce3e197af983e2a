#!/usr/bin/env node
/**
 * Installs (or removes) the `panknet` Jupyter kernelspec: tslab's TypeScript kernel started by
 * this Node binary through `kernel/kernel.cjs`, with `import ... from 'panknet'` working (typed)
 * from any folder.
 *
 *   npm run kernel:install [-- --user | --prefix <dir> | --sys-prefix] [--uninstall]
 *
 * Default location: `--user`. The kernelspec folder holds `kernel.json` (absolute paths to this
 * Node binary and to `kernel/kernel.cjs`) and `node_modules/panknet`, a link to this project,
 * which the kernel uses as its module root. Jupyter is `$JUPYTER` when set, else the first of
 * `/usr/bin/jupyter`, `jupyter` on PATH, `python3 -m jupyter` (Debian's `/usr/bin/python3` first).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Name of the kernelspec (the folder under `share/jupyter/kernels/`). */
export const KERNEL_NAME = 'panknet';

/** What Jupyter front ends list. */
export const DISPLAY_NAME = 'PankNet (TypeScript)';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KERNEL_ENTRY = join(PROJECT_ROOT, 'kernel', 'kernel.cjs');

class InstallError extends Error {}

const USAGE = [
  'usage: node kernel/install.js [--user | --prefix <dir> | --sys-prefix] [--uninstall]',
  '  --user        install for this user (default)',
  '  --prefix DIR  install into DIR/share/jupyter/kernels/panknet',
  '  --sys-prefix  install into the Python environment of Jupyter',
  '  --uninstall   remove the panknet kernelspec from that location',
].join('\n');

function parseArgs(argv) {
  const options = { where: 'user', prefix: '', uninstall: false };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    if (arg === '--user') options.where = 'user';
    else if (arg === '--sys-prefix') options.where = 'sys-prefix';
    else if (arg === '--prefix' || arg.startsWith('--prefix=')) {
      const value = arg === '--prefix' ? argv[++index] : arg.slice('--prefix='.length);
      if (!value) throw new InstallError(`--prefix needs a folder.\n${USAGE}`);
      options.where = 'prefix';
      options.prefix = resolve(value);
    } else if (arg === '--uninstall') options.uninstall = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new InstallError(`unknown argument ${JSON.stringify(arg)}.\n${USAGE}`);
  }
  return options;
}

/** Runs a command, capturing text output; never throws for a non-zero exit. */
function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { encoding: 'utf8', env });
  return {
    ok: !result.error && result.status === 0,
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
  };
}

/**
 * The first Jupyter command line that can list kernelspecs, as `[command, ...prefixArgs]`.
 * An explicit `$JUPYTER` is the only candidate: a user who names one means that one.
 */
function findJupyter() {
  const candidates = process.env.JUPYTER
    ? [[process.env.JUPYTER]]
    : [
        ['/usr/bin/jupyter'],
        ['jupyter'],
        ['/usr/bin/python3', '-m', 'jupyter'],
        ['python3', '-m', 'jupyter'],
      ];
  for (const [command, ...prefixArgs] of candidates) {
    if (command.startsWith('/') && !existsSync(command)) continue;
    if (run(command, [...prefixArgs, 'kernelspec', 'list', '--json']).ok) {
      return [command, ...prefixArgs];
    }
  }
  const tried = candidates.map((candidate) => candidate.join(' ')).join(', ');
  throw new InstallError(
    `Jupyter was not found (tried ${tried}). Install it, e.g. ` +
      '`sudo apt-get install jupyter-client python3-ipykernel` on Debian/Ubuntu or ' +
      '`pip install jupyter_client`, or set JUPYTER=/path/to/jupyter.',
  );
}

function locationArgs(options) {
  if (options.where === 'prefix') return ['--prefix', options.prefix];
  if (options.where === 'sys-prefix') return ['--sys-prefix'];
  return ['--user'];
}

/** Writes a file through a temp file and a rename, so that readers never see half of it. */
function writeFileAtomic(path, text) {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

function kernelJson(resourceDir) {
  return {
    argv: [
      process.execPath,
      KERNEL_ENTRY,
      '--module-root',
      resourceDir,
      // Separate from its flag: some front ends only substitute a whole argument.
      '--config-path',
      '{connection_file}',
    ],
    display_name: DISPLAY_NAME,
    language: 'typescript',
    interrupt_mode: 'signal',
    env: { NODE_PATH: join(resourceDir, 'node_modules') },
    metadata: { panknet: { projectRoot: PROJECT_ROOT } },
  };
}

function install(jupyter, options) {
  const [command, ...prefixArgs] = jupyter;
  if (!existsSync(join(PROJECT_ROOT, 'dist', 'index.js'))) {
    process.stderr.write(
      `kernel:install: warning: ${join(PROJECT_ROOT, 'dist', 'index.js')} is missing; ` +
        'run `npm run build` before using the kernel.\n',
    );
  }

  // Stage a kernelspec without links: Jupyter copies the folder and would follow a link.
  const staging = mkdtempSync(join(tmpdir(), 'panknet-kernelspec-'));
  // mkdtemp makes it 0700 and Jupyter keeps the mode: others could not read the kernelspec.
  chmodSync(staging, 0o755);
  try {
    writeFileSync(join(staging, 'kernel.json'), JSON.stringify(kernelJson(staging), null, 2));
    const args = [...prefixArgs, 'kernelspec', 'install', staging, '--name', KERNEL_NAME];
    const result = run(command, [...args, '--replace', ...locationArgs(options)]);
    if (!result.ok) {
      throw new InstallError(
        `\`${[command, ...args].join(' ')}\` failed:\n${result.stderr.trim()}\n` +
          'Check that you may write to that location, or use --user or --prefix <dir>.',
      );
    }
    const match = /Installed kernelspec \S+ in (.+)$/m.exec(`${result.stderr}\n${result.stdout}`);
    if (!match) {
      throw new InstallError(
        `Jupyter did not say where it installed the kernelspec:\n${result.stderr.trim()}`,
      );
    }
    return finishInstall(match[1].trim());
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Adds the module root link and the final kernel.json inside the installed folder. */
function finishInstall(resourceDir) {
  const modulesDir = join(resourceDir, 'node_modules');
  mkdirSync(modulesDir, { recursive: true });
  const link = join(modulesDir, 'panknet');
  if (existsSync(link) || isLink(link)) unlinkSync(link);
  symlinkSync(PROJECT_ROOT, link, 'dir');
  const text = JSON.stringify(kernelJson(resourceDir), null, 2);
  writeFileAtomic(join(resourceDir, 'kernel.json'), text);
  return resourceDir;
}

function isLink(path) {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function uninstall(jupyter, options) {
  const [command, ...prefixArgs] = jupyter;
  const env = { ...process.env };
  if (options.where === 'prefix') {
    const data = join(options.prefix, 'share', 'jupyter');
    env.JUPYTER_PATH = env.JUPYTER_PATH ? `${data}:${env.JUPYTER_PATH}` : data;
  }
  const listed = run(command, [...prefixArgs, 'kernelspec', 'list', '--json'], env);
  const specs = listed.ok ? JSON.parse(listed.stdout).kernelspecs : {};
  const spec = specs[KERNEL_NAME];
  if (!spec) throw new InstallError(`no "${KERNEL_NAME}" kernelspec is installed there.`);
  const resourceDir = spec.resource_dir;
  if (options.where === 'prefix' && !resourceDir.startsWith(`${options.prefix}/`)) {
    throw new InstallError(`no "${KERNEL_NAME}" kernelspec under ${options.prefix}.`);
  }

  // Remove the link first so that no tool can ever descend into the project.
  const link = join(resourceDir, 'node_modules', 'panknet');
  if (isLink(link)) unlinkSync(link);
  const removed = run(command, [...prefixArgs, 'kernelspec', 'remove', '-y', KERNEL_NAME], env);
  if (!removed.ok) {
    throw new InstallError(`could not remove ${resourceDir}:\n${removed.stderr.trim()}`);
  }
  return resourceDir;
}

function main() {
  try {
    const options = parseArgs(process.argv.slice(2));
    const jupyter = findJupyter();
    if (options.uninstall) {
      const dir = uninstall(jupyter, options);
      process.stdout.write(`Removed the ${KERNEL_NAME} kernelspec from ${dir}\n`);
      return;
    }
    const dir = install(jupyter, options);
    process.stdout.write(`Installed the ${KERNEL_NAME} kernelspec ("${DISPLAY_NAME}") in ${dir}\n`);
    if (options.where === 'prefix') {
      process.stdout.write(
        `Jupyter finds it when JUPYTER_PATH includes ${join(options.prefix, 'share', 'jupyter')}\n`,
      );
    }
  } catch (error) {
    if (!(error instanceof InstallError)) throw error;
    process.stderr.write(`kernel:install: error: ${error.message}\n`);
    process.exitCode = 2;
  }
}

main();
