"""`self.` / `cls.` counts per class: the uses written in the methods of the class, of its bases
and of its subclasses, in any file. A class's own uses are mostly in its own file (the buffer,
which the completer already reads); its family's uses elsewhere say what `self.` means there.

Leakage rule as for every count: the file being completed has its indexed rows swapped for
the buffer's (Buffer.self_uses).
"""
from __future__ import annotations

from collections import Counter

from graphmer.index import store_completion
from graphmer.index.store import Store


class OwnerUses:
    """class qualname -> name -> uses of `self.name` / `cls.name` in its methods, repository-wide."""

    def __init__(self, store: Store, bases: dict[str, list[str]]) -> None:
        self.store = store
        self.by_owner: dict[str, Counter] = {}
        for owner, name, k in store_completion.self_use_totals(store):
            self.by_owner.setdefault(owner, Counter())[name] += k
        self.subclasses: dict[str, list[str]] = {}  # class -> its direct subclasses
        for cls, bs in bases.items():
            for b in bs:
                self.subclasses.setdefault(b, []).append(cls)
        self._file: dict[int, dict[str, Counter]] = {}

    def descendants(self, cls: str) -> list[str]:
        """Every subclass of cls, at any depth, without cls; breadth first.

        With B(A) and C(B): descendants("m.A") -> ["m.B", "m.C"].
        """
        out: list[str] = []
        seen = {cls}
        todo = [cls]
        while todo:
            for sub in self.subclasses.get(todo.pop(0), []):
                if sub not in seen:
                    seen.add(sub)
                    out.append(sub)
                    todo.append(sub)
        return out

    def indexed(self, file_id: int | None) -> dict[str, Counter]:
        """class -> name -> uses stored for one file (empty when the file is not indexed)."""
        if not file_id:
            return {}
        if file_id not in self._file:
            out: dict[str, Counter] = {}
            for owner, name, k in store_completion.file_self_uses(self.store, file_id):
                out.setdefault(owner, Counter())[name] += k
            self._file[file_id] = out
        return self._file[file_id]

    def counts(self, mro: list[str], swap: tuple[dict[str, Counter], dict[str, Counter]]) -> tuple[Counter, Counter]:
        """For `self.` in mro[0]: (uses in the methods of the class and its bases in other files,
        uses in the methods of its subclasses in any file). `swap` is the current file's indexed
        and buffer counts by class; the buffer's own MRO uses are left out (the completer counts
        them by row, as `self.` after this receiver)."""
        return self.family(mro, swap[0], {}), self.family(self.descendants(mro[0]), *swap)

    def family(self, classes: list[str], indexed: dict[str, Counter], buffer: dict[str, Counter]) -> Counter:
        """name -> uses in the methods of any of `classes`, the current file's indexed uses
        replaced by the buffer's."""
        out: Counter = Counter()
        for c in classes:
            out.update(self.by_owner.get(c, Counter()))
            out.subtract(indexed.get(c, Counter()))
            out.update(buffer.get(c, Counter()))
        return +out

