"""Python parsing: the exact symbols and raw references of a real-looking snippet."""
from __future__ import annotations

from graphmer.index.parse import parse_source
from graphmer.index.records import Ref

SRC = b'''"""Module doc."""
import os.path as osp, sys
from . import sibling as sib
from ..pkg.mod import Thing, other as oth
from x import *


class Base(object, metaclass=Meta):
    """Base doc.

    More.
    """

    def save(self, x: Optional[Foo] = None) -> "Bar":
        raise ValueError("no") from err


@decorate
@pkg.deco(1)
class Child(Base):
    def save(self):
        super().save()
        self.helper(osp.join("a", "b"))

        def inner():
            pass

        return Thing()


async def fetch(url):
    # a comment, not a docstring
    return await get(url)
'''


def test_symbols():
    pf = parse_source(SRC, "pkg/s.py", "python", "pkg.s")
    got = [(s.kind, s.qualname, s.start_line, s.end_line, s.parent, s.signature, s.doc) for s in pf.symbols]
    assert got == [
        ("module", "pkg.s", 1, 33, -1, "", "Module doc."),
        ("class", "pkg.s.Base", 8, 15, 0, "class Base(object, metaclass=Meta)", "Base doc.\n\nMore."),
        ("method", "pkg.s.Base.save", 14, 15, 1, 'def save(self, x: Optional[Foo] = None) -> "Bar"', ""),
        ("class", "pkg.s.Child", 20, 28, 0, "class Child(Base)", ""),
        ("method", "pkg.s.Child.save", 21, 28, 3, "def save(self)", ""),
        ("function", "pkg.s.Child.save.inner", 25, 26, 4, "def inner()", ""),
        ("function", "pkg.s.fetch", 31, 33, 0, "async def fetch(url)", ""),
    ]
    assert pf.syntax_errors == 0
    assert pf.lines == 33
    assert pf.symbols[2].body.startswith("def save(self, x")


def test_refs():
    pf = parse_source(SRC, "pkg/s.py", "python", "pkg.s")
    assert pf.refs == [
        Ref(0, "import", "os.path", 2, "osp"),
        Ref(0, "import", "sys", 2, ""),
        Ref(0, "import", ".sibling", 3, "sib"),
        Ref(0, "import", "..pkg.mod.Thing", 4, "Thing"),
        Ref(0, "import", "..pkg.mod.other", 4, "oth"),
        Ref(0, "import", "x.*", 5, "*"),
        Ref(1, "base", "object", 8, ""),
        Ref(2, "param_type", "Optional", 14, ""),
        Ref(2, "param_type", "Foo", 14, ""),
        Ref(2, "returns", "Bar", 14, ""),
        Ref(2, "raise", "ValueError", 15, ""),  # `from err` is not what is raised
        Ref(2, "call", "ValueError", 15, ""),
        Ref(3, "decorator", "decorate", 18, ""),
        Ref(3, "decorator", "pkg.deco", 19, ""),
        Ref(3, "base", "Base", 20, ""),
        Ref(4, "call", "super().save", 22, ""),
        Ref(4, "call", "self.helper", 23, ""),
        Ref(4, "call", "osp.join", 23, ""),
        Ref(4, "call", "Thing", 28, ""),
        Ref(6, "call", "get", 33, ""),
    ]


def test_syntax_errors_keep_recovered_symbols():
    src = b"def ok():\n    return 1\n\ndef broken(:\n    pass\n\nclass Later:\n    def m(self): pass\n"
    pf = parse_source(src, "b.py", "python", "b")
    names = [s.qualname for s in pf.symbols]
    assert "b.ok" in names and "b.Later" in names and "b.Later.m" in names
    assert pf.syntax_errors > 0


def test_empty_file():
    pf = parse_source(b"", "e.py", "python", "e")
    assert [(s.kind, s.qualname, s.start_line, s.end_line) for s in pf.symbols] == [("module", "e", 1, 1)]
    assert pf.refs == [] and pf.lines == 0
