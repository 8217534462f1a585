"""Code completion over the index: candidates from the graph, ranked by usage statistics.

After `receiver.` the candidates are the members of the receiver's inferred type (its class
and bases, a module's members and submodules, a builtin type's attributes), beside every
name written after the same receiver elsewhere; without a receiver, the names in scope.
Each candidate's score is a weighted sum of features (features.py, weighed by rank.py): how
often the name is used as an attribute in the repository, after that receiver text, its type
and its context token, and in the open buffer (graphmer/index/pynames.py counts them), with
indicators read from the name and the code around the cursor; the weights are fitted on
standard-library code.

One request runs the stages in order (Completer.complete):
  1. cursor     cursor.py      the prefix, the receiver text, the line before it; buffer.py parses the buffer
  2. receiver   receiver.py    the receiver's inferred type (typer.py) and its members (members.py)
  3. candidates candidates.py  the usage evidence for the names after it (usage.py, owner.py) and the pool
  4. features   features.py    each candidate's named features
  5. rank       rank.py        the weighted score, the prefix filter, best first

No leakage: the file being completed is in the index, so its indexed uses are subtracted
from the repository totals and the buffer's own uses added; the buffer overrides the file.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath

from graphmer.complete import stdlib_usage
from graphmer.complete.buffer import Buffer
from graphmer.complete.candidates import CandidateFinder
from graphmer.complete.cursor import CursorText, before_receiver, cursor_text, split_lines
from graphmer.complete.features import FeatureLog, candidate_features
from graphmer.complete.members import Member, MemberTable
from graphmer.complete.owner import OwnerUses
from graphmer.complete.rank import CompletionItem, Completions, RankWeights, Scorer, ranked, scored_items
from graphmer.complete.receiver import ReceiverPaths, resolve_receiver
from graphmer.complete.scope import scope_items
from graphmer.complete.stdlib_usage import Usage
from graphmer.complete.typer import Typer, Val
from graphmer.complete.usage import FileUses, Uses, usage_totals
from graphmer.index import store_completion
from graphmer.index.graph import Resolver
from graphmer.index.indexer import module_names
from graphmer.index.store import Store


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """What completionItem/resolve adds to an item of an indexed symbol."""

    signature: str | None
    doc: str | None
    qualname: str
    path: str | None  # None for a symbol whose file row is gone
    line: int  # 1-based start line


class Completer:
    """Completion over one index; load once (symbol table, usage totals), ask many times."""

    def __init__(self, store: Store, scorer: Scorer | None = None, weights: RankWeights | None = None,
                 resolver: Resolver | None = None, stdlib_uses: Usage | None = None) -> None:
        """weights: the ranking weights (default: the shipped fitted ones, RankWeights.fitted());
        resolver: the index's name resolver when the caller has built it already (it is read, never changed);
        stdlib_uses: reads of standard-library modules' members (default: the shipped counts, stdlib_usage.py)."""
        self.store = store
        self.scorer = scorer
        self.w = weights = weights if weights is not None else RankWeights.fitted()
        self.stdlib_uses = stdlib_uses if stdlib_uses is not None else stdlib_usage.shipped()
        self.feature_log: FeatureLog | None = None  # set to a list to record each candidate's features
        self.resolver = resolver or Resolver(store.graph_inputs())
        graphs = self.resolver.files
        paths = store_completion.file_paths(store)
        self.file_ids = store_completion.file_ids(store)
        self.modules = {p: (g.module, g.is_package) for p, g in zip(paths, graphs)}
        self.root_name = store.root.name
        self.symbols: dict[str, tuple[int, str, str]] = {}
        for i, q, kind, sig in store_completion.symbol_rows(store):
            self.symbols[q] = (i, kind, sig)  # the first definition of a name wins, as in the graph
        self.attrs: dict[str, dict[str, str]] = {}
        for owner, name, value in store_completion.attribute_rows(store):
            self.attrs.setdefault(owner, {}).setdefault(name, value)
        returns: dict[str, str] = {}
        for src, dst in store_completion.return_edges(store):
            returns.setdefault(src, dst)
        self.paths = ReceiverPaths(self.resolver)
        fid_module = {self.file_ids[p]: m for p, (m, _) in self.modules.items()}
        self.totals = usage_totals(store, fid_module, self.paths.qual)
        self.file_uses = FileUses(store, self.file_ids)
        self.owners = OwnerUses(store, self.resolver.bases)
        module_file = {g.module: fi for fi, g in enumerate(graphs)}
        self.typer = Typer(self.resolver, module_file, self.attrs, returns, self.symbols)
        self.member_table = MemberTable(store, self.typer)
        popular = [n for n, _ in self.totals.by_name.most_common(weights.popular)]
        self.finder = CandidateFinder(self.typer, self.member_table, self.owners, self.totals.by_recv, popular,
                                      self.stdlib_uses, weights.near_lines)

    # -- public ------------------------------------------------------------------------
    def complete(self, path: str, source: str, line: int, column: int, limit: int = 1000) -> Completions:
        """Ranked completions at (line, column), both 0-based, column in code points."""
        lines = split_lines(source)
        text = lines[line] if 0 <= line < len(lines) else ""
        ct = cursor_text(text[: max(column, 0)])  # 1. cursor
        if ct.receiver is None and ct.prefix == "" and text[:column].strip():
            return Completions([], "", "", "")  # after an operator or a bracket: nothing to ask
        buf = Buffer(source, line, column, ct.prefix)
        module, is_pkg = self.module_of(path)
        self.typer.use_buffer(buf, module, is_pkg)
        if ct.receiver is None:
            items, rtype = scope_items(buf, source, self.typer), ""
        else:
            items, rtype = self._member_items(path, module, ct, buf, before_receiver(text, column, ct))
        items = ranked(items, ct.prefix, self.scorer, path, line)  # 5. rank
        return Completions(items[:limit], ct.prefix, ct.receiver or "", rtype, len(items) > limit)

    def _member_items(self, path: str, module: str, ct: CursorText, buf: Buffer, before: str) -> tuple[list[CompletionItem], str]:
        """Scored candidates after `receiver.`, and the receiver's type; `before` is the line's text before the receiver."""
        recv = resolve_receiver(ct, self.typer, self.member_table)  # 2. receiver
        uses = self._uses(path, module, buf)
        owner_swap: tuple[dict, dict] = ({}, {})  # the file's indexed and buffer self_uses, by class
        if ct.receiver in ("self", "cls"):  # the only receivers that read them (a second parse)
            owner_swap = (self.owners.indexed(self.file_ids.get(path)), buf.self_uses(module))
        ev = self.finder.evidence(ct, before, buf, recv, uses, owner_swap)  # 3. candidates
        pool = self.finder.pool(ct.prefix, recv, ev, uses)
        cands, feats = candidate_features(pool, recv, ev, uses, self.attrs, self.w.near_lines, self.feature_log)  # 4. features
        return scored_items(cands, feats, self.w), recv.type_name

    def _uses(self, path: str, module: str, buf: Buffer) -> Uses:
        """The repository's use counts with the file's indexed uses swapped for the buffer's."""
        indexed, buffer = self.file_uses.pairs(path), buf.use_counts()
        quals = (self.paths.regroup(module, indexed), self.paths.regroup(module, buffer))
        return Uses(self.totals, self.file_uses.split(path), buffer, self.file_uses.by_context(path), quals)

    def resolve(self, symbol_id: int) -> SymbolInfo:
        """Signature, doc, qualname, path and 1-based start line of an indexed symbol."""
        row = store_completion.symbol_info(self.store, symbol_id)
        if row is None:
            raise KeyError(f"no symbol with id {symbol_id} in the index: it was re-indexed; ask for completions again")
        return SymbolInfo(*row)

    def attribute_uses(self, path: str, source: str, line: int, column: int) -> Counter:
        """The (receiver, name) counts ranking uses at a cursor: the repository's, with the
        file's indexed uses replaced by the buffer's (the benchmark checks them)."""
        lines = split_lines(source)
        ct = cursor_text((lines[line] if 0 <= line < len(lines) else "")[: max(column, 0)])
        out = Counter({(r, n): k for r, names in self.totals.by_recv.items() for n, k in names.items()})
        out.subtract(self.indexed_uses(path))
        out.update(Buffer(source, line, column, ct.prefix).use_counts())
        return +out

    def module_of(self, path: str) -> tuple[str, bool]:
        """Module name and is-package flag of a file, indexed or not."""
        if path in self.modules:
            return self.modules[path]
        return module_names([path], self.root_name)[path] if path.endswith((".py", ".pyi")) else (PurePosixPath(path).stem, False)

    def indexed_uses(self, path: str) -> Counter:
        """(receiver, name) counts stored for the file at path (empty when not indexed)."""
        return self.file_uses.pairs(path)

    def receiver_qual(self, module: str, receiver: str) -> str:
        """The absolute path a receiver text names in a module (ReceiverPaths.qual)."""
        return self.paths.qual(module, receiver)

    def typed_receivers(self, cls: str, members: dict) -> list[str]:
        """Receiver texts whose attributes are all members of cls (CandidateFinder.typed_receivers)."""
        return self.finder.typed_receivers(cls, members)

    def members(self, val: Val) -> dict[str, Member]:
        """name -> Member for the members of a value's type."""
        return self.member_table.of(val)[0]
