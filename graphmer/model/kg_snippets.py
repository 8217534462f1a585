"""The text a training sample is made of (docs/model.md §8.1-8.2): a function's source (a method prefixed by
its class header line), comments and blank lines dropped, with where each source line landed, and
the anchors of triples in it: the char span of an identifier on a line, the tokens over a span,
the tokens that start a code word. graphmer/model/kg_samples.py makes samples of them.
"""
from __future__ import annotations

import bisect
import io
import logging
import re
import tokenize
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from graphmer.index.store import Store

log = logging.getLogger("graphmer.model.kg_samples")  # the sampler's log, as before this module was split out

CLASS_LINES = 40  # a class is sampled (for retrieval) from its first lines only
_WORD = re.compile(r"\w+|[^\w\s]+")  # a code word: an identifier/number run or a punctuation run
_IDENT = re.compile(r"(\w+)")
_DEF = re.compile(r"\bdef\s+(\w+)")


@dataclass
class Snippet:
    """A function's text and where each source line landed in it."""

    symbol_id: int
    path: str
    text: str
    lines: dict[int, tuple[int, int]]  # source line (1-based) -> (start, end) char offsets in text
    def_line: int


def _comment_cols(source: str) -> dict[int, int]:
    """line -> column where a `#` comment starts (tokenize knows strings from comments)."""
    out = {}
    try:
        for t in tokenize.generate_tokens(io.StringIO(source).readline):
            if t.type == tokenize.COMMENT:
                out[t.start[0]] = t.start[1]
    except (tokenize.TokenError, SyntaxError):
        log.debug("could not tokenize; keeping comments")
    return out


def _snippet(symbol_id: int, path: str, file_lines: list[str], comments: dict[int, int],
             first: int, last: int, def_line: int, header: list[int]) -> Snippet:
    """Text of lines first..last dedented to the def (4 more under a class header), comments and blank lines dropped."""
    def indent(s: str) -> int:
        return len(s) - len(s.lstrip(" \t"))

    parts: list[str] = []
    spans: dict[int, tuple[int, int]] = {}
    pos = 0
    base = indent(file_lines[first - 1]) if first <= len(file_lines) else 0
    todo = [(n, "", indent(file_lines[header[0] - 1])) for n in header] + [(n, "    " if header else "", base) for n in range(first, last + 1)]
    for n, prefix, cut in todo:
        if n > len(file_lines):
            break
        line = file_lines[n - 1]
        if n in comments:
            line = line[: comments[n]]
        line = line.rstrip()
        if not line.strip():
            continue
        k = min(cut, indent(line))
        line = prefix + line[k:]
        parts.append(line)
        spans[n] = (pos, pos + len(line))
        pos += len(line) + 1
    return Snippet(symbol_id, path, "\n".join(parts), spans, def_line)


def _class_header(file_lines: list[str], comments: dict[int, int], start: int) -> list[int]:
    """Source lines of a `class Foo(Base):` header (usually one; up to 10 if wrapped)."""
    out = []
    for n in range(start, min(start + 10, len(file_lines) + 1)):
        out.append(n)
        line = file_lines[n - 1][: comments.get(n, None)].rstrip()
        if line.endswith(":"):
            break
    return out


def read_snippets(store: Store, syms, funcs) -> Iterator[Snippet]:
    """The snippet of each function row in `funcs` (decorators kept; a class cut to CLASS_LINES), file by file."""
    root = store.root
    by_file: dict[str, list[tuple]] = defaultdict(list)
    for r in funcs:
        by_file[r[7]].append(r)
    for path, rows in by_file.items():
        try:
            source = (root / path).read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            log.warning("skipping %s: %s", path, e)
            continue
        file_lines = source.split("\n")  # the index counts lines by \n only (not \f, \x1c, ...)
        comments = _comment_cols(source)
        for sid, name, qual, kind, start, end, parent, _ in rows:
            first = start
            while first > 1 and file_lines[first - 2].lstrip().startswith("@"):
                first -= 1  # the index's def starts after its decorators; keep them
            p = syms.get(parent)
            header = _class_header(file_lines, comments, p[4]) if kind == "method" and p and p[3] == "class" else []
            if kind == "class":
                end = min(end, start + CLASS_LINES)
            yield _snippet(sid, path, file_lines, comments, first, end, start, header)


def word_starts(text: str, offsets: list[tuple[int, int]]) -> list[bool]:
    """Token i starts a code word when its first non-space char starts a `\\w+`/punctuation run."""
    starts = {m.start() for m in _WORD.finditer(text)}
    out, prev = [], -1
    for a, b in offsets:
        while a < b and text[a].isspace():
            a += 1
        out.append(a < b and a in starts and a != prev)  # byte pieces of one char share an offset
        prev = a
    return out


def token_span(tok_starts: list[int], offsets: list[tuple[int, int]], a: int, b: int) -> tuple[int, int] | None:
    """Tokens [i, j) covering chars [a, b), or None if no token overlaps."""
    i = max(bisect.bisect_right(tok_starts, a) - 1, 0)
    while i < len(offsets) and offsets[i][1] <= a:
        i += 1
    j = i
    while j < len(offsets) and offsets[j][0] < b:
        j += 1
    return (i, j) if j > i else None


def anchor(sn: Snippet, line: int, word: str, def_name: bool = False) -> tuple[int, int] | None:
    """Char span of the first whole-word `word` on source `line` (the name after `def` for def names)."""
    span = sn.lines.get(line)
    if span is None or not word:
        return None
    for m in (_DEF if def_name else _IDENT).finditer(sn.text, span[0], span[1]):
        if m.group(1) == word:
            return m.span(1)
    return None
