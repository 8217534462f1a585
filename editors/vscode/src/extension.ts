// graphmer for VS Code: starts `graphmer lsp` and adds the "graphmer: Search code" and
// "graphmer: Rebuild index" commands, which go through the server's workspace/executeCommand.
import * as vscode from "vscode";
import { ExecuteCommandRequest, LanguageClient, LanguageClientOptions, ServerOptions, State } from "vscode-languageclient/node";
import {
  errorMessage,
  HitItem,
  hitToItem,
  parseHits,
  parseReindex,
  REINDEX_COMMAND,
  SearchHit,
  searchParams,
  serverNotRunningMessage,
} from "./search";
import { findExecutable } from "./executable";

// Languages the index covers (TSX/JSX included); the server gets their file documents.
const LANGUAGES = ["python", "javascript", "javascriptreact", "typescript", "typescriptreact", "java", "go", "rust"];

let client: LanguageClient | undefined;
// Settles (never rejects) once the current client's start succeeded or failed.
let starting: Promise<void> = Promise.resolve();
let startSettled = true;
let startError: string | undefined;
// Commands waiting for the server; a failed start then leaves the message to them.
let commandsWaiting = 0;
let output: vscode.OutputChannel | undefined;
let lastQuery = "";

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration("graphmer");
}

function serverPath(): string {
  return settings().get<string>("path")?.trim() || "graphmer";
}

function createClient(): LanguageClient {
  const serverArgs = settings().get<string[]>("serverArgs") ?? [];
  // No transport: the executable speaks LSP on stdio and gets no extra `--stdio` argument.
  // Its working directory is the workspace root, so a relative path resolves against it.
  const serverOptions: ServerOptions = { command: serverPath(), args: ["lsp", ...serverArgs] };
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ scheme: "file", language })),
    outputChannel: output,
  };
  // The id "graphmer" makes the client read the `graphmer.trace.server` setting.
  return new LanguageClient("graphmer", "graphmer", serverOptions, clientOptions);
}

function workspaceRoot(): string | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined;
}

/** Starts a fresh client; false (and no client) when the executable is not found. */
function startClient(): boolean {
  const command = serverPath();
  if (!findExecutable(command, workspaceRoot())) {
    client = undefined;
    startError = "executable not found";
    return false;
  }
  const c = createClient();
  client = c;
  startError = undefined;
  startSettled = false;
  starting = c.start().then(
    () => {
      startSettled = true;
    },
    (error: unknown) => {
      startSettled = true;
      startError = errorMessage(error);
      if (commandsWaiting === 0) {
        void showNotRunning();
      }
    },
  );
  return true;
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (!c) {
    return;
  }
  if (!startSettled) {
    // A client can only be stopped once its start is over.
    await starting;
  }
  if (isRunning(c)) {
    try {
      await c.dispose();
    } catch (error) {
      output?.appendLine(`stopping the language server failed: ${errorMessage(error)}`);
    }
  }
}

function isRunning(c: LanguageClient | undefined): boolean {
  return c?.state === State.Running;
}

async function showNotRunning(): Promise<void> {
  const openSettings = "Open Settings";
  const showOutput = "Show Output";
  const choice = await vscode.window.showErrorMessage(
    serverNotRunningMessage(serverPath(), startError),
    openSettings,
    showOutput,
  );
  if (choice === openSettings) {
    await vscode.commands.executeCommand("workbench.action.openSettings", "graphmer.path");
  } else if (choice === showOutput) {
    output?.show();
  }
}

/**
 * The client once it runs. A client that failed to start or stopped for good is replaced by a
 * fresh one first (graphmer may have been installed since); when that fails too, says so,
 * naming the `graphmer.path` setting.
 */
async function runningClient(): Promise<LanguageClient | undefined> {
  if (isRunning(client)) {
    return client;
  }
  if (!client || (startSettled && client.state === State.Stopped)) {
    await stopClient();
    if (!startClient()) {
      void showNotRunning();
      return undefined;
    }
  }
  commandsWaiting++;
  try {
    await starting;
    if (client?.state === State.Starting) {
      // Restarting after a crash: wait for that start.
      await client.start().catch(() => undefined);
    }
  } finally {
    commandsWaiting--;
  }
  if (isRunning(client)) {
    return client;
  }
  void showNotRunning();
  return undefined;
}

function initialQuery(): string {
  const editor = vscode.window.activeTextEditor;
  if (editor && !editor.selection.isEmpty && editor.selection.isSingleLine) {
    return editor.document.getText(editor.selection).trim();
  }
  return lastQuery;
}

async function openHit(hit: SearchHit): Promise<void> {
  const { start, end } = hit.range;
  const range = new vscode.Range(start.line, start.character, end.line, end.character);
  const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(hit.uri, true));
  const editor = await vscode.window.showTextDocument(document, { selection: range });
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

async function searchCode(): Promise<void> {
  const query = (
    await vscode.window.showInputBox({
      title: "graphmer: Search code",
      prompt: "Describe the code you are looking for, or give a name",
      value: initialQuery(),
      ignoreFocusOut: true,
    })
  )?.trim();
  if (!query) {
    return;
  }
  lastQuery = query;
  const c = await runningClient();
  if (!c) {
    return;
  }
  const config = settings();
  const params = searchParams(query, config.get("search.limit"), config.get("search.mode"));
  let hits: SearchHit[];
  try {
    hits = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `graphmer: searching "${query}"`, cancellable: true },
      async (_progress, token) => {
        try {
          return parseHits(await c.sendRequest(ExecuteCommandRequest.type, params, token));
        } catch (error) {
          if (token.isCancellationRequested) {
            return undefined;
          }
          throw error;
        }
      },
    ).then((result) => result ?? []);
  } catch (error) {
    void vscode.window.showErrorMessage(`graphmer: ${errorMessage(error)}`);
    return;
  }
  if (hits.length === 0) {
    void vscode.window.showInformationMessage(`graphmer: no hits for "${query}".`);
    return;
  }
  const items: (vscode.QuickPickItem & HitItem)[] = hits.map(hitToItem);
  const picked = await vscode.window.showQuickPick(items, {
    title: `graphmer: ${hits.length} hits for "${query}"`,
    placeHolder: "Choose a hit to open it (type to filter)",
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!picked) {
    return;
  }
  try {
    await openHit(picked.hit);
  } catch (error) {
    void vscode.window.showErrorMessage(`graphmer: cannot open ${picked.hit.path}: ${errorMessage(error)}`);
  }
}

async function reindexWorkspace(): Promise<void> {
  const c = await runningClient();
  if (!c) {
    return;
  }
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "graphmer: rebuilding the index" },
      async () => parseReindex(await c.sendRequest(ExecuteCommandRequest.type, { command: REINDEX_COMMAND, arguments: [] })),
    );
    void vscode.window.showInformationMessage(
      `graphmer: indexed ${result.symbols} symbols in ${result.files} files.`,
    );
  } catch (error) {
    void vscode.window.showErrorMessage(`graphmer: ${errorMessage(error)}`);
  }
}

export function activate(context: vscode.ExtensionContext): void {
  output = vscode.window.createOutputChannel("graphmer");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("graphmer.searchCode", searchCode),
    vscode.commands.registerCommand("graphmer.reindexWorkspace", reindexWorkspace),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("graphmer.path") || event.affectsConfiguration("graphmer.serverArgs")) {
        await stopClient();
        if (!startClient()) {
          void showNotRunning();
        }
      }
    }),
  );
  // Not awaited: the commands are usable while the server starts.
  if (!startClient()) {
    void showNotRunning();
  }
}

export function deactivate(): Promise<void> {
  return stopClient();
}
