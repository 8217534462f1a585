"""Go to definition, references, callers and callees from the code graph.

Positions in this module are 0-based lines and 0-based columns counted in Python string
characters (code points); the language server converts them from and to UTF-16. The
store's own lines (symbols.start_line, edges.line) are 1-based; the conversion happens
here, in one place per direction.

The file being edited may differ from its indexed version: the text given with a request
is parsed to find the enclosing symbol, which is matched to the index by qualified name
(qualified names survive edits that move lines), and the name is resolved with the
index's resolver, the same one that built the graph's edges.
"""
from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from graphmer.index.graph import Resolver
from graphmer.index.languages import detect_language
from graphmer.index.neighbours import SymbolInfo, symbols_by_ids
from graphmer.index.parse import parse_source
from graphmer.index.records import CALLABLE_KINDS, CLASS_KINDS
from graphmer.index.store import Store

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEF_KEYWORDS = "def|class|struct|trait|enum|interface|fn|func|type"  # words that a defined name follows
CALL_RELATIONS = ("calls", "instantiates")
# Relations whose edges are uses of their target at the edge's line ("references").
REFERENCE_RELATIONS = ("calls", "instantiates", "imports", "inherits_from", "implements", "decorated_by",
                       "raises", "param_type", "returns", "references")

LinesOf = Callable[[str], "list[str] | None"]  # root-relative path -> the file's lines (open buffer or disk)


@dataclass(frozen=True, slots=True)
class Site:
    """A span in a file: 0-based line, code-point columns [start, end)."""

    path: str
    line: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Word:
    """The dotted name under the cursor: `text` ("self.store.save") ends with the identifier
    under the cursor, which spans [start, end) on the cursor's line."""

    text: str
    start: int
    end: int


def word_at(source: str, line: int, column: int) -> Word | None:
    """The dotted name ending with the identifier at (line, column), or None.

    word_at("x = os.path.join(a)", 0, 9) -> Word("os.path", 7, 11); a cursor just after
    an identifier counts as on it.
    """
    lines = source.splitlines()
    if not 0 <= line < len(lines):
        return None
    text = lines[line]
    for m in _IDENT.finditer(text):
        if m.start() <= column <= m.end():
            break
    else:
        return None
    chain_start = m.start()
    while True:  # walk left over ".ident" (and "super()") links
        j = chain_start - 1
        while j >= 0 and text[j] == " ":
            j -= 1
        if j < 0 or text[j] != ".":
            break
        k = j - 1
        while k >= 0 and text[k] == " ":
            k -= 1
        if text.endswith("super()", 0, k + 1):
            chain_start = k + 1 - len("super()")
            break
        prev = None
        for p in _IDENT.finditer(text, 0, k + 1):
            if p.end() == k + 1:
                prev = p
        if prev is None:
            return Word(m.group(), m.start(), m.end())  # a call or subscript result: no static chain
        chain_start = prev.start()
    chain = re.sub(r"\s+", "", text[chain_start : m.end()])
    return Word(chain, m.start(), m.end())


def name_site(path: str, lines: list[str] | None, sym: SymbolInfo) -> Site:
    """Where a symbol's name is written in its file (the definition line if lines are missing)."""
    first = max(sym.start_line - 1, 0)
    if lines is None or sym.kind == "module":
        return Site(path, first if sym.kind != "module" else 0, 0, 0)
    last = min(max(sym.end_line, sym.start_line), len(lines))
    pattern = re.compile(rf"\b(?:{_DEF_KEYWORDS})\s+{re.escape(sym.name)}\b")
    for i in range(first, last):  # decorators come first: look for the definition keyword
        m = pattern.search(lines[i])
        if m:
            col = m.end() - len(sym.name)
            return Site(path, i, col, col + len(sym.name))
    for i in range(first, last):
        m = re.search(rf"\b{re.escape(sym.name)}\b", lines[i])
        if m:
            return Site(path, i, m.start(), m.end())
    return Site(path, first, 0, 0)


def use_site(path: str, lines: list[str] | None, line1: int, name: str) -> Site:
    """Where `name` is used on 1-based line `line1` (the whole line start when not found)."""
    line = max(line1 - 1, 0)
    if lines is not None:
        if line < len(lines):
            m = re.search(rf"\b{re.escape(name)}\b", lines[line])
            if m:
                return Site(path, line, m.start(), m.end())
            stripped = len(lines[line]) - len(lines[line].lstrip())
            return Site(path, line, stripped, len(lines[line]))
    return Site(path, line, 0, 0)


@dataclass(frozen=True, slots=True)
class Call:
    """One side of a call-hierarchy edge: the other symbol and the call sites (in the caller)."""

    symbol: SymbolInfo
    sites: tuple[Site, ...]


class Navigator:
    """Resolves names at positions and follows graph edges over one open index."""

    def __init__(self, store: Store, lines_of: LinesOf) -> None:
        self.store = store
        self.lines_of = lines_of
        self._resolver: Resolver | None = None
        self._resolver_lock = threading.Lock()
        paths = store.file_paths()
        self.file_index = {p: i for i, p in enumerate(paths)}  # path -> index in resolver.files

    @property
    def resolver(self) -> Resolver:
        """The same resolution the graph's edges came from, built on first use (a fifth of a
        second on the standard library): lookups and search locations answer without it."""
        if self._resolver is None:
            with self._resolver_lock:
                if self._resolver is None:
                    self._resolver = Resolver(self.store.graph_inputs())
        return self._resolver

    # -- lookups -------------------------------------------------------------------------
    def symbol(self, symbol_id: int) -> SymbolInfo | None:
        """The symbol with this store id."""
        found = symbols_by_ids(self.store, [symbol_id])
        return found[0] if found else None

    def by_qualname(self, qualname: str) -> SymbolInfo | None:
        """The indexed (non-external) symbol with this qualified name, the first defined."""
        found = self.store.first_defined_symbol_id(qualname)
        return self.symbol(found) if found is not None else None

    def site_of(self, sym: SymbolInfo) -> Site | None:
        """The name's location of an indexed symbol (None for external ones)."""
        if sym.path is None:
            return None
        return name_site(sym.path, self.lines_of(sym.path), sym)

    # -- positions -----------------------------------------------------------------------
    def symbol_at(self, path: str, source: str, line: int, column: int) -> SymbolInfo | None:
        """The indexed symbol the name at (line, column) refers to or defines, or None."""
        word = word_at(source, line, column)
        fi = self.file_index.get(path)
        if word is None or fi is None:
            return None
        fg = self.resolver.files[fi]
        around = self._around(path, source, fg.language, fg.module, line + 1)  # (name, qualname), outermost first
        if "." not in word.text and self._defines_here(source, line, word):
            for name, qualname in reversed(around):  # the cursor is on a definition's own name: that symbol
                if name == word.text and (own := self.by_qualname(qualname)) is not None:
                    return own
        here = around[-1][1] if around else None  # the innermost symbol around the cursor
        qual_index = {q: i for i, (_, q, _, _) in enumerate(fg.symbols)}
        source_index = qual_index.get(here, 0) if here is not None else 0
        target = self.resolver.resolve(fi, source_index, word.text)
        if target is None:
            return None
        return self.by_qualname(target)

    def _around(self, path: str, source: str, language: str, module: str, line1: int) -> list[tuple[str, str]]:
        """(name, qualname) of the symbols whose lines hold line1, outermost first: from the
        store when `source` is the indexed text (same hash as the indexer's), else parsed."""
        data = source.encode("utf-8", "surrogatepass")
        digest, rows = self.store.file_outline(path)
        if digest is not None and digest == hashlib.blake2b(data, digest_size=16).hexdigest():
            return [(name, qual) for name, qual, start, end in rows if start <= line1 <= end]
        parsed = parse_source(data, path, language or detect_language(path) or "", module)
        return [(s.name, s.qualname) for s in parsed.symbols[1:] if s.start_line <= line1 <= s.end_line]

    @staticmethod
    def _defines_here(source: str, line: int, word: Word) -> bool:
        text = source.splitlines()[line]
        before = text[: word.start].rstrip()
        return bool(re.search(rf"\b(?:{_DEF_KEYWORDS})$", before))

    # -- edges ---------------------------------------------------------------------------
    def references(self, symbol_id: int, include_declaration: bool = True) -> list[Site]:
        """Every place the graph records a use of the symbol (and its definition, if asked)."""
        sym = self.symbol(symbol_id)
        if sym is None:
            return []
        out: list[Site] = []
        if include_declaration and (site := self.site_of(sym)) is not None:
            out.append(site)
        users = self.store.edges_into(symbol_id, REFERENCE_RELATIONS)
        infos = {s.id: s for s in symbols_by_ids(self.store, sorted({u for u, _ in users}))}
        seen = set(out)
        for user, line in users:
            src = infos.get(user)
            if src is None or src.path is None:
                continue
            for site in self._uses_in(src, line, sym.name):
                if site not in seen:
                    seen.add(site)
                    out.append(site)
        return sorted(out, key=lambda s: (s.path, s.line, s.start))

    def _uses_in(self, user: SymbolInfo, line1: int, name: str) -> list[Site]:
        """Where `user` uses `name`: the graph keeps one edge (the first line) per user and
        target, so the rest of a function's or class's lines are searched for the name too;
        a module-level use is only its edge's line."""
        assert user.path is not None
        lines = self.lines_of(user.path)
        first = use_site(user.path, lines, line1, name)
        if lines is None or user.kind == "module":
            return [first]
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        found = [first]
        for i in range(max(line1, user.start_line) - 1, min(user.end_line, len(lines))):
            for m in pattern.finditer(lines[i]):
                site = Site(user.path, i, m.start(), m.end())
                if site != first:
                    found.append(site)
        return found

    def incoming_calls(self, symbol_id: int) -> list[Call]:
        """The symbol's callers (and instantiators), each with its call sites."""
        sym = self.symbol(symbol_id)
        if sym is None:
            return []
        return self._calls(self.store.edges_into(symbol_id, CALL_RELATIONS), lambda other: other, sym.name)

    def outgoing_calls(self, symbol_id: int) -> list[Call]:
        """The indexed symbols this one calls (or instantiates), each with its call sites here."""
        sym = self.symbol(symbol_id)
        if sym is None or sym.path is None:
            return []
        return self._calls(self.store.edges_out_of(symbol_id, CALL_RELATIONS), lambda other: sym, None)

    def _calls(self, pairs: list[tuple[int, int]], site_owner, name: str | None) -> list[Call]:
        infos = {s.id: s for s in symbols_by_ids(self.store, sorted({o for o, _ in pairs}))}
        grouped: dict[int, list[Site]] = {}
        for other_id, line in pairs:
            other = infos.get(other_id)
            if other is None or other.path is None:
                continue  # an external symbol has no location to show
            owner = site_owner(other)
            grouped.setdefault(other_id, [])
            for site in self._uses_in(owner, line, name or other.name):
                if site not in grouped[other_id]:
                    grouped[other_id].append(site)
        return [Call(infos[i], tuple(sites)) for i, sites in sorted(grouped.items(), key=lambda kv: infos[kv[0]].qualname)]

    def counts(self, symbol_id: int) -> dict[str, int]:
        """How many distinct callers, callees and references the graph holds for the symbol."""
        callers = self.store.caller_count(symbol_id, CALL_RELATIONS)
        callees = self.store.callee_count(symbol_id, CALL_RELATIONS)
        return {"callers": callers, "callees": callees}


def is_callable(sym: SymbolInfo) -> bool:
    """Whether the symbol can appear in a call hierarchy (functions, methods, classes)."""
    return sym.kind in CALLABLE_KINDS or sym.kind in CLASS_KINDS
