"""Receiver types from return annotations (graphmer/complete/typer.py Typer.returned)."""
import textwrap

import pytest

from graphmer.complete.pipeline import Completer
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.store import INDEX_DIRNAME, Store

LEX = '''
import logging
from typing import Optional


class Token:
    def text(self):
        return ""

    def kind_of(self):
        return ""


class Lexer:
    def next(self) -> Optional[Token]:
        return None

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(__name__)


def get_lexer() -> "Lexer":
    return Lexer()
'''


@pytest.fixture(scope="module")
def completer(tmp_path_factory):
    root = tmp_path_factory.mktemp("returns")
    (root / "pkg").mkdir()
    (root / "pkg/__init__.py").write_text("")
    (root / "pkg/lex.py").write_text(textwrap.dedent(LEX).lstrip("\n"))
    build_index(root, IndexConfig(jobs=1))
    store = Store(root / INDEX_DIRNAME)
    yield Completer(store)
    store.close()


def _complete(c, lines: list[str]):
    src = "\n".join(["from pkg.lex import get_lexer", "", "lx = get_lexer()", "tok = lx.next()", *lines])
    last = src.split("\n")
    return c.complete("pkg/use.py", src, len(last) - 1, len(last[-1]))


@pytest.mark.parametrize("line, rtype, first", [
    ("lx.", "pkg.lex.Lexer", ["next", "log"]),  # a quoted return annotation; next is used in the buffer
    ("tok.", "pkg.lex.Token", ["kind_of", "text"]),  # Optional[Token] from a method
    ("lx.log.", "logging.Logger", None),  # a method read without a call (a property), a stdlib class
    ("lx.next().", "pkg.lex.Token", ["kind_of", "text"]),
])
def test_receiver_types_from_return_annotations(completer, line, rtype, first):
    got = _complete(completer, [line])
    assert got.receiver_type == rtype
    labels = [i.label for i in got.items]
    if first is not None:
        assert labels == first
    else:
        assert {"exception", "setLevel", "info"} <= set(labels)
