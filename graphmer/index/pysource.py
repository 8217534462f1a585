"""Source side of the search benchmark: queries from docstrings, and code without them.

Pure functions over one file's source text, with the stdlib `ast`. Lines are 1-based,
as ast reports them; columns are UTF-8 byte offsets, also as ast reports them.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Callable

MIN_QUERY_WORDS = 3  # shorter first sentences ("Return x.") say too little to search for
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DOC_OWNERS = (ast.Module, ast.ClassDef, *_FUNCS)


@dataclass(frozen=True)
class Target:
    """One query and its answer. `def_line` is the 1-based line of the `def` keyword."""

    path: str  # relative to the package root, forward slashes
    qualname: str  # dotted: "Outer.method", "outer.inner"
    def_line: int
    query: str


def first_sentence(doc: str) -> str:
    """The first sentence of a docstring: up to the first '. ' or blank line, whitespace collapsed.

    >>> first_sentence("Open the   file.\\n\\n    Then read it.")
    'Open the file.'
    >>> first_sentence("Parse version 1.2 of the\\n    format\\n\\n    Details.")
    'Parse version 1.2 of the format'
    """
    paragraph = re.split(r"\n[ \t]*\n", doc.strip(), maxsplit=1)[0]
    text = " ".join(paragraph.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _docstring_node(node: ast.AST) -> ast.Expr | None:
    body = getattr(node, "body", None)
    if body and isinstance(body[0], ast.Expr):
        value = body[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return body[0]
    return None


def _cut(line: str, col: int, end_col: int | None = None) -> tuple[str, str]:
    """Split a line around a span given in UTF-8 byte columns, as ast reports them."""
    raw = line.encode("utf-8")
    return raw[:col].decode("utf-8"), raw[len(raw) if end_col is None else end_col :].decode("utf-8")


def strip_docstrings(source: str, strip: Callable[[ast.AST], bool] | None = None) -> str:
    """Remove module, class and function docstrings, keeping all other lines where they are.

    strip: which docstrings go, a predicate on their owner (the ast.Module, ClassDef,
    FunctionDef or AsyncFunctionDef node); None removes every one. The docstring's lines
    become blank; where the docstring was the body's only statement (or shares a line with
    code) `pass` takes its place, so the result still parses. `source` must use "\\n" line
    ends (as `tokenize.open` yields); raises SyntaxError if it does not parse.

    >>> strip_docstrings('def f():\\n    \"\"\"Doc.\\n\\n    More.\"\"\"\\n\\n@d\\ndef g(): \"Doc\"; return 1\\n')
    'def f():\\n    pass\\n\\n\\n\\n@d\\ndef g(): pass; return 1\\n'

    Only g's docstring (the module's and f's stay, on their lines):

    >>> strip_docstrings('"Mod."\\ndef f():\\n    "F."\\ndef g():\\n    "G."\\n    return 1\\n', lambda o: getattr(o, "name", "") == "g")
    '"Mod."\\ndef f():\\n    "F."\\ndef g():\\n\\n    return 1\\n'
    """
    tree = ast.parse(source)
    lines = source.split("\n")
    docs = [(owner, d) for owner in ast.walk(tree)
            if isinstance(owner, _DOC_OWNERS) and (d := _docstring_node(owner)) and (strip is None or strip(owner))]
    # Bottom-up, so an edit never shifts the columns of one not yet made.
    for owner, doc in sorted(docs, key=lambda p: (p[1].lineno, p[1].col_offset), reverse=True):
        first, last = doc.lineno - 1, doc.end_lineno - 1
        head, _ = _cut(lines[first], doc.col_offset)
        _, tail = _cut(lines[last], 0, doc.end_col_offset)
        # `pass` where the body would be empty, or where code before the docstring or a
        # `;` after it needs a statement in its place ("def f(): 'Doc'; return 1").
        needs_pass = (
            (len(owner.body) == 1 and not isinstance(owner, ast.Module))
            or head.strip() != ""
            or tail.lstrip().startswith(";")
        )
        line = head + ("pass" if needs_pass else "") + tail
        lines[first : last + 1] = [line.rstrip() if line.strip() else ""] + [""] * (last - first)
    out = "\n".join(lines)
    ast.parse(out)  # the copy must parse; a SyntaxError here is a bug in this function
    return out


def functions(tree: ast.AST) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method, nested ones included, with its dotted qualname."""
    found: list = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (*_FUNCS, ast.ClassDef)):
                qualname = f"{prefix}{child.name}"
                if isinstance(child, _FUNCS):
                    found.append((qualname, child))
                visit(child, qualname + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def find_targets(source: str, path: str, min_words: int = MIN_QUERY_WORDS) -> list[Target]:
    """Targets of one file: functions whose docstring's first sentence has >= min_words words.

    >>> find_targets('@d\\nasync def f():\\n    "Fetch the page."\\n', "m.py")
    [Target(path='m.py', qualname='f', def_line=2, query='Fetch the page.')]
    """
    targets = []
    for qualname, fn in functions(ast.parse(source)):
        doc = ast.get_docstring(fn, clean=True)
        query = first_sentence(doc) if doc else ""
        if len(query.split()) >= min_words:
            targets.append(Target(path, qualname, fn.lineno, query))
    return targets


def def_lines(tree: ast.AST) -> list[tuple[str, int]]:
    """(qualname, def line) of every function, sorted: what stripping must not move.

    End lines are left out: they may move up, as a body that was only a docstring ends at its `pass`.
    """
    return sorted((q, fn.lineno) for q, fn in functions(tree))
