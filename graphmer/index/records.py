"""Plain records that cross module boundaries: what parsing yields and what search returns."""
from __future__ import annotations

from dataclasses import dataclass, field

# Symbol kinds. "module" is one per file; "external" marks a symbol outside the index
# (a library API, or a name that could not be resolved).
CLASS_KINDS = frozenset({"class", "interface", "struct", "trait", "enum"})
CALLABLE_KINDS = frozenset({"function", "method"})
SYMBOL_KINDS = frozenset({"module", *CLASS_KINDS, *CALLABLE_KINDS, "external"})
# Kinds that get a dense vector: definitions with a body of their own (not modules, not externals).
EMBED_KINDS = CLASS_KINDS | CALLABLE_KINDS

# Relations of the code graph (docs/architecture.md §3).
RELATIONS = (
    "contains",
    "calls",
    "imports",
    "inherits_from",
    "implements",
    "overrides",
    "instantiates",
    "decorated_by",
    "raises",
    "param_type",
    "returns",
)

# Raw reference kinds a parser emits; graph.py turns them into relations.
REF_KINDS = frozenset(
    {"call", "import", "base", "implements", "decorator", "raise", "instantiate", "param_type", "returns"}
)


@dataclass(frozen=True, slots=True)
class Symbol:
    """A definition found in a file. Lines are 1-based and inclusive."""

    name: str
    qualname: str
    kind: str
    start_line: int
    end_line: int
    parent: int  # index of the enclosing symbol in ParsedFile.symbols; -1 for the module
    signature: str = ""
    doc: str = ""
    body: str = ""  # source text of the symbol, for lexical search


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference made by symbol `source` (an index into ParsedFile.symbols).

    `target` is the name as written, dotted ("self.save", "os.path.join"); for imports it
    is the imported path (relative imports keep their leading dots) and `alias` the
    local name it is bound to ("" means: bound to the first component of `target`).
    """

    source: int
    kind: str
    target: str
    line: int
    alias: str = ""


@dataclass(frozen=True, slots=True)
class Attribute:
    """A name assigned on a class or module: `self.x = ...` in a method, `x = ...` in a class
    body or at module level. `owner` indexes ParsedFile.symbols (the class, or 0 for the module).

    `value` says what the name holds, for completion's type inference: ":T" (annotated T, or
    a parameter annotated T), "=a.b" (the value of a.b), "=a.b()" (what a.b() returns), or "".
    """

    owner: int
    name: str
    line: int
    value: str = ""


@dataclass(frozen=True, slots=True)
class AttrUse:
    """How often `receiver.name` is written in a file (loads and stores); the receiver
    normalized by graphmer.index.pynames.norm_receiver ("self.console", "foo()", "" when not a name)."""

    receiver: str
    name: str
    count: int
    ctx: str = ""  # the token before the receiver (graphmer.index.pynames.context_token): "return", "=", "(", "^", ...


@dataclass(frozen=True, slots=True)
class SelfUse:
    """How often `self.name` / `cls.name` is written in the methods of one class of a file;
    `owner` indexes ParsedFile.symbols (the class)."""

    owner: int
    name: str
    count: int


@dataclass(slots=True)
class ParsedFile:
    """Everything parsing one file yields. symbols[0] is the file's module symbol."""

    path: str  # relative to the indexed root, forward slashes
    language: str
    symbols: list[Symbol] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    lines: int = 0
    syntax_errors: int = 0  # count of ERROR/MISSING nodes tree-sitter recovered from
    attributes: list[Attribute] = field(default_factory=list)  # Python only (graphmer/index/pynames.py)
    attr_uses: list[AttrUse] = field(default_factory=list)  # Python only
    self_uses: list[SelfUse] = field(default_factory=list)  # Python only


@dataclass(frozen=True, slots=True)
class Edge:
    """A resolved, typed edge between two symbols, named by qualified name."""

    src: str
    relation: str
    dst: str
    line: int = 0
    dst_external: bool = False


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result. `path` is relative to the indexed root; lines 1-based inclusive."""

    path: str
    start_line: int
    end_line: int
    name: str
    qualname: str
    kind: str
    language: str
    score: float
    snippet: str = ""
    symbol_id: int = 0
    why: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "name": self.name,
            "qualname": self.qualname,
            "kind": self.kind,
            "language": self.language,
            "score": round(self.score, 6),
            "snippet": self.snippet,
            "symbol_id": self.symbol_id,
        }
        if self.why:
            d["why"] = self.why
        return d
