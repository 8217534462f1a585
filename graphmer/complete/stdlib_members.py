"""Members of standard-library modules and classes, for completing receivers outside the index.

The index knows an external name only where the repository uses it, so `tempfile.` would
offer nothing the code has not written before. The standard library is at a fixed place
beside the interpreter: a module with Python source is read statically (tree-sitter, top-level
definitions, assignments and imports, `from m import *` followed), never imported. Only a
module without Python source (built into the interpreter, or a C extension under
lib-dynload) is imported and listed with dir(): its names cannot be read any other way, and
importing it runs no Python code. Two classes `re` makes at run time (`re.Match`,
`re.Pattern`, whose source reads `Match = type(...)`) are listed with dir() of the class
graphmer's own process has imported already. Third-party modules are never looked at.
"""
from __future__ import annotations

import builtins
import functools
import importlib
import re
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import tree_sitter as ts

from graphmer.index import languages, pynames

_MAX_DEPTH = 6
_GLOBALS_UPDATE = re.compile(r"globals\(\)\.update\((\w+)\.__members__\)")
# Classes a module's source makes at run time (`Match = type(...)` in re): listed with dir() of
# the class itself, which the running interpreter has imported already (graphmer imports re).
RUNTIME_CLASSES = {"re.Pattern": re.Pattern, "re.Match": re.Match}
_BLOCKS = frozenset({"if_statement", "elif_clause", "else_clause", "try_statement", "except_clause",
                     "finally_clause", "with_statement", "block", "expression_statement"})


@dataclass(frozen=True, slots=True)
class ClassInfo:
    names: dict[str, str]  # name -> "method", "class" or "attribute": the body's and its methods' `self.x`
    bases: tuple[str, ...]  # as written (`IO[bytes]` as "IO")


@dataclass(frozen=True, slots=True)
class ModuleName:
    """A name a standard-library module binds."""

    kind: str  # "module", "class", "function", "variable"
    target: str = ""  # what an imported name refers to ("posixpath", "collections.abc.Mapping"), else ""


def _stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _source(mod: str) -> Path | None:
    base = _stdlib_dir() / mod.replace(".", "/")
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _compiled(mod: str) -> bool:
    """A standard-library module without Python source: built in, or a lib-dynload extension."""
    if mod in sys.builtin_module_names:
        return True
    dynload = _stdlib_dir() / "lib-dynload"
    return "." not in mod and dynload.is_dir() and any(dynload.glob(f"{mod}.*.so")) and _source(mod) is None


def is_stdlib(path: str) -> bool:
    return path.split(".", 1)[0] in sys.stdlib_module_names


def is_module(path: str) -> bool:
    """Whether a dotted path names a standard-library module (with source, or compiled)."""
    return is_stdlib(path) and (_source(path) is not None or _compiled(path))


@functools.lru_cache(maxsize=512)
def module_names(mod: str, depth: int = 0) -> tuple[dict[str, ModuleName], dict[str, ClassInfo]]:
    """(name -> ModuleName, class name -> ClassInfo) of a standard-library module; empty when unknown."""
    if depth > _MAX_DEPTH or not is_stdlib(mod):
        return {}, {}
    src = _source(mod)
    if src is None:
        return (_dir_names(mod), {}) if _compiled(mod) else ({}, {})
    root = languages.parser("python").parse(src.read_bytes()).root_node
    names: dict[str, ModuleName] = {}
    classes: dict[str, tuple[str, ...]] = {}
    _walk(root, mod, src.name == "__init__.py", names, classes, depth)
    return names, classes


def _dir_names(mod: str) -> dict[str, ModuleName]:
    m = importlib.import_module(mod)  # compiled stdlib only (see the module docstring)
    out = {}
    for n in dir(m):
        v = getattr(m, n, None)
        out[n] = ModuleName("class" if isinstance(v, type) else "module" if type(v).__name__ == "module"
                        else "function" if callable(v) else "variable")
    return out


def _t(n: ts.Node) -> str:
    return n.text.decode("utf-8", "replace")


def _walk(node: ts.Node, mod: str, is_pkg: bool, names: dict, classes: dict, depth: int) -> None:
    for c in node.named_children:  # the first binding of a name wins (os: posixpath before ntpath)
        exported = False  # an enum whose members the module exports (`@enum.global_enum`: re.IGNORECASE)
        if c.type == "decorated_definition":
            exported = any(_t(d).endswith("global_enum") for d in c.named_children if d.type == "decorator")
            c = c.child_by_field_name("definition") or c
        name = c.child_by_field_name("name") if c.type in ("function_definition", "class_definition") else None
        if name is not None:
            old = names.get(_t(name))
            if old is None or (old.kind == "variable" and not old.target):  # enum.py: `Enum = None` first, the class later
                names[_t(name)] = ModuleName("function" if c.type == "function_definition" else "class")
            if c.type == "class_definition":
                classes[_t(name)] = _class_info(c, mod, is_pkg, depth)
                if exported:
                    _export_members(classes[_t(name)], names)
        elif c.type == "expression_statement" and (g := _GLOBALS_UPDATE.fullmatch(_t(c))) and g.group(1) in classes:
            _export_members(classes[g.group(1)], names)  # globals().update(E.__members__)
        elif c.type == "expression_statement" and c.named_children and c.named_children[0].type == "assignment":
            left = c.named_children[0].child_by_field_name("left")
            for t in [left] if left is not None and left.type == "identifier" else (left.named_children if left is not None else []):
                if t.type == "identifier":
                    names.setdefault(_t(t), ModuleName("variable"))
        elif c.type == "import_statement":
            for n in c.named_children:
                if n.type == "aliased_import":
                    names.setdefault(_t(n.child_by_field_name("alias")), ModuleName("module", _t(n.child_by_field_name("name"))))
                elif n.type == "dotted_name":
                    head = _t(n).split(".")[0]
                    names.setdefault(head, ModuleName("module", head))
        elif c.type == "import_from_statement":
            _from_import(c, mod, is_pkg, names, depth)
        elif c.type in _BLOCKS:
            _walk(c, mod, is_pkg, names, classes, depth)


def _export_members(info: ClassInfo, names: dict) -> None:
    for n, kind in info.names.items():
        if kind == "attribute" and not n.startswith("_"):
            names.setdefault(n, ModuleName("variable"))


def _class_info(c: ts.Node, mod: str, is_pkg: bool, depth: int) -> ClassInfo:
    """A class body's names with their kinds, the `self.x` its methods assign, and its bases as written."""
    body = c.child_by_field_name("body")
    found: dict[str, ModuleName] = {}
    if body is not None:
        _walk(body, mod, is_pkg, found, {}, depth)
    attrs = [a.name for a in pynames.attribute_defs(c, lambda n: 1 if n == c else -1) if a.owner == 1]
    sup = c.child_by_field_name("superclasses")
    bases = []
    for b in sup.named_children if sup is not None else ():
        b = b.child_by_field_name("value") if b.type == "subscript" else b  # Generic[T], IO[bytes]
        if b is not None and b.type in ("identifier", "attribute"):
            bases.append(_t(b))
    kinds = {"function": "method", "class": "class"}
    names = {n: kinds.get(m.kind, "attribute") for n, m in found.items()}
    for a in attrs:
        names.setdefault(a, "attribute")
    return ClassInfo(names, tuple(bases))


def _from_import(c: ts.Node, mod: str, is_pkg: bool, names: dict, depth: int) -> None:
    src = c.child_by_field_name("module_name")
    if src is None:
        return
    text = _t(src)
    if text.startswith("."):
        dots = len(text) - len(text.lstrip("."))
        parts = mod.split(".")[: len(mod.split(".")) - dots + (1 if is_pkg else 0)]
        text = ".".join(parts + ([text.lstrip(".")] if text.lstrip(".") else []))
    if any(n.type == "wildcard_import" for n in c.named_children):
        for n, m in module_names(text, depth + 1)[0].items():
            if not n.startswith("_"):
                names.setdefault(n, ModuleName(m.kind, m.target or f"{text}.{n}"))
        return
    for n in c.children_by_field_name("name"):
        if n.type == "aliased_import":
            orig, alias = _t(n.child_by_field_name("name")), _t(n.child_by_field_name("alias"))
        else:
            orig = alias = _t(n)
        names.setdefault(alias, ModuleName("variable", f"{text}.{orig}"))


def members(path: str, depth: int = 0) -> dict[str, str]:
    """name -> kind for what a dotted standard-library path names (a module or a class in one).

    members("os.path") holds "join"; members("datetime.datetime") holds "now"; a path outside
    the standard library gives {}.
    """
    if depth > _MAX_DEPTH or not is_stdlib(path):
        return {}
    if path in RUNTIME_CLASSES:
        cls = RUNTIME_CLASSES[path]
        return {n: "method" if callable(getattr(cls, n, None)) else "attribute" for n in dir(cls) if not n.startswith("_")}
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        mod = ".".join(parts[:i])
        if _source(mod) is None and not _compiled(mod):
            continue
        names, classes = module_names(mod)
        rest = parts[i:]
        if not rest:
            return {n: m.kind for n, m in names.items() if not (n.startswith("__") and n.endswith("__"))}
        m = names.get(rest[0])
        if m is None:
            return {}
        if m.target:
            return members(".".join([m.target, *rest[1:]]), depth + 1)
        if m.kind == "class" and len(rest) == 1:
            if rest[0] in classes:
                out = _with_bases(mod, classes[rest[0]], names, depth)
                return {n: k for n, k in out.items() if not n.startswith("__")}  # dunders, and names mangled private
            return _compiled_class(mod, rest[0]) if _compiled(mod) else {}
        return {}
    return {}


def _with_bases(mod: str, info: ClassInfo, names: dict[str, ModuleName], depth: int) -> dict[str, str]:
    """A class's own names, then its bases' (found through the module's names, or builtins)."""
    out = dict(info.names)
    for base in info.bases:
        head, _, tail = base.partition(".")
        m = names.get(head)
        if m is not None:
            q = m.target or (f"{mod}.{head}" if m.kind == "class" else "")
        else:
            q = f"builtins.{head}" if isinstance(getattr(builtins, head, None), type) and not tail else ""
        if q:
            for n, k in members(f"{q}.{tail}" if tail else q, depth + 1).items():
                out.setdefault(n, k)
    return out


def _compiled_class(mod: str, name: str) -> dict[str, str]:
    cls = getattr(importlib.import_module(mod), name, None)  # compiled stdlib only (module docstring)
    if not isinstance(cls, type):
        return {}
    return {n: "method" if callable(getattr(cls, n, None)) else "attribute" for n in dir(cls) if not n.startswith("__")}
