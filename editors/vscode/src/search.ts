// Pure logic of the "graphmer: Search code" command: request arguments, validation of the
// server's answer and its presentation. No `vscode` import, so it runs under `node --test`.

export type SearchMode = "hybrid" | "dense" | "lexical";

export interface SearchOptions {
  limit?: number;
  mode?: SearchMode;
}

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** One hit of the server's `graphmer.search` command. */
export interface SearchHit {
  name: string;
  qualname: string;
  kind: string;
  /** Relative to the workspace root. */
  path: string;
  /** File URI. */
  uri: string;
  /** 0-based LSP range of the symbol's name. */
  range: Range;
  score: number;
  snippet: string;
}

export interface HitItem {
  label: string;
  description: string;
  detail: string;
  hit: SearchHit;
}

export interface ReindexResult {
  files: number;
  symbols: number;
}

export const SEARCH_COMMAND = "graphmer.search";
export const REINDEX_COMMAND = "graphmer.reindex";
export const SEARCH_MODES: readonly SearchMode[] = ["hybrid", "dense", "lexical"];
export const DEFAULT_LIMIT = 50;

/** Parameters of the `workspace/executeCommand` request for a search. */
export function searchParams(
  query: string,
  limit: unknown = DEFAULT_LIMIT,
  mode?: unknown,
): { command: string; arguments: [string, SearchOptions] } {
  const options: SearchOptions = {
    limit: typeof limit === "number" && Number.isInteger(limit) && limit > 0 ? limit : DEFAULT_LIMIT,
  };
  if (typeof mode === "string" && (SEARCH_MODES as readonly string[]).includes(mode)) {
    options.mode = mode as SearchMode;
  }
  return { command: SEARCH_COMMAND, arguments: [query.trim(), options] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isPosition(value: unknown): value is Position {
  return isObject(value) && Number.isInteger(value.line) && Number.isInteger(value.character);
}

function isRange(value: unknown): value is Range {
  return isObject(value) && isPosition(value.start) && isPosition(value.end);
}

function isHit(value: unknown): value is SearchHit {
  return (
    isObject(value) &&
    typeof value.name === "string" &&
    typeof value.qualname === "string" &&
    typeof value.kind === "string" &&
    typeof value.path === "string" &&
    typeof value.uri === "string" &&
    isRange(value.range) &&
    typeof value.score === "number" &&
    typeof value.snippet === "string"
  );
}

/** Checks the server's answer; throws when it is not an array of hits. */
export function parseHits(result: unknown): SearchHit[] {
  if (!Array.isArray(result)) {
    throw new Error(`unexpected answer to ${SEARCH_COMMAND}: expected an array of hits`);
  }
  result.forEach((hit, i) => {
    if (!isHit(hit)) {
      throw new Error(`unexpected answer to ${SEARCH_COMMAND}: hit ${i} is malformed`);
    }
  });
  return result;
}

/** Checks the server's answer to `graphmer.reindex`. */
export function parseReindex(result: unknown): ReindexResult {
  if (!isObject(result) || typeof result.files !== "number" || typeof result.symbols !== "number") {
    throw new Error(`unexpected answer to ${REINDEX_COMMAND}: expected {files, symbols}`);
  }
  return { files: result.files, symbols: result.symbols };
}

const KIND_ICONS: Record<string, string> = {
  function: "symbol-function",
  method: "symbol-method",
  class: "symbol-class",
  interface: "symbol-interface",
  struct: "symbol-struct",
  enum: "symbol-enum",
  trait: "symbol-interface",
  module: "symbol-module",
  variable: "symbol-variable",
  constant: "symbol-constant",
  field: "symbol-field",
  type: "symbol-class",
};

/** Codicon for a symbol kind, `symbol-misc` for kinds it does not know. */
export function kindIcon(kind: string): string {
  return KIND_ICONS[kind.toLowerCase()] ?? "symbol-misc";
}

/** First non-blank line of a snippet, trimmed. */
export function firstLine(snippet: string): string {
  for (const line of snippet.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed) {
      return trimmed;
    }
  }
  return "";
}

/** Quick pick entry of a hit: name and kind, path:line (1-based), score and first snippet line. */
export function hitToItem(hit: SearchHit): HitItem {
  const snippet = firstLine(hit.snippet);
  return {
    label: `$(${kindIcon(hit.kind)}) ${hit.name} (${hit.kind})`,
    description: `${hit.path}:${hit.range.start.line + 1}`,
    detail: snippet ? `${hit.score.toFixed(3)}  ${snippet}` : hit.score.toFixed(3),
    hit,
  };
}

/** Message of an error thrown by a request (a ResponseError, an Error or anything else). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  if (isObject(error) && typeof error.message === "string") {
    return error.message;
  }
  return String(error);
}

/** Message shown when a command runs while the server is not running. */
export function serverNotRunningMessage(path: string, reason?: string): string {
  const why = reason ? ` (${reason})` : "";
  return (
    `graphmer: the language server is not running${why}. ` +
    `Install graphmer or point the "graphmer.path" setting at its executable (now "${path}").`
  );
}
