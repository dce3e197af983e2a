/**
 * PankNet Notebooks extension host: the renderers need no activation (VS Code loads them from
 * the manifest); this code adds the two commands, "install or select the PankNet kernel" and
 * "open the tutorials".
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as vscode from 'vscode';

/** Name in the package.json of the PankNet project. */
const PROJECT_NAME = 'panknet';

function isPankNetFolder(folder: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as {
      name?: unknown;
    };
    return manifest.name === PROJECT_NAME;
  } catch {
    return false;
  }
}

/**
 * The PankNet folder: the `panknet.projectPath` setting, else the first workspace folder whose
 * package.json is named `panknet`.
 *
 * @throws Error telling the user how to point the extension at the project.
 */
export function findProject(): string {
  const configured = vscode.workspace.getConfiguration('panknet').get<string>('projectPath');
  if (configured) {
    if (!isPankNetFolder(configured)) {
      throw new Error(
        `panknet.projectPath "${configured}" has no package.json named "panknet"; ` +
          'set it to the PankNet project folder.',
      );
    }
    return configured;
  }
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    if (isPankNetFolder(folder.uri.fsPath)) return folder.uri.fsPath;
  }
  throw new Error(
    'no PankNet project is open. Open the PankNet folder, or set panknet.projectPath to it.',
  );
}

function runInstaller(project: string, output: vscode.OutputChannel): Promise<void> {
  const node = vscode.workspace.getConfiguration('panknet').get<string>('nodePath') || 'node';
  const script = join(project, 'kernel', 'install.js');
  if (!existsSync(script)) {
    return Promise.reject(
      new Error(`${script} is missing; update the PankNet project (kernel/install.js).`),
    );
  }
  output.appendLine(`$ ${node} ${script} --user`);
  return new Promise((resolve, reject) => {
    const child = execFile(node, [script, '--user'], { cwd: project }, (error) => {
      if (error) {
        reject(new Error(`the kernel installer failed (${error.message.split('\n')[0]})`));
      } else {
        resolve();
      }
    });
    child.stdout?.on('data', (chunk: Buffer) => output.append(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.append(chunk.toString()));
  });
}

async function installKernel(output: vscode.OutputChannel): Promise<void> {
  try {
    await runInstaller(findProject(), output);
    const choice = await vscode.window.showInformationMessage(
      'PankNet kernel installed. Pick "PankNet (TypeScript)" as the notebook kernel.',
      'Select Kernel',
    );
    if (choice === 'Select Kernel' && vscode.window.activeNotebookEditor) {
      await vscode.commands.executeCommand('notebook.selectKernel');
    }
  } catch (error) {
    output.appendLine(String(error));
    const choice = await vscode.window.showErrorMessage(
      `PankNet: ${(error as Error).message}`,
      'Show Output',
    );
    if (choice === 'Show Output') output.show();
  }
}

async function openTutorials(): Promise<void> {
  try {
    const folder = join(findProject(), 'notebooks');
    if (!existsSync(folder)) throw new Error(`${folder} is missing; update the PankNet project.`);
    const notebooks = readdirSync(folder)
      .filter((name) => name.endsWith('.ipynb'))
      .sort();
    if (notebooks.length === 0) {
      await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(folder), {
        forceNewWindow: true,
      });
      return;
    }
    const picked = await vscode.window.showQuickPick(
      notebooks.map((name) => ({ label: name, detail: join(folder, name) })),
      { placeHolder: 'PankNet tutorial to open' },
    );
    if (!picked?.detail) return;
    const document = await vscode.workspace.openNotebookDocument(vscode.Uri.file(picked.detail));
    await vscode.window.showNotebookDocument(document);
  } catch (error) {
    await vscode.window.showErrorMessage(`PankNet: ${(error as Error).message}`);
  }
}

/** Called by VS Code on the first use of a PankNet command. */
export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('PankNet');
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand('panknet.installKernel', () => installKernel(output)),
    vscode.commands.registerCommand('panknet.openTutorials', () => openTutorials()),
  );
}

/** Nothing to release beyond the subscriptions. */
export function deactivate(): void {}
