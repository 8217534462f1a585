"""The graphmer MCP server (the `mcp` SDK's MCPServer): one short tool per library function of
graphmer/mcp/tools.py and graph_tools.py, over an McpWorkspace (graphmer/mcp/workspace.py).

Each tool answers with compact text for the model (`content`) and the same result as JSON
(`structuredContent`, described by the tool's output schema); a call that cannot be answered
(a bad argument, an unknown symbol, the index still being built) is a tool error whose one
line says why, and the server keeps serving.
"""
from __future__ import annotations

import sqlite3
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from graphmer.index.embedder import EmbedError
from graphmer.index.languages import LANGUAGES
from graphmer.index.store import StoreError
from graphmer.mcp import graph_tools, tools
from graphmer.mcp.results import (
    CallsResult,
    DefinitionResult,
    FindSymbolResult,
    NeighboursResult,
    ReferencesResult,
    ReindexResult,
    SearchResult,
    StatusResult,
    SymbolContextResult,
    ToolFailure,
    to_json,
)
from graphmer.mcp.workspace import McpWorkspace

INSTRUCTIONS = (
    "graphmer answers questions about one code repository from its index: a code graph (calls, "
    "bases, overrides, imports, raises) and hybrid search. Find code by meaning with search, by "
    "name with find_symbol; read one symbol with symbol_context rather than whole files; follow "
    "callers, callees and neighbours; references and definition take path:line:column (1-based)."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Symbol = Annotated[str, Field(description="A qualified name (pkg.mod.Class.method), a dotted suffix of one (Class.method) or a plain name")]
Limit = Annotated[int, Field(description=f"At most this many items (1-{tools.MAX_LIMIT}); the total says how many there are")]
Depth = Annotated[int, Field(description=f"Levels to follow (1-{graph_tools.MAX_DEPTH}): 2 adds the callers' callers")]
Path_ = Annotated[str, Field(description="A file path relative to the repository root (or absolute inside it)")]
Line1 = Annotated[int, Field(description="1-based line number")]
Column1 = Annotated[int, Field(description="1-based column (characters) on a name")]


def answer(result) -> CallToolResult:
    """A result as the model's compact text plus its JSON (structured content)."""
    return CallToolResult(content=[TextContent(type="text", text=result.text())], structured_content=to_json(result))


def build_server(ws: McpWorkspace) -> MCPServer:
    """The MCP server with graphmer's tools over the workspace."""
    app = MCPServer("graphmer", instructions=INSTRUCTIONS, log_level="WARNING")


    def call(fn, *args, model: bool = False) -> CallToolResult:
        try:
            return answer(fn(ws.state(model=model), *args))
        except (ToolFailure, StoreError, EmbedError, OSError) as e:
            raise ToolError(str(e)) from None
        except sqlite3.Error as e:
            raise ToolError(f"index database error: {e} (call reindex, or run `graphmer index --rebuild`)") from None

    add_code_tools(app, call)
    add_graph_tools(app, call)
    add_index_tools(app, ws)
    return app


def add_code_tools(app: MCPServer, call) -> None:
    """search, find_symbol, symbol_context, references and definition."""

    @app.tool(annotations=READ_ONLY)
    def search(
        query: Annotated[str, Field(description="Words or identifiers, e.g. 'parse the config file' or 'load_config'")],
        k: Annotated[int, Field(description=f"Number of hits (1-{tools.MAX_K})")] = 10,
        mode: Annotated[str, Field(description="hybrid (words and the model's vectors), lexical (BM25 only) or dense (vectors only)")] = "hybrid",
        path_glob: Annotated[str | None, Field(description="Only paths matching this glob, e.g. 'src/**/*.py' (a plain prefix works too)")] = None,
        kind: Annotated[str | None, Field(description=f"Only this kind: {', '.join(tools.SEARCH_KINDS)}")] = None,
        language: Annotated[str | None, Field(description=f"Only this language: {', '.join(LANGUAGES)}")] = None,
    ) -> Annotated[CallToolResult, SearchResult]:
        """Search the repository's code: ranked symbols (path, line range, qualified name, kind,
        score) with their best-matching lines."""
        return call(tools.search, query, k, mode, path_glob, kind, language, model=mode != "lexical")

    @app.tool(annotations=READ_ONLY)
    def find_symbol(
        name: Annotated[str, Field(description="A name, a dotted suffix (Store.save), a prefix or initials (gcf for get_config_file)")],
        limit: Limit = 20,
    ) -> Annotated[CallToolResult, FindSymbolResult]:
        """Find definitions by name: exact first, then dotted suffix, prefix, initials, substring, fuzzy."""
        return call(tools.find_symbol, name, limit)

    @app.tool(annotations=READ_ONLY)
    def symbol_context(
        symbol: Symbol,
        max_chars: Annotated[int, Field(description="Cut the source after this many characters (whole lines)")] = 4000,
    ) -> Annotated[CallToolResult, SymbolContextResult]:
        """One symbol's signature, docstring, numbered source, its class and its file's outline."""
        return call(tools.symbol_context, symbol, max_chars)

    @app.tool(annotations=READ_ONLY)
    def references(path: Path_, line: Line1, column: Column1, limit: Limit = 100) -> Annotated[CallToolResult, ReferencesResult]:
        """Every use of the symbol named at path:line:column, its definition included."""
        return call(tools.references, path, line, column, limit)

    @app.tool(annotations=READ_ONLY)
    def definition(path: Path_, line: Line1, column: Column1) -> Annotated[CallToolResult, DefinitionResult]:
        """Where the symbol named at path:line:column is defined."""
        return call(tools.definition, path, line, column)


def add_graph_tools(app: MCPServer, call) -> None:
    """callers, callees and neighbours."""

    @app.tool(annotations=READ_ONLY)
    def callers(symbol: Symbol, depth: Depth = 1, limit: Limit = 50) -> Annotated[CallToolResult, CallsResult]:
        """Who calls (or instantiates) the symbol, with the call-site lines; depth > 1 follows their callers."""
        return call(graph_tools.callers, symbol, depth, limit)

    @app.tool(annotations=READ_ONLY)
    def callees(symbol: Symbol, depth: Depth = 1, limit: Limit = 50) -> Annotated[CallToolResult, CallsResult]:
        """What the symbol calls (or instantiates) in the repository, with the call-site lines."""
        return call(graph_tools.callees, symbol, depth, limit)

    @app.tool(annotations=READ_ONLY)
    def neighbours(
        symbol: Symbol,
        relations: Annotated[list[str] | None, Field(description=f"Only these relations: {', '.join(graph_tools.RELATION_LABELS)}")] = None,
        limit: Annotated[int, Field(description="At most this many neighbours per relation")] = 50,
    ) -> Annotated[CallToolResult, NeighboursResult]:
        """The symbol's neighbours in the code graph by relation: callers, callees, bases,
        subclasses, overrides, overridden by, imports, raises, instantiates, ..."""
        return call(graph_tools.neighbours, symbol, relations, limit)


def add_index_tools(app: MCPServer, ws: McpWorkspace) -> None:
    """index_status and reindex."""

    @app.tool(annotations=READ_ONLY)
    def index_status() -> Annotated[CallToolResult, StatusResult]:
        """The index's state (ready, indexing with progress, ...), counts, and files changed since indexing."""
        try:
            return answer(ws.status())
        except OSError as e:
            raise ToolError(str(e)) from None

    @app.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False))
    def reindex() -> Annotated[CallToolResult, ReindexResult]:
        """Re-index the repository in the background (changed files only); answers follow the new index when it ends."""
        return answer(ws.reindex())
