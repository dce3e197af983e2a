/**
 * The part of the VS Code extension API that this extension uses. The project does not install
 * `@types/vscode`, so these few declarations follow the VS Code API reference (engine 1.85);
 * the extension host provides the real module at run time.
 */
declare module 'vscode' {
  export interface Disposable {
    dispose(): unknown;
  }
  export interface ExtensionContext {
    readonly subscriptions: Disposable[];
  }
  export interface OutputChannel extends Disposable {
    append(value: string): void;
    appendLine(value: string): void;
    show(preserveFocus?: boolean): void;
  }
  export class Uri {
    static file(path: string): Uri;
    readonly fsPath: string;
  }
  export interface WorkspaceFolder {
    readonly uri: Uri;
    readonly name: string;
    readonly index: number;
  }
  export interface WorkspaceConfiguration {
    get<T>(section: string): T | undefined;
  }
  export interface NotebookDocument {
    readonly uri: Uri;
  }
  export interface NotebookEditor {
    readonly notebook: NotebookDocument;
  }
  export interface QuickPickItem {
    label: string;
    description?: string;
    detail?: string;
  }
  export namespace commands {
    function registerCommand(
      command: string,
      callback: (...args: unknown[]) => unknown,
    ): Disposable;
    function executeCommand<T = unknown>(command: string, ...rest: unknown[]): Thenable<T>;
  }
  export namespace window {
    const activeNotebookEditor: NotebookEditor | undefined;
    function createOutputChannel(name: string): OutputChannel;
    function showInformationMessage<T extends string>(
      message: string,
      ...items: T[]
    ): Thenable<T | undefined>;
    function showErrorMessage<T extends string>(
      message: string,
      ...items: T[]
    ): Thenable<T | undefined>;
    function showQuickPick<T extends QuickPickItem>(
      items: readonly T[],
      options?: { placeHolder?: string },
    ): Thenable<T | undefined>;
    function showNotebookDocument(document: NotebookDocument): Thenable<NotebookEditor>;
  }
  export namespace workspace {
    const workspaceFolders: readonly WorkspaceFolder[] | undefined;
    function getConfiguration(section?: string): WorkspaceConfiguration;
    function openNotebookDocument(uri: Uri): Thenable<NotebookDocument>;
  }
}
