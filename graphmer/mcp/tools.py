"""The MCP tools as library functions: each takes the loaded index (`McpWorkspace.state()`:
store, symbol table, navigator, searcher) and the tool's arguments, and returns a result
of graphmer/mcp/results.py, or raises ToolFailure with a one-line message.

They are thin: search is graphmer/index/search.py's Searcher, find_symbol the workspace/symbol
matcher (graphmer/index/symbol_match.py), references and definition the LSP's Navigator
(graphmer/index/navigate.py); callers, callees and neighbours are in graphmer/mcp/graph_tools.py.
"""
from __future__ import annotations

import re
from pathlib import Path

from graphmer.index.neighbours import SymbolInfo, find_symbols
from graphmer.index.records import CLASS_KINDS, SYMBOL_KINDS
from graphmer.index.search import MODES, SearchError
from graphmer.index.languages import LANGUAGES
from graphmer.index.text import query_terms, split_identifier
from graphmer.mcp.results import (
    ClassInfo,
    DefinitionResult,
    FindSymbolResult,
    Line,
    Location,
    OutlineItem,
    ReferencesResult,
    SearchHit,
    SearchResult,
    SymbolContextResult,
    SymbolMatchItem,
    SymbolRef,
    ToolFailure,
)

SEARCH_KINDS = tuple(sorted(SYMBOL_KINDS - {"external"}))
MAX_K = 100
MAX_LIMIT = 1000
LINES_PER_HIT = 2  # best-matching lines shown under a search hit
OUTLINE_LIMIT = 60  # the file outline's entries in symbol_context
AMBIGUOUS_SHOWN = 10  # candidates named when a symbol name is ambiguous
_LINE_CHARS = 200


def check_range(name: str, value: int, low: int, high: int) -> None:
    """ToolFailure unless low <= value <= high."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolFailure(f"{name} must be an integer from {low} to {high}, not {value!r}")


def ref(sym: SymbolInfo) -> SymbolRef:
    return SymbolRef(sym.qualname, sym.kind, sym.path, sym.start_line if sym.path else 0, sym.end_line if sym.path else 0)


def file_lines(state, path: str) -> list[str]:
    """The lines of an indexed file as on disk ([] when it cannot be read)."""
    return state.navigator.lines_of(path) or []


def line_at(lines: list[str], line1: int) -> Line:
    text = lines[line1 - 1].strip() if 0 < line1 <= len(lines) else ""
    return Line(line1, text[:_LINE_CHARS])


# -- search --------------------------------------------------------------------------------
def best_lines(lines: list[str], start: int, end: int, terms: list[str], n: int = LINES_PER_HIT) -> list[Line]:
    """The `n` lines of [start, end] (1-based) that mention the most query terms, in file order
    (the first line when none does). best_lines(["def f():", "  return cfg"], 1, 2, ["cfg"]) -> [Line(2, "return cfg")]."""
    span = range(start, min(end, len(lines)) + 1)
    pats = [re.compile(re.escape(t[:6]), re.I) for t in terms]
    scored = [(sum(bool(p.search(lines[i - 1])) for p in pats), i) for i in span]
    best = sorted((i for s, i in sorted(scored, key=lambda x: (-x[0], x[1]))[:n] if s), key=int)
    return [line_at(lines, i) for i in (best or ([start] if start in span else []))]


def search(state, query: str, k: int = 10, mode: str = "hybrid", path_glob: str | None = None,
           kind: str | None = None, language: str | None = None) -> SearchResult:
    """Ranked symbols for words or identifiers, each with its best-matching lines."""
    if not query.strip():
        raise ToolFailure("query is empty: give words or identifiers to search for")
    check_range("k", k, 1, MAX_K)
    if mode not in MODES:
        raise ToolFailure(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if kind is not None and kind not in SEARCH_KINDS:
        raise ToolFailure(f"kind must be one of {', '.join(SEARCH_KINDS)}, not {kind!r}")
    if language is not None and language not in LANGUAGES:
        raise ToolFailure(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    searcher = state.searcher
    seen_notes = len(searcher.notes)
    try:
        hits = searcher.search(query, top_k=k, kinds=(kind,) if kind else None, languages=(language,) if language else None,
                               path=path_glob or None, mode=mode)
    except SearchError as e:
        raise ToolFailure(str(e)) from None
    terms = query_terms(query) or split_identifier(query)
    out = [SearchHit(h.path, h.start_line, h.end_line, h.qualname, h.kind, round(h.score, 4),
                     best_lines(file_lines(state, h.path), h.start_line, h.end_line, terms)) for h in hits]
    notes = searcher.notes[seen_notes:] if mode != "lexical" else []
    if mode != "lexical" and searcher.mode_used == "lexical" and not notes:  # said once by the Searcher: say it again
        notes = [n for n in searcher.notes if n.startswith("lexical results only")]
    return SearchResult(query, searcher.mode_used or mode, out, notes)


# -- symbols -------------------------------------------------------------------------------
def find_symbol(state, name: str, limit: int = 20) -> FindSymbolResult:
    """Definitions whose name matches: exact, dotted suffix ("Store.save"), prefix, initials, fuzzy."""
    if not name.strip():
        raise ToolFailure("name is empty: give a symbol name, e.g. Store.save or parse_config")
    check_range("limit", limit, 1, MAX_LIMIT)
    matches = state.table.match(name, MAX_LIMIT * 10)
    items = [SymbolMatchItem(m.row.qualname, m.row.kind, m.row.path, m.row.start_line, m.row.end_line, round(m.score, 2))
             for m in matches[:limit]]
    return FindSymbolResult(name, len(matches), items)


def resolve_symbol(state, name: str, last: bool = False) -> tuple[SymbolInfo, list[SymbolInfo]]:
    """The symbol `name` names (a qualified name, a dotted suffix or a plain name), and the
    other symbols with the same qualified name. ToolFailure when none or several distinct ones."""
    if not name.strip():
        raise ToolFailure("symbol is empty: give a qualified name (pkg.mod.Class.method), a dotted suffix or a name")
    found = find_symbols(state.store, name.strip(), limit=MAX_LIMIT)
    if not found.total:
        close = [m.row.qualname for m in state.table.match(name, 5)]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ToolFailure(f"no symbol named {name!r} in the index{hint} (find_symbol matches names loosely, search by words)")
    distinct = list(dict.fromkeys(s.qualname for s in found.symbols))
    if len(distinct) > 1:
        shown = ", ".join(distinct[:AMBIGUOUS_SHOWN]) + (f" (+{found.total - AMBIGUOUS_SHOWN} more)" if found.total > AMBIGUOUS_SHOWN else "")
        raise ToolFailure(f"{name!r} matches {found.total} symbols: {shown}; give a qualified name")
    # One name defined several times (typing.overload stubs, then the implementation; or a
    # redefinition): the graph's edges are on the first definition, whose id the graph tools
    # take; with `last`, the definition Python binds (what symbol_context shows).
    chosen = max(found.symbols, key=lambda s: (s.path is not None, s.start_line)) if last else found.symbols[0]
    return chosen, [s for s in found.symbols if s.path and s is not chosen]


def numbered_source(lines: list[str], start: int, end: int, max_chars: int) -> tuple[str, int]:
    """Lines start..end as "<n>: <text>", whole lines up to max_chars (at least one); the text and its last line."""
    out: list[str] = []
    used, last = 0, start - 1
    for n in range(start, min(end, len(lines)) + 1):
        row = f"{n}: {lines[n - 1]}"
        if out and used + len(row) + 1 > max_chars:
            break
        out.append(row)
        used, last = used + len(row) + 1, n
    return "\n".join(out), last


def symbol_context(state, symbol: str, max_chars: int = 4000) -> SymbolContextResult:
    """A symbol's signature, docstring, numbered source (cut to max_chars), class and file outline."""
    check_range("max_chars", max_chars, 1, 200_000)
    sym, others = resolve_symbol(state, symbol, last=True)
    if sym.path is None:
        return SymbolContextResult(ref(sym), sym.signature, sym.doc, "", 0, None, [], 0, [])
    lines = file_lines(state, sym.path)
    source, last = numbered_source(lines, sym.start_line, sym.end_line, max_chars)
    in_class = None
    if "." in sym.qualname:
        parent = state.navigator.by_qualname(sym.qualname.rsplit(".", 1)[0])
        if parent is not None and parent.kind in CLASS_KINDS and parent.path:
            in_class = ClassInfo(parent.qualname, parent.path, parent.start_line, parent.end_line, parent.signature,
                                 (parent.doc.strip().splitlines() or [""])[0])
    rows = sorted((r for r in state.table.rows if r.path == sym.path and r.kind != "module"), key=lambda r: (r.start_line, r.id))
    outline = [OutlineItem(r.qualname, r.kind, r.start_line, r.end_line) for r in rows[:OUTLINE_LIMIT]]
    return SymbolContextResult(ref(sym), sym.signature, sym.doc, source, last, in_class, outline, len(rows),
                               [f"{o.path}:{o.start_line}" for o in others])


# -- positions -----------------------------------------------------------------------------
def position(state, path: str, line: int, column: int) -> tuple[str, str, list[str]]:
    """(root-relative path, file text, lines) for a 1-based position, checked; ToolFailure when off."""
    root = Path(state.store.root).resolve()
    p = Path(path)
    full = (p if p.is_absolute() else root / p).resolve()
    if full != root and root not in full.parents:
        raise ToolFailure(f"{path} is outside the repository {root}: give a path relative to it")
    rel = full.relative_to(root).as_posix()
    if rel not in state.navigator.file_index:
        raise ToolFailure(f"{rel} is not in the index (not a source file graphmer indexes, or new: call reindex)")
    try:
        text = full.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise ToolFailure(f"cannot read {rel}: {e.strerror or e}") from None
    lines = text.splitlines()
    check_range("line", line, 1, max(len(lines), 1))
    check_range("column", column, 1, len(lines[line - 1]) + 1 if lines else 1)
    return rel, text, lines


def symbol_at(state, path: str, line: int, column: int) -> tuple[SymbolInfo, str, list[str]]:
    rel, text, lines = position(state, path, line, column)
    sym = state.navigator.symbol_at(rel, text, line - 1, column - 1)
    if sym is None:
        where = lines[line - 1].strip()[:80] if lines else ""
        raise ToolFailure(f"no indexed symbol is named at {rel}:{line}:{column} ({where!r}); put the column on a name")
    return sym, rel, lines


def definition(state, path: str, line: int, column: int) -> DefinitionResult:
    """Where the name at path:line:column (1-based) is defined."""
    sym, _, _ = symbol_at(state, path, line, column)
    site = state.navigator.site_of(sym)
    if site is None:
        return DefinitionResult(ref(sym), None, sym.signature)
    text = file_lines(state, site.path)
    return DefinitionResult(ref(sym), Location(site.path, site.line + 1, site.start + 1, line_at(text, site.line + 1).text), sym.signature)


def references(state, path: str, line: int, column: int, limit: int = 100) -> ReferencesResult:
    """Every use the code graph records of the symbol named at path:line:column (its definition included)."""
    check_range("limit", limit, 1, MAX_LIMIT)
    sym, _, _ = symbol_at(state, path, line, column)
    sites = state.navigator.references(sym.id, include_declaration=True)
    out = []
    for s in sites[:limit]:
        out.append(Location(s.path, s.line + 1, s.start + 1, line_at(file_lines(state, s.path), s.line + 1).text))
    return ReferencesResult(ref(sym), len(sites), out)
