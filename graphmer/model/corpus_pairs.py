"""Training pairs from one package's source tree: (a sentence about a function, its code).

A function gives at most one pair: the first sentence of its docstring (3+ words), or
else the first sentence of the comment block right above its `def` (or its first
decorator). The code side is the function in a copy of the file with every docstring
removed and the comments used as queries blanked, lines kept where they were, so that
the index of the copy finds each pair's function at its original `def` line.

A comment is not a query when it is commented-out code (it parses as Python), a pragma or
marker (`# type:`, `# noqa`, `# pragma`, `# TODO`, `# Copied from ...`, ...), a file header
(starting at line 1) or a licence notice.
"""
from __future__ import annotations

import ast
import io
import logging
import re
import shutil
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graphmer.index.pysource import MIN_QUERY_WORDS, find_targets, first_sentence, functions, strip_docstrings

log = logging.getLogger(__name__)

# Pragmas, markers and notes that do not describe the function (transformers' "Copied from
# X with Y->Z" marks a copy, not what the code does).
_PRAGMA = re.compile(r"^(type:|noqa|pragma|pylint:|mypy:|fmt:|isort:|flake8|nosec|-\*-|!|todo\b|fixme\b|xxx\b|copied from\b)", re.I)
_LICENCE = re.compile(r"copyright|licen[cs]e|spdx", re.I)


@dataclass(frozen=True)
class PairRecord:
    """One line of a corpus's pairs.jsonl."""

    package: str  # folder under the corpus's code/
    path: str  # relative to that folder, forward slashes
    def_line: int  # 1-based line of `def`
    qualname: str
    query: str
    source: str  # "docstring" or "comment"


@dataclass
class FileResult:
    stripped: str  # the copy's text ("" when the file did not parse)
    pairs: list[PairRecord]
    bodies: dict[int, str]  # def_line -> the text in the copy of every function, pairs or not
    functions: int


def _comment_text(line: str) -> str | None:
    s = line.strip()
    return s[1:].strip() if s.startswith("#") else None


def leading_comment(lines: list[str], fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int, str] | None:
    """(first, last) 0-based lines and text of the comment block right above `fn`, when it reads as a sentence.

    >>> src = "x = 1\\n# Parse the header line\\n# of a block.\\ndef f():\\n    pass\\n"
    >>> leading_comment(src.split("\\n"), ast.parse(src).body[1])
    (1, 2, 'Parse the header line of a block.')
    """
    top = min([fn.lineno] + [d.lineno for d in fn.decorator_list]) - 1  # 0-based line of `def` or `@`
    indent = lines[top][: len(lines[top]) - len(lines[top].lstrip())]
    i = top - 1
    while i >= 0 and _comment_text(lines[i]) is not None and lines[i].startswith(indent) and lines[i].strip().startswith("#"):
        i -= 1
    first, last = i + 1, top - 1
    if first > last or first == 0:
        return None
    parts = [_comment_text(lines[j]) or "" for j in range(first, last + 1)]
    if any(_PRAGMA.match(p) for p in parts if p) or _LICENCE.search(" ".join(parts)):
        return None
    text = "\n".join(parts)
    try:
        ast.parse(text)
        return None  # commented-out code
    except SyntaxError:
        pass
    sentence = first_sentence(text)
    return (first, last, sentence) if len(sentence.split()) >= MIN_QUERY_WORDS else None


def extract_source(source: str, package: str, rel: str, comments: bool = True) -> FileResult:
    """Pairs and the stripped copy of one file's source ("\\n" line ends). Raises SyntaxError."""
    tree = ast.parse(source)
    docs = {t.def_line: t for t in find_targets(source, rel)}
    lines = source.split("\n")
    pairs, blank = [], []
    fns = functions(tree)
    for qualname, fn in fns:
        if fn.lineno in docs:
            pairs.append(PairRecord(package, rel, fn.lineno, qualname, docs[fn.lineno].query, "docstring"))
        elif comments and (found := leading_comment(lines, fn)):
            first, last, sentence = found
            pairs.append(PairRecord(package, rel, fn.lineno, qualname, sentence, "comment"))
            blank.extend(range(first, last + 1))
    out = strip_docstrings(source).split("\n")
    for j in blank:
        out[j] = ""
    stripped = "\n".join(out)
    bodies = {fn.lineno: "\n".join(out[fn.lineno - 1 : fn.end_lineno]) for _, fn in fns}
    return FileResult(stripped, pairs, bodies, len(fns))


def read_python(path: Path) -> tuple[str, str]:
    """(text with "\\n" line ends, encoding) as Python reads a source file (PEP 263 cookies)."""
    raw = path.read_bytes()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    return raw.decode(encoding).replace("\r\n", "\n").replace("\r", "\n"), encoding


@dataclass
class TreeResult:
    pairs: list[PairRecord]
    bodies: dict[tuple[str, int], str]  # (path, def_line) -> the function's text in the copy
    files: int
    unparsed: int
    functions: int


def extract_tree(src: Path, dest: Path, package: str, comments: bool = True,
                 skip: Callable[[str], bool] | None = None) -> TreeResult:
    """Every .py file under `src` (but those `skip(rel)` names) copied stripped into `dest` (replaced), with its pairs."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    pairs: list[PairRecord] = []
    bodies: dict[tuple[str, int], str] = {}
    files = unparsed = nfun = 0
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if not path.is_file() or path.is_symlink() or (skip and skip(rel)):
            continue
        files += 1
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            source, _ = read_python(path)
            found = extract_source(source, package, rel, comments)
        except (SyntaxError, UnicodeDecodeError, ValueError, LookupError) as exc:
            log.info("%s/%s: copied unchanged, no pairs (%s)", package, rel, exc)
            shutil.copyfile(path, out)
            unparsed += 1
            continue
        out.write_text(found.stripped, encoding="utf-8")  # what the indexer reads, whatever the original's cookie
        pairs += found.pairs
        bodies.update({(rel, line): text for line, text in found.bodies.items()})
        nfun += found.functions
    return TreeResult(pairs, bodies, files, unparsed, nfun)
