import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { unzipSync } from 'fflate';

import { PANKNET_MIMES } from '../../src/display/mime-types.js';
import { PROJECT_ROOT } from '../helpers/data.js';

const run = promisify(execFile);
const EXTENSION = join(PROJECT_ROOT, 'extension');

interface RendererContribution {
  id: string;
  entrypoint: string;
  mimeTypes: string[];
}

/** A recording stand-in for the `vscode` module (VS Code itself cannot run here). */
const VSCODE_STAND_IN = `
const state = { commands: {}, messages: [], output: [], config: {} };
module.exports = {
  __state: state,
  Uri: { file: (p) => ({ fsPath: p }) },
  commands: {
    registerCommand: (id, fn) => { state.commands[id] = fn; return { dispose() {} }; },
    executeCommand: async (id, ...args) => { state.messages.push(['execute', id]); },
  },
  window: {
    activeNotebookEditor: undefined,
    createOutputChannel: () => ({
      append: (t) => state.output.push(t), appendLine: (t) => state.output.push(t + '\\n'),
      show() {}, dispose() {},
    }),
    showInformationMessage: async (m) => { state.messages.push(['info', m]); },
    showErrorMessage: async (m) => { state.messages.push(['error', m]); },
    showQuickPick: async (items) => { state.messages.push(['pick', items.map((i) => i.label)]); },
    showNotebookDocument: async () => ({}),
  },
  workspace: {
    workspaceFolders: [],
    getConfiguration: () => ({ get: (key) => state.config[key] }),
    openNotebookDocument: async () => ({}),
  },
};
`;

describe('VS Code extension', function () {
  this.timeout(180_000);
  let files: Record<string, Uint8Array>;

  before(async () => {
    await run('npm', ['run', 'package'], { cwd: EXTENSION });
    files = unzipSync(readFileSync(join(EXTENSION, 'panknet-notebooks.vsix')));
  });

  it('packages offline into a .vsix contributing one renderer per PankNet MIME type', () => {
    const manifest = JSON.parse(new TextDecoder().decode(files['extension/package.json'])) as {
      main: string;
      contributes: { notebookRenderer: RendererContribution[]; commands: { command: string }[] };
    };
    const renderers = manifest.contributes.notebookRenderer;
    assert.deepEqual(
      renderers.map((r) => r.mimeTypes),
      PANKNET_MIMES.map((mime) => [mime]),
    );
    for (const renderer of renderers) {
      const path = `extension/${renderer.entrypoint.replace(/^\.\//, '')}`;
      assert.ok(files[path], `${path} in the vsix`);
      const name = path.split('/').pop() ?? '';
      const built = readFileSync(join(PROJECT_ROOT, 'renderers', 'dist', name));
      assert.ok(Buffer.from(files[path]).equals(built), `${path} is the built renderer`);
      assert.match(new TextDecoder().decode(files[path]), /export\s*\{[^}]*as activate\s*\}/);
    }
    assert.ok(files[`extension/${manifest.main.replace(/^\.\//, '')}`]);
    assert.deepEqual(
      manifest.contributes.commands.map((c) => c.command),
      ['panknet.installKernel', 'panknet.openTutorials'],
    );
    // The bundle carries no sources or node_modules.
    assert.deepEqual(
      Object.keys(files).filter((name) => /\/(src|node_modules)\//.test(name)),
      [],
    );
  });

  it('runs "node <project>/kernel/install.js --user" (with a stand-in vscode module)', async () => {
    const sandbox = mkdtempSync(join(tmpdir(), 'panknet-extension-'));
    try {
      mkdirSync(join(sandbox, 'node_modules', 'vscode'), { recursive: true });
      writeFileSync(join(sandbox, 'node_modules', 'vscode', 'index.js'), VSCODE_STAND_IN);
      copyFileSync(join(EXTENSION, 'dist', 'extension.cjs'), join(sandbox, 'extension.cjs'));
      const project = join(sandbox, 'project');
      mkdirSync(join(project, 'kernel'), { recursive: true });
      writeFileSync(join(project, 'package.json'), '{"name": "panknet"}');
      writeFileSync(
        join(project, 'kernel', 'install.js'),
        'const args = JSON.stringify(process.argv.slice(2));' +
          "require('fs').writeFileSync(__dirname + '/args.json', args);" +
          "console.log('kernel installed');",
      );

      const require = createRequire(join(sandbox, 'extension.cjs'));
      const vscode = require('vscode') as {
        __state: {
          commands: Record<string, () => Promise<void>>;
          messages: unknown[];
          output: string[];
          config: Record<string, string>;
        };
      };
      const extension = require('./extension.cjs') as {
        activate(context: { subscriptions: unknown[] }): void;
      };
      const context = { subscriptions: [] as unknown[] };
      extension.activate(context);
      assert.equal(context.subscriptions.length, 3);
      const { __state: state } = vscode;

      // Without a project: an error that says how to point at one.
      await state.commands['panknet.installKernel']();
      assert.match(String(state.messages.at(-1)), /no PankNet project is open/);

      state.config.projectPath = project;
      state.config.nodePath = process.execPath;
      await state.commands['panknet.installKernel']();
      assert.deepEqual(JSON.parse(readFileSync(join(project, 'kernel', 'args.json'), 'utf8')), [
        '--user',
      ]);
      assert.match(state.output.join(''), /kernel installed/);
      assert.match(String(state.messages.at(-1)), /^info,PankNet kernel installed/);

      mkdirSync(join(project, 'notebooks'));
      writeFileSync(join(project, 'notebooks', '02-train.ipynb'), '{}');
      writeFileSync(join(project, 'notebooks', '01-view.ipynb'), '{}');
      await state.commands['panknet.openTutorials']();
      assert.deepEqual(state.messages.at(-1), ['pick', ['01-view.ipynb', '02-train.ipynb']]);
    } finally {
      rmSync(sandbox, { recursive: true, force: true });
    }
  });
});
