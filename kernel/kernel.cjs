'use strict';
/**
 * Entry of the PankNet Jupyter kernel: tslab's TypeScript kernel, set up so that cells can
 * `import { ... } from 'panknet'` (typed) from any folder. `show.*` (src/display/show.ts) finds
 * this kernel's display channel through tslab's own loaded module, so nothing is set up for it.
 *
 * Usage (written into kernel.json by `kernel/install.js`):
 *   node kernel/kernel.cjs --module-root <dir> --config-path <connection file>
 * where `<dir>/node_modules/panknet` links to the project root. Run-time `require` finds it
 * through `NODE_PATH` (set by the kernelspec); tslab's TypeScript compiler does not read
 * `NODE_PATH`, so lookups of `<cwd>/node_modules/<name>` for the packages under `<dir>` are
 * forwarded there, the way tslab itself forwards `<cwd>/node_modules/tslab`.
 */
const fs = require('node:fs');
const { createRequire } = require('node:module');
const path = require('node:path');

function parseArgs(argv) {
  const options = { moduleRoot: '', configPath: '' };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    if (arg === '--module-root') options.moduleRoot = argv[++index] ?? '';
    else if (arg === '--config-path') options.configPath = argv[++index] ?? '';
    else {
      process.stderr.write(`panknet kernel: unknown argument ${JSON.stringify(arg)}.\n`);
      process.exit(2);
    }
  }
  if (!options.configPath) {
    process.stderr.write('panknet kernel: --config-path <connection file> is required.\n');
    process.exit(2);
  }
  return options;
}

/** Package names (scoped ones as `@scope/name`) found in `modulesDir`. */
function listPackages(modulesDir) {
  const names = new Set();
  for (const entry of fs.readdirSync(modulesDir)) {
    if (!entry.startsWith('@')) {
      names.add(entry);
      continue;
    }
    for (const inner of fs.readdirSync(path.join(modulesDir, entry))) {
      names.add(`${entry}/${inner}`);
    }
  }
  return names;
}

/**
 * Makes the TypeScript compiler used by tslab see `<cwd>/node_modules/<name>` as
 * `<moduleRoot>/node_modules/<name>` for each package there, unless the folder of the notebook
 * has its own copy (which then wins, as it would for Node).
 */
function forwardCompilerLookups(ts, moduleRoot) {
  const fallbackDir = path.join(moduleRoot, 'node_modules');
  const packages = listPackages(fallbackDir);
  const localDir = path.join(process.cwd(), 'node_modules');
  const sys = ts.sys;
  const original = {
    fileExists: sys.fileExists.bind(sys),
    directoryExists: sys.directoryExists.bind(sys),
  };

  const forward = (file) => {
    if (typeof file !== 'string') return file;
    const rel = path.relative(localDir, file);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return file;
    const parts = rel.split(path.sep);
    const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    if (!packages.has(name)) return file;
    if (original.directoryExists(path.join(localDir, name))) return file;
    return path.join(fallbackDir, rel);
  };

  const methods = ['fileExists', 'directoryExists', 'readFile', 'realpath', 'getDirectories'];
  for (const method of methods) {
    const fn = sys[method];
    if (typeof fn !== 'function') continue;
    const bound = fn.bind(sys);
    sys[method] = (file, ...rest) => bound(forward(file), ...rest);
  }
  const readDirectory = sys.readDirectory.bind(sys);
  sys.readDirectory = (dir, ...rest) => readDirectory(forward(dir), ...rest);
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const tslabMain = require('tslab/dist/main.js');
  const tslabVersion = require('tslab/package.json').version;
  // The compiler instance tslab itself loads, resolved from tslab's folder.
  const fromTslab = createRequire(require.resolve('tslab/dist/main.js'));
  const ts = fromTslab('@tslab/typescript-for-tslab');

  if (options.moduleRoot) {
    if (!fs.existsSync(path.join(options.moduleRoot, 'node_modules'))) {
      process.stderr.write(
        `panknet kernel: ${options.moduleRoot}/node_modules does not exist. ` +
          'Reinstall the kernel with `npm run kernel:install`.\n',
      );
      process.exit(2);
    }
    forwardCompilerLookups(ts, options.moduleRoot);
  }

  // enableFindLocal false: a tslab under the notebook's folder would not get the set-up above.
  tslabMain.startKernel({
    configPath: options.configPath,
    enableFindLocal: false,
    jsKernel: false,
    globalVersion: tslabVersion,
  });
}

main();
