"""Attribute-use counts as completion ranks by them: the repository's totals with one file's
indexed uses swapped for its open buffer's (the leakage rule), closeness in the buffer, and
uses per receiver type (receivers whose attributes are all members of one class).
"""
from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from typing import TYPE_CHECKING

from graphmer.index.complete_buffer import Buffer

if TYPE_CHECKING:
    import tree_sitter as ts

    from graphmer.index.complete import Completer


_ASSIGNED = re.compile(r"([^\W\d]\w*)\s*(?::[^=]*)?(?<![=!<>])=\s*$")


def assigned_name(before: str) -> str:
    """The name an expression starting after `before` is assigned or passed to, or "".

    assigned_name("    env = ") -> "env"; assigned_name("f(a, key=") -> "key"; assigned_name("x == ") -> "".
    """
    m = _ASSIGNED.search(before)
    return m.group(1) if m else ""


_CALLEE = re.compile(r"([^\W\d][\w.]*)\s*$")


def call_slot(before: str) -> tuple[str, int]:
    """The call an expression starting after `before` is a positional argument of, as (callee
    text, 0-based argument index), or ("", -1): call_slot("x = f(a, ") -> ("f", 1);
    call_slot("g(key=") -> ("", -1) (a keyword argument: assigned_name has it)."""
    depth, commas = 0, 0
    for i in range(len(before) - 1, -1, -1):
        ch = before[i]
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            if depth == 0:
                if ch != "(" or assigned_name(before):
                    return "", -1
                m = _CALLEE.search(before[:i])
                return (m.group(1), commas) if m else ("", -1)
            depth -= 1
        elif ch == "," and depth == 0:
            commas += 1
    return "", -1


def name_match(target: str, name: str) -> float:
    """1 when two names are the same up to case and underscores, 0.5 when one holds the
    other (three characters or more), else 0: `environment = self.environment`."""
    a, b = target.lower().strip("_"), name.lower().strip("_")
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return 0.5 if min(len(a), len(b)) >= 3 and (a in b or b in a) else 0.0


class Uses:
    """Attribute-use counts of the repository with one file's indexed uses swapped for a buffer's."""

    def __init__(self, totals: Completer, indexed: tuple[dict, dict, Counter], buffer: Counter) -> None:
        self.t = totals
        self.cur_recv, self.cur_last, self.cur_name = indexed
        self.buf_recv, self.buf_last, self.buf_name = split_uses(buffer)
        self.path_ctx: dict[tuple[str, str], Counter] = {}  # the file's indexed (receiver, context) counts
        self.cur_qual: dict[str, Counter] = {}
        self.buf_qual: dict[str, Counter] = {}
        self.owner_swap: tuple[dict, dict] = ({}, {})  # the file's indexed and buffer self_uses, by class

    def by_receiver(self, r: str) -> Counter:
        """name -> uses after the receiver text r."""
        return _swap(self.t.by_recv.get(r), self.cur_recv.get(r), self.buf_recv.get(r))

    def by_context(self, r: str, ctx: str, buffer_sites: list[tuple[str, str, int, str]]) -> Counter:
        """name -> uses after receiver text r standing after the context token ctx."""
        plus = Counter(n for br, n, _, x in buffer_sites if br == r and x == ctx)
        return _swap(self.t.by_ctx.get((r, ctx)), self.path_ctx.get((r, ctx)), plus)

    def by_context_last(self, r: str, ctx: str, buffer_sites: list[tuple[str, str, int, str]]) -> Counter:
        """name -> uses after a receiver ending in r's last part, standing after the context token ctx."""
        last = last_part(r)
        plus = Counter(n for br, n, _, x in buffer_sites if x == ctx and last_part(br) == last)
        minus: Counter = Counter()
        for (pr, x), names in self.path_ctx.items():
            if x == ctx and last_part(pr) == last:
                minus.update(names)
        return _swap(self.t.by_ctx_last.get((last, ctx)), minus, plus)

    def set_quals(self, indexed: dict[str, Counter], buffer: dict[str, Counter]) -> None:
        """The file's indexed and buffer counts grouped by receiver path (Completer.receiver_qual)."""
        self.cur_qual, self.buf_qual = indexed, buffer

    def by_qual(self, q: str) -> Counter:
        """name -> uses after receivers naming the path q, in any file."""
        return _swap(self.t.by_qual.get(q), self.cur_qual.get(q), self.buf_qual.get(q))

    def by_receivers(self, rs: list[str]) -> Counter:
        """name -> uses after any of the receiver texts rs."""
        out: Counter = Counter()
        for r in rs:
            out.update(self.by_receiver(r))
        return out

    def by_last(self, r: str) -> Counter:
        """name -> uses after any receiver whose last part is r's last part."""
        last = last_part(r)
        return _swap(self.t.by_last.get(last), self.cur_last.get(last), self.buf_last.get(last))

    def name(self, n: str) -> int:
        """Uses of n as an attribute anywhere."""
        return self.t.by_name.get(n, 0) - self.cur_name.get(n, 0) + self.buf_name.get(n, 0)

    def in_buffer(self, n: str) -> int:
        return self.buf_name.get(n, 0)


def near_uses(buf: Buffer, key: str, span: float, rows: list[tuple[int, int]]) -> dict[str, float]:
    """name -> uses after receiver text `key` within the buffer's row ranges `rows`, each weighted
    exp(-lines away / span): code repeats the attributes it just used (`frame.buffer` twice)."""
    out: dict[str, float] = {}
    for r, n, row, _ in buf.use_sites():
        if r == key and any(a <= row <= b for a, b in rows):
            out[n] = out.get(n, 0.0) + math.exp(-abs(row - buf.line) / span)
    return out


def last_part(receiver: str) -> str:
    return receiver.rsplit(".", 1)[-1]


def split_uses(c: Counter) -> tuple[dict[str, Counter], dict[str, Counter], Counter]:
    recv: dict[str, Counter] = {}
    last: dict[str, Counter] = {}
    name: Counter = Counter()
    for (r, n), k in c.items():
        recv.setdefault(r, Counter())[n] += k
        last.setdefault(last_part(r), Counter())[n] += k
        name[n] += k
    return recv, last, name


def _swap(total: Counter | None, minus: Counter | None, plus: Counter | None) -> Counter:
    out = Counter(total) if total else Counter()
    if minus:
        out.subtract(minus)
    if plus:
        out.update(plus)
    return +out  # drops the zero counts the subtraction leaves


def transitions(buf: Buffer, key: str, fn: ts.Node | None) -> Counter:
    """name -> how often the buffer uses it on receiver text `key` right after the name the
    cursor's receiver used last before it (in the enclosing function): `self.begin()` ...
    `self.end()` elsewhere makes `end` likely after `begin` here."""
    sites = sorted((row, n) for r, n, row, _ in buf.use_sites() if r == key)
    lo = fn.start_point.row if fn is not None else 0
    prev = next((n for row, n in reversed(sites) if lo <= row <= buf.line), None)
    if prev is None:
        return Counter()
    return Counter(b for (_, a), (_, b) in itertools.pairwise(sites) if a == prev)
