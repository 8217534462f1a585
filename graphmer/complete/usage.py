"""Attribute-use counts as completion ranks by them: the repository's totals (loaded once by
`usage_totals`), with one file's indexed uses swapped for its open buffer's (the leakage
rule: `Uses`), closeness in the buffer, and the order the buffer uses names in.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphmer.complete.buffer import Buffer
from graphmer.index import store_completion
from graphmer.index.store import Store

if TYPE_CHECKING:
    import tree_sitter as ts


@dataclass(frozen=True)
class UsageTotals:
    """The repository's attribute-use counts, name -> uses, grouped five ways."""

    by_recv: dict[str, Counter]  # after this receiver text
    by_last: dict[str, Counter]  # after a receiver ending in this last part
    by_name: Counter  # after any receiver (name -> uses)
    by_qual: dict[str, Counter]  # after a receiver naming this module, class or external path (any file)
    by_ctx: dict[tuple[str, str], Counter]  # after (receiver text, context token)
    by_ctx_last: dict[tuple[str, str], Counter]  # after (receiver's last part, context token)


def usage_totals(store: Store, file_module: dict[int, str], receiver_qual: Callable[[str, str], str]) -> UsageTotals:
    """Every total completion ranks by, from the store's attr_uses rows. file_module: file id ->
    module name; receiver_qual(module, receiver) gives the path a receiver names (or "")."""
    by_recv: dict[str, Counter] = {}
    by_last: dict[str, Counter] = {}
    by_name: Counter = Counter()
    for r, n, k in store_completion.attr_use_totals(store):
        by_recv.setdefault(r, Counter())[n] += k
        by_last.setdefault(last_part(r), Counter())[n] += k
        by_name[n] += k
    by_qual: dict[str, Counter] = {}
    for fid, r, n, k in store_completion.attr_use_rows(store):
        q = receiver_qual(file_module.get(fid, ""), r)
        if q:
            by_qual.setdefault(q, Counter())[n] += k
    by_ctx: dict[tuple[str, str], Counter] = {}
    by_ctx_last: dict[tuple[str, str], Counter] = {}
    for r, x, n, k in store_completion.attr_use_context_totals(store):
        by_ctx.setdefault((r, x), Counter())[n] += k
        by_ctx_last.setdefault((last_part(r), x), Counter())[n] += k
    return UsageTotals(by_recv, by_last, by_name, by_qual, by_ctx, by_ctx_last)


class FileUses:
    """The uses stored for one indexed file (the ones the open buffer replaces), read once per file."""

    def __init__(self, store: Store, file_ids: dict[str, int]) -> None:
        self.store = store
        self.file_ids = file_ids
        self._pairs: dict[str, Counter] = {}
        self._split: dict[str, tuple[dict, dict, Counter]] = {}
        self._ctx: dict[str, dict[tuple[str, str], Counter]] = {}

    def pairs(self, path: str) -> Counter:
        """(receiver, name) counts stored for the file at path (empty when not indexed)."""
        if path not in self._pairs:
            out: Counter = Counter()
            for (r, _), names in self.by_context(path).items():  # summed over context tokens
                for n, k in names.items():
                    out[(r, n)] += k
            self._pairs[path] = out
        return self._pairs[path]

    def by_context(self, path: str) -> dict[tuple[str, str], Counter]:
        """(receiver, context token) -> name -> count, stored for the file at path."""
        if path not in self._ctx:
            fid = self.file_ids.get(path)
            rows = store_completion.file_attr_uses(self.store, fid) if fid else []
            out: dict[tuple[str, str], Counter] = {}
            for r, x, n, k in rows:
                out.setdefault((r, x), Counter())[n] += k
            self._ctx[path] = out
        return self._ctx[path]

    def split(self, path: str) -> tuple[dict, dict, Counter]:
        """pairs(path) grouped by receiver, by receiver's last part, and by name (split_uses)."""
        if path not in self._split:
            self._split[path] = split_uses(self.pairs(path))
        return self._split[path]


class Uses:
    """Attribute-use counts of the repository with one file's indexed uses swapped for a buffer's."""

    def __init__(self, totals: UsageTotals, indexed: tuple[dict, dict, Counter], buffer: Counter,
                 path_ctx: dict[tuple[str, str], Counter], quals: tuple[dict[str, Counter], dict[str, Counter]]) -> None:
        """indexed: the file's stored uses (FileUses.split); buffer: the buffer's (receiver, name)
        counts; path_ctx: the file's stored (receiver, context) counts; quals: the file's stored
        and the buffer's counts grouped by the path their receiver names."""
        self.totals = totals
        self.cur_recv, self.cur_last, self.cur_name = indexed
        self.buf_recv, self.buf_last, self.buf_name = split_uses(buffer)
        self.path_ctx = path_ctx
        self.cur_qual, self.buf_qual = quals

    def by_receiver(self, r: str) -> Counter:
        """name -> uses after the receiver text r."""
        return _swap(self.totals.by_recv.get(r), self.cur_recv.get(r), self.buf_recv.get(r))

    def by_context(self, r: str, ctx: str, buffer_sites: list[tuple[str, str, int, str]]) -> Counter:
        """name -> uses after receiver text r standing after the context token ctx."""
        plus = Counter(n for br, n, _, x in buffer_sites if br == r and x == ctx)
        return _swap(self.totals.by_ctx.get((r, ctx)), self.path_ctx.get((r, ctx)), plus)

    def by_context_last(self, r: str, ctx: str, buffer_sites: list[tuple[str, str, int, str]]) -> Counter:
        """name -> uses after a receiver ending in r's last part, standing after the context token ctx."""
        last = last_part(r)
        plus = Counter(n for br, n, _, x in buffer_sites if x == ctx and last_part(br) == last)
        minus: Counter = Counter()
        for (pr, x), names in self.path_ctx.items():
            if x == ctx and last_part(pr) == last:
                minus.update(names)
        return _swap(self.totals.by_ctx_last.get((last, ctx)), minus, plus)

    def by_qual(self, q: str) -> Counter:
        """name -> uses after receivers naming the path q, in any file."""
        return _swap(self.totals.by_qual.get(q), self.cur_qual.get(q), self.buf_qual.get(q))

    def by_receivers(self, rs: list[str]) -> Counter:
        """name -> uses after any of the receiver texts rs."""
        out: Counter = Counter()
        for r in rs:
            out.update(self.by_receiver(r))
        return out

    def by_last(self, r: str) -> Counter:
        """name -> uses after any receiver whose last part is r's last part."""
        last = last_part(r)
        return _swap(self.totals.by_last.get(last), self.cur_last.get(last), self.buf_last.get(last))

    def name(self, n: str) -> int:
        """Uses of n as an attribute anywhere."""
        return self.totals.by_name.get(n, 0) - self.cur_name.get(n, 0) + self.buf_name.get(n, 0)

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
