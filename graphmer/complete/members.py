"""The members of a value's type, as completion lists them: a module's names, a class's and
its bases' (a buffer class as the buffer has it, an indexed one, a standard-library one read
statically, a builtin one), each a `Member`.
"""
from __future__ import annotations

import builtins
import functools
from dataclasses import dataclass

from graphmer.complete import stdlib_members
from graphmer.complete.buffer import is_property_decorator
from graphmer.complete.signatures import first_param, is_dunder
from graphmer.complete.typer import BUILTIN_CLASSES, Typer, Val, stdlib_class
from graphmer.index import store_completion
from graphmer.index.records import CLASS_KINDS
from graphmer.index.store import Store


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a type, as a completion candidate shows it."""

    kind: str  # "method", "property", "function", "class", "attribute", "module", "variable", ...
    detail: str  # its signature, or its qualname / dotted path
    symbol_id: int  # store id when it is an indexed symbol, else 0
    depth: int  # base classes between the type and the member's class (0: its own)


class MemberTable:
    def __init__(self, store: Store, typer: Typer) -> None:
        self.typer = typer
        self.r = typer.r
        self.symbols = typer.symbols  # qualname -> (id, kind, signature)
        self.attrs = typer.attrs  # owner qualname -> attribute name -> value encoding
        # methods read as attributes: decorated with a property decorator (the graph's decorated_by edges)
        self.properties = {src for src, dst in store_completion.decorator_edges(store) if is_property_decorator(dst)}
        self.store = store
        self.submodules: dict[str, list[str]] = {}
        for q, kind in self.r.kind.items():
            if kind == "module" and "." in q:
                self.submodules.setdefault(q.rpartition(".")[0], []).append(q)

    def of(self, val: Val) -> tuple[dict[str, Member], bool]:
        """name -> Member for the members of a value's type, and whether they are all there
        (False: a base class outside what we can read)."""
        out: dict[str, Member] = {}
        if val.kind == "module":
            self._module_members(val.qual, out)
        elif val.kind == "external":
            for name, kind in stdlib_members.members(val.qual).items():
                out[name] = Member(kind, f"{val.qual}.{name}", 0, 0)
        elif val.kind in ("class", "instance"):
            for depth, cls in enumerate(self.typer.mro(val.qual)):
                if not self._class_members(cls, depth, out):
                    return out, False
            if val.qual == "argparse.Namespace" and val.kind == "instance":
                # What parse_args() gives: the buffer's add_argument calls name its attributes,
                # parsers elsewhere may add more (never a whole type); the helpers its class
                # inherits (_get_args, _get_kwargs) are argparse's own, not the caller's.
                out = {n: m for n, m in out.items() if not n.startswith("_") or is_dunder(n)}
                for name in self.typer.buf.argparse_dests() if self.typer.buf is not None else ():
                    out.setdefault(name, Member("attribute", f"argparse option {name}", 0, 0))
                return out, False
        return out, True

    @functools.cached_property
    def self_attrs(self) -> dict[str, set[str]]:
        """Class qualname -> the attribute names its methods assign on `self` (the first
        assignment inside a method's lines); read on the first class-object receiver only."""
        out: dict[str, set[str]] = {}
        for owner, name in store_completion.method_attributes(self.store):
            out.setdefault(owner, set()).add(name)
        return out

    def instance_names(self, val: Val) -> set[str]:
        """Of a class's members (and its bases' in the index or the buffer): those that belong to
        its instances, not to the class object: methods taking `self`, properties, and names only
        its methods assign on `self`. `Panel.fit` (a classmethod) is not one, `Panel.title` is."""
        out: set[str] = set()
        for cls in self.typer.mro(val.qual) if val.kind == "class" else ():
            node = self.typer.buffer_class(cls)
            if node is not None:
                buf = self.typer.buf
                body = buf.scope_names(node)
                out |= {n for n in buf.class_attributes(node) if n not in body} | set(buf.properties(node))
                methods = [n for n, (k, _) in body.items() if k == "function"]
            elif self.r.kind.get(cls) in CLASS_KINDS:
                out |= self.self_attrs.get(cls, set()) - set(self.r.members.get(cls, {}))
                methods = [n for n, q in self.r.members.get(cls, {}).items() if self.r.kind.get(q) == "method"]
            else:
                continue
            for n in methods:
                q = f"{cls}.{n}"
                if q in self.properties or first_param(self.symbols.get(q, (0, "", ""))[2]) == "self":
                    out.add(n)
        return out

    def attribute_order(self, val: Val) -> list[str]:
        """The attribute names of an instance's or class's type in the order they are first
        assigned (class body and `self.x`), its own before its bases'."""
        out: list[str] = []
        for cls in self.typer.mro(val.qual) if val.kind in ("class", "instance") else ():
            node = self.typer.buffer_class(cls)
            names = self.typer.buf.class_attributes(node) if node is not None else self.attrs.get(cls, {})
            out += [n for n in names if n not in out]
        return out

    def _sym(self, q: str, default_kind: str, depth: int = 0) -> Member:
        sid, kind, sig = self.symbols.get(q, (0, default_kind, ""))
        if kind == "method" and q in self.properties:
            kind = "property"
        return Member(default_kind if kind == "external" else kind, sig or q, sid if kind != "external" else 0, depth)

    def _module_members(self, mod: str, out: dict) -> None:
        r = self.r
        for name, q in r.bindings.get(mod, {}).items():  # imported names (a package's re-exports)
            c = r.canonical(q) or q
            kind = r.kind.get(c, "module" if c == q and "." not in q else "variable")
            out[name] = self._sym(c, kind)
        for sub in self.submodules.get(mod, []):
            out[sub.rpartition(".")[2]] = self._sym(sub, "module")
        for name in self.attrs.get(mod, {}):
            out[name] = Member("variable", f"{mod}.{name}", 0, 0)
        for name, q in r.members.get(mod, {}).items():
            out[name] = self._sym(q, r.kind.get(q, "variable"))

    def _class_members(self, cls: str, depth: int, out: dict) -> bool:
        """Add one class's members (those not already shadowed); False: cannot see further."""
        node = self.typer.buffer_class(cls)
        if node is not None:
            buf = self.typer.buf
            found = {n: (k, v) for n, (k, v) in buf.scope_names(node).items()}
            found.update({n: ("variable", v) for n, v in buf.class_attributes(node).items() if n not in found})
            props = buf.properties(node)
            for name, (kind, _) in found.items():
                if name not in out:
                    q = f"{cls}.{name}"
                    k = "property" if name in props else {"function": "method", "class": "class"}.get(kind, "attribute")
                    out[name] = self._sym(q, k, depth)
            return True
        if self.r.kind.get(cls) in CLASS_KINDS:
            for name, q in self.r.members.get(cls, {}).items():
                if name not in out:
                    out[name] = self._sym(q, self.r.kind.get(q, "attribute"), depth)
            for name in self.attrs.get(cls, {}):
                if name not in out:
                    out[name] = Member("attribute", f"{cls}.{name}", 0, depth)
            return True
        if stdlib_members.is_stdlib(cls) and cls not in self.r.kind and not cls.startswith("builtins."):
            found = stdlib_members.members(cls)
            for name, kind in found.items():
                if name not in out:
                    out[name] = Member(kind, f"{cls}.{name}", 0, depth)
            return bool(found) or stdlib_class(cls)  # abc.ABC, typing.Generic: classes without members
        if cls.startswith("builtins.") and cls[9:] in BUILTIN_CLASSES:
            t = getattr(builtins, cls[9:])
            for name in dir(t):
                if not name.startswith("__") and name not in out:
                    out[name] = Member("method" if callable(getattr(t, name, None)) else "attribute", f"{cls}.{name}", 0, depth)
            return True
        return False
