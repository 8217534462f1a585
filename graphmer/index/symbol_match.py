"""Fuzzy symbol-name matching over a whole index (workspace/symbol), in memory.

Every indexed symbol takes part, methods and nested classes included. Names are grouped
so each distinct name is tested once; a query is matched case-insensitively as a prefix,
a substring, word initials ("gcf" ~ get_config_file, "HTTPCo" ~ HTTPConnection) or, last,
a subsequence. A dotted query ("Store.sav") matches the last part against the name and
the rest against the enclosing qualified name.
"""
from __future__ import annotations

import bisect
import heapq
import re
from dataclasses import dataclass
from functools import lru_cache

from graphmer.index.store import Store

# Score bands, best first; within a band shorter names (tighter matches) rank higher.
EXACT, EXACT_NOCASE, PREFIX, INITIALS, SUBSTRING, SUBSEQUENCE = 100.0, 90.0, 70.0, 55.0, 45.0, 25.0
_KIND_ORDER = {"class": 0, "interface": 0, "struct": 0, "trait": 0, "enum": 0, "function": 1, "method": 2, "module": 3}


@dataclass(frozen=True, slots=True)
class SymbolRow:
    id: int
    name: str
    qualname: str
    kind: str
    path: str
    start_line: int  # 1-based
    end_line: int


@dataclass(frozen=True, slots=True)
class SymbolMatch:
    row: SymbolRow
    score: float


@lru_cache(maxsize=65536)
def initials(name: str) -> str:
    """Lower-case first letters of a name's words: get_config_file -> gcf, HTTPConnection -> httpc."""
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+", name)
    return "".join(p[0] for p in parts).lower()


def name_score(query: str, name: str) -> float:
    """How well `query` matches `name` (0: not at all). name_score("gcf", "get_config_file") == 55 - 0.15."""
    if not query:
        return 0.0
    if query == name:
        return EXACT
    q, n = query.lower(), name.lower()
    tight = min(len(n), 100) / 100  # shorter names first within a band
    if q == n:
        return EXACT_NOCASE
    if n.startswith(q) or n.lstrip("_").startswith(q):
        return PREFIX - tight
    if initials(name).startswith(q):
        return INITIALS - tight
    if q in n:
        return SUBSTRING - tight
    pos = -1
    gaps = 0
    for ch in q:
        nxt = n.find(ch, pos + 1)
        if nxt < 0:
            return 0.0
        gaps += nxt - pos - 1
        pos = nxt
    return max(SUBSEQUENCE - gaps / 10 - tight, 1.0)


class SymbolTable:
    """All indexed symbols, loaded once per index state; match() answers fuzzy queries."""

    def __init__(self, rows: list[SymbolRow]) -> None:
        self.rows = rows
        self.by_name: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            self.by_name.setdefault(r.name, []).append(i)
        self.names = list(self.by_name)
        # All names, lower-cased, one per line: a query is first run as one regular
        # expression over this text (in C), and only the names it matches are scored.
        self._text = "\n".join(n.lower() for n in self.names)
        self._starts = [0]
        for n in self.names[:-1]:
            self._starts.append(self._starts[-1] + len(n) + 1)

    def _candidates(self, query: str) -> list[str]:
        """Names that hold the query's characters in order (a subsequence), any case."""
        gap = "[^\n]*?"
        pattern = re.compile("^" + gap + gap.join(re.escape(ch) for ch in query.lower()), re.MULTILINE)
        out = []
        for m in pattern.finditer(self._text):
            out.append(self.names[bisect.bisect_right(self._starts, m.start()) - 1])
        return out

    @classmethod
    def from_store(cls, store: Store) -> "SymbolTable":
        """Every symbol defined in an indexed file (external symbols are left out)."""
        return cls([SymbolRow(*r) for r in store.defined_symbol_rows()])

    def match(self, query: str, limit: int = 100) -> list[SymbolMatch]:
        """The best `limit` symbols for `query`, best first."""
        query = query.strip()
        if not query:
            return []
        *outer, last = query.split(".")
        outer_q = [o for o in outer if o]  # "Store." (no last part) lists what is inside "Store"
        out: list[SymbolMatch] = []
        for name in self._candidates(last) if last else self.names:
            score = name_score(last, name) if last else SUBSEQUENCE
            if not score:
                continue
            for i in self.by_name[name]:
                row = self.rows[i]
                if outer_q and not _outer_matches(outer_q, row.qualname):
                    continue
                out.append(SymbolMatch(row, score))
        return heapq.nsmallest(limit, out, key=lambda m: (-m.score, _KIND_ORDER.get(m.row.kind, 4), len(m.row.qualname), m.row.path, m.row.start_line))


def _outer_matches(outer: list[str], qualname: str) -> bool:
    """The last outer query part is in the symbol's parent name, the earlier ones in
    enclosing names further out, in order: "Store.sav" ~ pkg.store.BaseStore.save.
    A part with capitals matches case-sensitively (smart case), others in any case."""
    names = qualname.split(".")[:-1]
    if not names:
        return False
    lower = [p.lower() for p in names]

    def within(o: str, j: int) -> bool:  # smart case: a part with capitals matches case-sensitively
        return o in names[j] if o != o.lower() else o in lower[j]

    if not within(outer[-1], len(names) - 1):
        return False
    j = 0
    for o in outer[:-1]:
        while j < len(names) - 1 and not within(o, j):
            j += 1
        if j == len(names) - 1:
            return False
        j += 1
    return True
