"""What the MCP tools return: small dataclasses (their JSON is the tools' structured output,
their fields the output schemas) and `text()`, the compact form the model reads.

Lines are 1-based and inclusive everywhere; columns are 1-based code points (as an agent
counts them reading a file). `total` is how many there are, listed or not; the text ends a
cut list with "+N more".
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


class ToolFailure(Exception):
    """A tool call that cannot be answered as asked; the message (one line) says why and what to do."""


def to_json(result) -> dict:
    """A result dataclass as plain JSON-able dicts and lists."""
    return asdict(result)


def _more(total: int, shown: int, how: str = "") -> str:
    return f"+{total - shown} more{f' ({how})' if how else ''}" if total > shown else ""


@dataclass(frozen=True)
class SymbolRef:
    """A symbol of the index: `path` is None (and lines 0) for an external one (a library's)."""

    qualname: str
    kind: str
    path: str | None
    start_line: int
    end_line: int

    def where(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}" if self.path else "external"


@dataclass(frozen=True)
class Line:
    """One line of a file: its number and its text (stripped, cut to 200 characters)."""

    line: int
    text: str


@dataclass(frozen=True)
class SearchHit:
    path: str
    start_line: int
    end_line: int
    qualname: str
    kind: str
    score: float
    lines: list[Line]  # the best-matching lines of the hit's range, in file order


@dataclass(frozen=True)
class SearchResult:
    query: str
    mode: str  # the mode the search ran in (hybrid falls back to lexical, with a note, without vectors)
    hits: list[SearchHit]
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        if not self.hits:
            return f"no results for {self.query!r} ({self.mode})" + "".join(f"\nnote: {n}" for n in self.notes)
        out = [f"{len(self.hits)} hits for {self.query!r} ({self.mode})"]
        for i, h in enumerate(self.hits, 1):
            out.append(f"{i}. {h.path}:{h.start_line}-{h.end_line}  {h.qualname}  {h.kind}  {h.score:.4g}")
            out += [f"   {ln.line}: {ln.text}" for ln in h.lines]
        return "\n".join(out + [f"note: {n}" for n in self.notes])


@dataclass(frozen=True)
class SymbolMatchItem:
    qualname: str
    kind: str
    path: str
    start_line: int
    end_line: int
    score: float  # 100 exact name, 90 any case, ~70 prefix, ~55 initials, ~45 substring, <= 25 subsequence


@dataclass(frozen=True)
class FindSymbolResult:
    name: str
    total: int
    symbols: list[SymbolMatchItem]

    def text(self) -> str:
        if not self.symbols:
            return f"no symbol matches {self.name!r}; try search"
        out = [f"{self.total} symbols match {self.name!r}"]
        out += [f"{s.qualname}  {s.kind}  {s.path}:{s.start_line}-{s.end_line}" for s in self.symbols]
        return "\n".join(out + ([m] if (m := _more(self.total, len(self.symbols), "raise limit")) else []))


@dataclass(frozen=True)
class ClassInfo:
    qualname: str
    path: str
    start_line: int
    end_line: int
    signature: str
    doc: str  # the first line of its docstring


@dataclass(frozen=True)
class OutlineItem:
    qualname: str
    kind: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class SymbolContextResult:
    symbol: SymbolRef
    signature: str
    doc: str
    source: str  # "<line>: <text>" per line, from start_line, cut to max_chars (whole lines)
    source_end_line: int  # the last line in `source` (< symbol.end_line when cut)
    in_class: ClassInfo | None  # the class a method belongs to
    outline: list[OutlineItem]  # the file's symbols in line order (at most OUTLINE_LIMIT)
    outline_total: int
    other_definitions: list[str]  # "path:line" of further symbols with the same qualified name

    def text(self) -> str:
        s = self.symbol
        out = [f"{s.qualname}  {s.kind}  {s.where()}"]
        if self.signature:
            out.append(f"signature: {self.signature}")
        if self.doc:
            out.append("doc: " + self.doc.replace("\n", "\n     "))
        if self.in_class is not None:
            c = self.in_class
            out.append(f"class: {c.qualname}  {c.path}:{c.start_line}-{c.end_line}  {c.signature}")
        if self.other_definitions:
            out.append("also defined at: " + ", ".join(self.other_definitions))
        if self.source:
            cut = f" (cut: lines {self.source_end_line + 1}-{s.end_line} left out; raise max_chars)" if self.source_end_line < s.end_line else ""
            out += [f"source{cut}:", self.source]
        if self.outline:
            out.append(f"outline of {s.path} ({self.outline_total} symbols):")
            out += [f"  {o.start_line}-{o.end_line}  {o.kind}  {o.qualname}" for o in self.outline]
            if m := _more(self.outline_total, len(self.outline)):
                out.append("  " + m)
        return "\n".join(out)


@dataclass(frozen=True)
class CallEntry:
    qualname: str
    kind: str
    path: str
    start_line: int
    end_line: int
    depth: int  # 1: calls (or is called by) the symbol directly; 2: through `via`; ...
    via: str  # the qualified name one level up the tree (the symbol itself at depth 1)
    sites: list[Line]  # the call sites (lines in the caller's file), at most SITES_LIMIT
    sites_total: int


@dataclass(frozen=True)
class CallsResult:
    direction: str  # "callers" or "callees"
    symbol: SymbolRef
    depth: int
    total: int  # distinct symbols within `depth`, listed or not
    calls: list[CallEntry]  # in tree order: each entry after the one it goes through

    def text(self) -> str:
        s = self.symbol
        out = [f"{self.direction} of {s.qualname} ({s.kind}, {s.where()}), depth {self.depth}: {self.total}"]
        for c in self.calls:
            pad = "  " * c.depth
            out.append(f"{pad}{c.qualname}  {c.path}:{c.start_line}-{c.end_line}")
            out += [f"{pad}  {ln.line}: {ln.text}" for ln in c.sites]
            if m := _more(c.sites_total, len(c.sites)):
                out.append(f"{pad}  {m} call sites")
        return "\n".join(out + ([m] if (m := _more(self.total, len(self.calls), "raise limit")) else []))


@dataclass(frozen=True)
class Neighbour:
    qualname: str
    kind: str
    path: str | None  # None: external
    start_line: int
    line: int  # the line of the edge in its source file (0 when not recorded)


@dataclass(frozen=True)
class RelationGroup:
    relation: str  # "callers", "callees", "bases", "subclasses", "overrides", "overridden by", ...
    total: int
    items: list[Neighbour]


@dataclass(frozen=True)
class NeighboursResult:
    symbol: SymbolRef
    groups: list[RelationGroup]

    def text(self) -> str:
        s = self.symbol
        out = [f"{s.qualname} ({s.kind}, {s.where()})"]
        if not self.groups:
            out.append("  no neighbours for these relations")
        for g in self.groups:
            out.append(f"  {g.relation} ({g.total})")
            for n in g.items:
                loc = f"{n.path}:{n.start_line}" if n.path else "external"
                out.append(f"    {n.qualname}  {loc}{f' (line {n.line})' if n.line else ''}")
            if m := _more(g.total, len(g.items), "raise limit"):
                out.append("    " + m)
        return "\n".join(out)


@dataclass(frozen=True)
class Location:
    path: str
    line: int
    column: int
    text: str  # the line's text, stripped


@dataclass(frozen=True)
class ReferencesResult:
    symbol: SymbolRef
    total: int
    references: list[Location]  # the definition's own name first when it sorts first; by path, line, column

    def text(self) -> str:
        s = self.symbol
        out = [f"{self.total} references to {s.qualname} ({s.kind}, {s.where()})"]
        out += [f"{r.path}:{r.line}:{r.column}  {r.text}" for r in self.references]
        return "\n".join(out + ([m] if (m := _more(self.total, len(self.references), "raise limit")) else []))


@dataclass(frozen=True)
class DefinitionResult:
    symbol: SymbolRef
    location: Location | None  # where the name is defined (None for an external symbol)
    signature: str

    def text(self) -> str:
        s = self.symbol
        if self.location is None:
            return f"{s.qualname} ({s.kind}) is external: defined outside the repository"
        loc = self.location
        return f"{s.qualname}  {s.kind}  {loc.path}:{loc.line}:{loc.column}  (lines {s.start_line}-{s.end_line})\n{loc.text}"


@dataclass(frozen=True)
class BuildProgress:
    stage: str  # "walk", "parse", "embed", ...
    done: int
    total: int
    percent: int  # of the current stage


@dataclass(frozen=True)
class StatusResult:
    root: str
    state: str  # "ready", "indexing" (first build), "reindexing" (answers come from the last index), "opening", "error", "no index"
    message: str
    build: BuildProgress | None
    index: dict | None  # what `graphmer status --json` prints (counts, model, staleness); None without an index

    def text(self) -> str:
        out = [f"{self.root}: {self.state}" + (f"; {self.message}" if self.message else "")]
        st = self.index
        if st:
            out.append(f"{st['files']} files, {st['symbols']} symbols, {st['edges']} edges, {st['vectors']} vectors"
                       f" ({st['model_id'] or 'no model'}); indexed {st['indexed_at']}")
            out.append(f"stale: {st['new_files']} new, {st['changed_files']} changed, {st['deleted_files']} deleted file(s)"
                       if st["stale"] else "up to date")
        return "\n".join(out)


@dataclass(frozen=True)
class ReindexResult:
    started: bool
    message: str

    def text(self) -> str:
        return self.message
