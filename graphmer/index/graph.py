"""Name resolution: raw references -> typed edges between qualified names.

Resolution is best-effort and honest. Python follows imports and aliases (relative ones
too), re-exports through package modules, `self.`/`cls.`/`super()` through the class and
its bases, nested scopes, and builtins. A name that leads outside the index becomes an
edge to an external symbol named by its full path (`os.path.join`); a name that cannot
be resolved at all becomes an edge to an external symbol named `?<text as written>`.
It is never guessed into a local symbol it might not be.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass, field

from graphmer.index.records import CALLABLE_KINDS, CLASS_KINDS, Edge, Ref

UNRESOLVED_PREFIX = "?"
_BUILTIN_NAMES = frozenset(dir(builtins))
_BUILTIN_CLASSES = frozenset(n for n in _BUILTIN_NAMES if isinstance(getattr(builtins, n), type))
_MAX_DEPTH = 12

_REL_OF = {
    "call": "calls",
    "import": "imports",
    "base": "inherits_from",
    "implements": "implements",
    "decorator": "decorated_by",
    "raise": "raises",
    "instantiate": "instantiates",
    "param_type": "param_type",
    "returns": "returns",
}


@dataclass(slots=True)
class FileGraph:
    """What resolution needs of one file: its module, symbols (module first) and references."""

    module: str
    language: str
    symbols: list[tuple[str, str, str, int]]  # (name, qualname, kind, parent index)
    refs: list[Ref] = field(default_factory=list)
    is_package: bool = False  # a package's __init__ (relative imports start one level lower)


class Resolver:
    """Holds the global symbol table and resolves references against it."""

    def __init__(self, files: list[FileGraph]) -> None:
        self.files = files
        self.kind: dict[str, str] = {}
        self.members: dict[str, dict[str, str]] = {}
        self.bindings: dict[str, dict[str, str]] = {}  # scope qualname -> alias -> absolute path
        self.star: dict[str, list[str]] = {}  # module -> modules star-imported into it
        self.bases: dict[str, list[str]] = {}
        self._mro: dict[str, list[str]] = {}
        self._star_cache: dict[tuple[str, str], str | None] = {}  # (module, name) -> what a star import gives
        self._star_seen: set[tuple[str, str]] | None = None  # lookups expanded by the current top-level one
        self.by_file_name: list[dict[str, list[str]]] = []
        for f in files:
            names: dict[str, list[str]] = {}
            for name, qual, kind, parent in f.symbols:
                self.kind.setdefault(qual, kind)
                if parent >= 0:
                    self.members.setdefault(f.symbols[parent][1], {}).setdefault(name, qual)
                names.setdefault(name, []).append(qual)
            self.by_file_name.append(names)
        for f in files:
            if f.language == "python":
                self._python_bindings(f)
        for fi, f in enumerate(files):
            for r in f.refs:
                if r.kind in ("base", "implements"):
                    cls = f.symbols[r.source][1]
                    target = self.resolve(fi, r.source, r.target)
                    if target is not None:
                        self.bases.setdefault(cls, []).append(target)
        self._mro.clear()  # MROs looked up while bases were incomplete
        self._star_cache.clear()  # and star lookups made through them

    # -- Python scopes -------------------------------------------------------------------
    def _python_bindings(self, f: FileGraph) -> None:
        for r in f.refs:
            if r.kind != "import":
                continue
            scope = f.symbols[r.source][1]
            target = absolute_import(r.target, f.module, f.is_package)
            if target is None:
                continue
            if r.alias == "*":
                self.star.setdefault(scope, []).append(target[:-2])
            elif r.alias:
                self.bindings.setdefault(scope, {})[r.alias] = target
            else:
                head = target.split(".", 1)[0]
                self.bindings.setdefault(scope, {})[head] = head

    def mro(self, cls: str) -> list[str]:
        """The class and its bases, depth first, left to right, without repeats."""
        if cls in self._mro:
            return self._mro[cls]
        self._mro[cls] = [cls]  # guards against inheritance cycles
        out = [cls]
        for b in self.bases.get(cls, []):
            for c in self.mro(b) if self.kind.get(b) in CLASS_KINDS else [b]:
                if c not in out:
                    out.append(c)
        self._mro[cls] = out
        return out

    def member(self, cls: str, name: str, skip_self: bool = False) -> str | None:
        """`name` looked up through the class's MRO; an external base answers `Base.name`."""
        for c in self.mro(cls)[1 if skip_self else 0 :]:
            if self.kind.get(c) in CLASS_KINDS:
                m = self.members.get(c, {}).get(name)
                if m is not None:
                    return m
            else:
                return f"{c}.{name}"  # the first base we cannot see into
        return None

    def canonical(self, path: str, depth: int = 0) -> str | None:
        """A dotted absolute path followed through re-exports and class members.

        Returns the local qualname it names, the path itself when it leads outside the
        index, or None when it names something local that is not a symbol (a variable).
        """
        if path in self.kind or depth > _MAX_DEPTH:
            return path if path in self.kind else None
        parts = path.split(".")
        for i in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:i])
            kind = self.kind.get(prefix)
            if kind is None:
                continue
            head, rest = parts[i], parts[i + 1 :]
            if kind == "module":
                target = self.bindings.get(prefix, {}).get(head) or self._star_lookup(prefix, head, depth)
            elif kind in CLASS_KINDS:
                target = self.member(prefix, head)
            else:
                target = None
            if target is None:
                return None
            return self.canonical(".".join([target, *rest]), depth + 1)
        return path  # no local prefix: outside the index

    def resolve(self, fi: int, source: int, text: str) -> str | None:
        """Resolve a reference written as `text` inside symbol `source` of file number fi."""
        f = self.files[fi]
        if f.language != "python":
            return _unique(self.by_file_name[fi], text)
        chain = _scope_chain(f, source)
        if text.startswith("super()."):
            cls = _enclosing_class(f, source)
            if cls is None:
                return None
            m = self.member(cls, text[len("super().") :].split(".")[0], skip_self=True)
            return self.canonical(m) if m else None
        head, _, rest = text.partition(".")
        if head in ("self", "cls") and rest:
            cls = _enclosing_class(f, source)
            if cls is not None:
                first, _, more = rest.partition(".")
                m = self.member(cls, first)
                if m is None:
                    return None
                return self.canonical(m + ("." + more if more else ""))
        for scope in chain:
            base = self.members.get(scope, {}).get(head) if self.kind.get(scope) not in CLASS_KINDS else None
            if base is None:
                base = self.bindings.get(scope, {}).get(head)
            if base is None and self.kind.get(scope) == "module":
                base = self._star_lookup(scope, head)
            if base is not None:
                return self.canonical(base + ("." + rest if rest else ""))
        if head in _BUILTIN_NAMES:
            return f"builtins.{text}"
        return None

    def edges(self) -> list[Edge]:
        """All edges of the graph: containment, resolved references, overrides."""
        out: list[Edge] = []
        for fi, f in enumerate(self.files):
            syms = f.symbols
            for name, qual, kind, parent in syms:
                if parent >= 0:
                    out.append(Edge(syms[parent][1], "contains", qual))
                if kind == "method" and parent >= 0 and syms[parent][2] in CLASS_KINDS:
                    base = self.member(syms[parent][1], name, skip_self=True)
                    if base is not None and self.kind.get(base) in CALLABLE_KINDS:
                        out.append(Edge(qual, "overrides", base))
            for r in f.refs:
                src = syms[r.source][1]
                if r.kind == "import":
                    dst = self._import_target(f, r)
                else:
                    dst = self.resolve(fi, r.source, r.target)
                external = dst is None or dst not in self.kind
                if dst is None:
                    dst = UNRESOLVED_PREFIX + r.target
                rel = _REL_OF[r.kind]
                if rel == "calls" and (
                    self.kind.get(dst) in CLASS_KINDS
                    or (dst.startswith("builtins.") and dst[9:] in _BUILTIN_CLASSES)
                ):
                    rel = "instantiates"
                out.append(Edge(src, rel, dst, r.line, external))
        return out

    def _star_lookup(self, module: str, name: str, depth: int = 0) -> str | None:
        """`name` brought into `module` by a `from m import *` of an indexed module m.

        A star import of a module outside the index binds nothing we can know of. Each
        (module, name) is expanded at most once per top-level lookup, so packages whose
        modules star-import each other (in cycles, dozens at a time) cost a linear search,
        not one per path; what a lookup finds is remembered, and so is a top-level miss.
        """
        key = (module, name)
        if key in self._star_cache:
            return self._star_cache[key]
        top = self._star_seen is None
        if top:
            self._star_seen = set()
        elif key in self._star_seen:
            return None  # on the current path (a cycle), or already searched in vain
        self._star_seen.add(key)
        found = None
        try:
            for starmod in self.star.get(module, []):
                cand = f"{starmod}.{name}"
                if cand in self.kind or (depth < _MAX_DEPTH and self.canonical(cand, depth + 1) in self.kind):
                    found = cand
                    break
        finally:
            if top:
                self._star_seen = None
        if found is not None or (top and depth == 0):
            self._star_cache[key] = found
        return found

    def _import_target(self, f: FileGraph, r: Ref) -> str | None:
        if f.language != "python":
            return r.target
        target = absolute_import(r.target, f.module, f.is_package)
        if target is None or target.endswith(".*"):
            return target and target[:-2]
        return self.canonical(target) or target


def _unique(names: dict[str, list[str]], text: str) -> str | None:
    name = text.replace("::", ".").rsplit(".", 1)[-1]
    cands = names.get(name, [])
    return cands[0] if len(cands) == 1 else None


def _scope_chain(f: FileGraph, source: int) -> list[str]:
    """Qualnames of the scopes a name is looked up in, innermost first (classes skipped
    except the innermost symbol itself, as Python does)."""
    out = []
    i = source
    while i >= 0:
        name, qual, kind, parent = f.symbols[i]
        if kind not in CLASS_KINDS or i == source:
            out.append(qual)
        i = parent
    return out


def _enclosing_class(f: FileGraph, source: int) -> str | None:
    i = f.symbols[source][3]
    if f.symbols[source][2] in CLASS_KINDS:
        return f.symbols[source][1]
    while i >= 0:
        if f.symbols[i][2] in CLASS_KINDS:
            return f.symbols[i][1]
        i = f.symbols[i][3]
    return None


def absolute_import(target: str, module: str, is_package: bool) -> str | None:
    """Absolute dotted path of an import target seen in `module`.

    absolute_import("..b.c", "p.q.m", False) -> "p.b.c"; absolute_import(".x", "p", True) -> "p.x".
    """
    if not target.startswith("."):
        return target
    dots = len(target) - len(target.lstrip("."))
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    up = dots - 1
    if up > len(base):
        return None
    base = base[: len(base) - up]
    rest = target[dots:]
    return ".".join([*base, rest] if rest else base) or None
