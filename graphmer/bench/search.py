"""Docstring→code search benchmark over any Python package.

Each function or method whose docstring opens with a sentence of at least three words
becomes one query (that sentence); the answer is the function itself. Search runs over a
copy of the package with every docstring removed, so the answer has to be found from the
code. Lines keep their numbers in the copy, so a hit's line range can be checked against
the original `def` line. graphmer is measured next to a BM25 reference (bm25s) built over
the same function-level chunks.

The realistic mode (keep_other_docs, `graphmer bench search --keep-other-docs`): in a real
repository the function you look for may be undocumented while its callees, its class and its
module are not. So this mode removes only the queried functions' docstrings and leaves every
other one in place. A query's own docstring must never be in the index it is asked against,
and the other targets' docstrings should be there; hence folds: the targets are split into N
folds (graphmer/index/stripped_copy.py), each fold gets its own copy of the package in which
only that fold's targets lose their docstrings, every system indexes each copy and asks that
fold's queries there, and the ranks are put back in target order, so that they pair with the
default mode's query by query. With N folds a query sees (N-1)/N of the other targets'
docstrings, and all the docstrings that are not targets'.
"""
from __future__ import annotations

import logging
import math
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from graphmer.index.pysource import MIN_QUERY_WORDS, Target
from graphmer.index.search import Searcher
from graphmer.index.stripped_copy import (
    Chunk,
    PreparedCopy,
    assign_folds,
    package_targets,
    prepare_copy,
    strip_only,
)

log = logging.getLogger(__name__)

# "bm25-split" is the same reference over identifier-split text (parseConfig_file ->
# parse config file), so that graphmer's margin is not just its tokenizer. The systems
# that need a model (graphmer's default hybrid search, its dense mode, the no-graph
# ablation, the MiniLM references) run through a `runner` the caller passes
# (graphmer/bench/dense.py), so that this module stays free of torch.
# "baseline" and "baseline-dense" are graphmer's hybrid and dense search with another model
# (--baseline-model), to compare a new model with an older one in one run.
SYSTEMS = ("graphmer", "graphmer-lexical", "graphmer-dense", "graphmer-nograph", "baseline", "baseline-dense",
           "bm25", "bm25-split", "minilm", "minilm+bm25")
LOCAL_SYSTEMS = ("graphmer-lexical", "bm25", "bm25-split")  # graphmer-lexical: a lexical+graph index, no model
MODEL_SYSTEMS = tuple(s for s in SYSTEMS if s not in LOCAL_SYSTEMS)
CALLABLE_KINDS = ("function", "method")  # a module or class hit holding the def line does not count


class BenchError(Exception):
    """A benchmark that cannot run as asked; the message says what to do."""


class MissingDependencyError(BenchError, ImportError):
    """An optional dependency of the benchmark is not installed."""


@dataclass(frozen=True)
class SystemResult:
    """Metrics of one system. ranks[i] is the 1-based rank of targets[i]; 0 means not found."""

    system: str
    mrr: float  # MRR@top_k
    recall_at_1: float
    recall_at_k: float
    index_s: float
    query_ms_mean: float
    query_ms_median: float
    ranks: tuple[int, ...]
    items: int = 0  # symbols or chunks indexed (index_s includes embedding them)
    query_s: tuple[float, ...] = field(default=(), repr=False, compare=False)  # each query's seconds, for pooling


@dataclass(frozen=True)
class BenchResult:
    """Everything one benchmark run measured."""

    package: str
    top_k: int
    files: int  # .py files copied
    unparsed_files: int  # files that failed to parse, copied unchanged, no targets
    targets: tuple[Target, ...]
    systems: tuple[SystemResult, ...]
    copy_root: str = ""  # the stripped copy when kept (keep-other-docs: the folder of the fold copies), else ""
    mode: str = "stripped"  # or "keep-other-docs"
    folds: int | None = None  # keep-other-docs: how many folds (copies)
    fold_of: tuple[int, ...] = ()  # keep-other-docs: the fold (0-based) of each target

    def to_json(self) -> dict:
        k, r = self.top_k, round
        fold = (lambda i: {"fold": self.fold_of[i]}) if self.fold_of else (lambda i: {})  # noqa: E731
        return {
            "package": self.package, "top_k": k, "files": self.files, "unparsed_files": self.unparsed_files,
            "queries": len(self.targets), "copy_root": self.copy_root, "mode": self.mode, "folds": self.folds,
            "systems": {
                s.system: {
                    f"mrr@{k}": r(s.mrr, 4), "recall@1": r(s.recall_at_1, 4), f"recall@{k}": r(s.recall_at_k, 4),
                    "index_s": r(s.index_s, 3), "query_ms_mean": r(s.query_ms_mean, 3),
                    "query_ms_median": r(s.query_ms_median, 3),
                    "items": s.items, "items_per_s": r(s.items / s.index_s, 1) if s.index_s > 0 else 0.0,
                }
                for s in self.systems
            },
            "per_query": [
                asdict(t) | fold(i) | {"ranks": {s.system: s.ranks[i] for s in self.systems}}
                for i, t in enumerate(self.targets)
            ],
        }


def mrr(ranks: Iterable[int], k: int = 10) -> float:
    """Mean reciprocal rank at k; a rank of 0 (not found) or above k counts 0.

    >>> mrr([1, 2, 0, 4], k=10)  # (1 + 1/2 + 0 + 1/4) / 4
    0.4375
    """
    ranks = list(ranks)
    return sum(1.0 / r for r in ranks if 1 <= r <= k) / len(ranks) if ranks else 0.0


def nearest_rank(values: Iterable[float], q: float) -> float:
    """The q-quantile by the nearest-rank method (0.0 for no values): the smallest value with
    at least q of the values at or below it.

    >>> nearest_rank([4, 1, 3, 2], 0.95), nearest_rank([4, 1, 3, 2], 0.5)
    (4, 2)
    """
    vals = sorted(values)
    return vals[max(math.ceil(q * len(vals)) - 1, 0)] if vals else 0.0


def latency_stats(ms: list[float]) -> dict:
    """{mean, p50, p95, max} of latencies in ms, rounded to 0.01 ({} for none)."""
    if not ms:
        return {}
    return {"mean": round(statistics.fmean(ms), 2), "p50": round(statistics.median(ms), 2),
            "p95": round(nearest_rank(ms, 0.95), 2), "max": round(max(ms), 2)}


def recall_at(ranks: Iterable[int], k: int) -> float:
    """Fraction of queries found at rank 1..k.

    >>> recall_at([1, 2, 0, 4], k=2)
    0.5
    """
    ranks = list(ranks)
    return sum(1 for r in ranks if 1 <= r <= k) / len(ranks) if ranks else 0.0


def rank_of(hits: Iterable[tuple[str, int, int]], target: Target) -> int:
    """1-based rank of the first (path, start_line, end_line) hit holding target's def line; 0 if none.

    >>> rank_of([("a.py", 1, 9), ("b.py", 3, 5)], Target("b.py", "f", 4, "q"))
    2
    """
    for rank, (path, start, end) in enumerate(hits, 1):
        if path == target.path and start <= target.def_line <= end:
            return rank
    return 0


def system_result(system: str, ranks: list[int], top_k: int, index_s: float, times_s: Sequence[float], items: int = 0) -> SystemResult:
    ms = [t * 1000 for t in times_s] or [0.0]
    return SystemResult(
        system, mrr(ranks, top_k), recall_at(ranks, 1), recall_at(ranks, top_k),
        index_s, statistics.fmean(ms), statistics.median(ms), tuple(ranks), items, tuple(times_s),
    )


def _import_bm25s():
    try:
        import bm25s  # lazy: `graphmer` imports this module at start-up
    except ImportError as exc:
        raise MissingDependencyError("the BM25 reference needs the bm25s package: pip install graphmer[bench]") from exc
    return bm25s


def _split_words(text: str) -> str:
    """Identifier sub-words: _split_words("readAll(file_name)") -> "read All ( file name )"."""
    from graphmer.index.text import (
        split_code,  # lazy: `graphmer` imports this module at start-up
    )

    return split_code(text).replace("_", " ")


def _bm25_index(chunks: Sequence[Chunk], split: bool):
    bm25s = _import_bm25s()
    prep = _split_words if split else (lambda t: t)
    retriever = bm25s.BM25()
    if chunks:
        retriever.index(bm25s.tokenize([prep(c.text) for c in chunks], stopwords="en", show_progress=False), show_progress=False)
    return bm25s, prep, retriever


def bm25_ranked(chunks: Sequence[Chunk], targets: Sequence[Target], depth: int, split: bool = False,
                retriever=None) -> tuple[list[list[int]], list[float]]:
    """Chunk indices of each query's BM25 hits (best first, zero scores dropped), and seconds per query."""
    bm25s, prep, retriever = _bm25_index(chunks, split) if retriever is None else retriever
    k = min(depth, len(chunks))
    lists, times = [], []
    for target in targets:
        t0 = time.perf_counter()
        hits: list[int] = []
        if k:
            tokens = bm25s.tokenize([prep(target.query)], stopwords="en", return_ids=False, show_progress=False)
            docs, scores = retriever.retrieve(tokens, k=k, show_progress=False)
            # A zero score matched no query term: it is filler, not a retrieval.
            hits = [d for d, s in zip(docs[0].tolist(), scores[0].tolist()) if s > 0]
        times.append(time.perf_counter() - t0)
        lists.append(hits)
    return lists, times


def run_bm25(chunks: Sequence[Chunk], targets: Sequence[Target], top_k: int = 10, split: bool = False) -> SystemResult:
    """BM25 reference: bm25s over function chunks, bm25s's own tokenizer with English stopwords
    (with split=True, over identifier-split text)."""
    t0 = time.perf_counter()
    built = _bm25_index(chunks, split)
    index_s = time.perf_counter() - t0
    lists, times = bm25_ranked(chunks, targets, top_k, split, retriever=built)
    ranks = [rank_of(((chunks[d].path, chunks[d].start_line, chunks[d].end_line) for d in hits), t)
             for hits, t in zip(lists, targets)]
    return system_result("bm25-split" if split else "bm25", ranks, top_k, index_s, times, items=len(chunks))


def run_graphmer(root: Path, targets: Sequence[Target], top_k: int = 10) -> SystemResult:
    """graphmer-lexical: a lexical+graph index of `root` (no model), searched over functions and methods only."""
    from graphmer.index.indexer import (
        build_index,  # lazy: `graphmer` imports this module at start-up
    )

    t0 = time.perf_counter()
    report = build_index(root)
    index_s = time.perf_counter() - t0
    log.debug("graphmer index of %s: %s", root, report)
    searcher = Searcher.open(root)
    items = searcher.store.counts()["symbols"]
    ranks, times = [], []
    try:
        for target in targets:
            t0 = time.perf_counter()
            hits = searcher.search(target.query, top_k=top_k, kinds=CALLABLE_KINDS)
            times.append(time.perf_counter() - t0)
            assert all(h.kind in CALLABLE_KINDS for h in hits), "search ignored kinds="
            ranks.append(rank_of(((h.path, h.start_line, h.end_line) for h in hits[:top_k]), target))
    finally:
        searcher.close()
    return system_result("graphmer-lexical", ranks, top_k, index_s, times, items=items)


def run_systems(copy: PreparedCopy, systems: Sequence[str], top_k: int, runner=None) -> tuple[SystemResult, ...]:
    """Every system asked for on one prepared copy, asking its targets, in SYSTEMS order."""
    wanted_model = tuple(s for s in systems if s in MODEL_SYSTEMS)
    done = {r.system: r for r in (runner(copy, top_k, wanted_model) if wanted_model else [])}
    if "graphmer-lexical" in systems and "graphmer-lexical" not in done:
        done["graphmer-lexical"] = run_graphmer(copy.root, copy.targets, top_k)
    for system in ("bm25", "bm25-split"):
        if system in systems:
            done[system] = run_bm25(copy.chunks, copy.targets, top_k, split=system == "bm25-split")
    return tuple(done[s] for s in SYSTEMS if s in systems)


class FoldRun(NamedTuple):
    """What run_folds measured: targets in prepare_copy's order, the fold of each, systems merged."""

    targets: tuple[Target, ...]
    fold_of: tuple[int, ...]
    systems: tuple[SystemResult, ...]
    files: int
    unparsed_files: int


def merge_folds(per_fold: Sequence[tuple[Sequence[int], Sequence[SystemResult]]], n_targets: int,
                top_k: int) -> tuple[SystemResult, ...]:
    """One SystemResult per system from each fold's: (indices of the fold's targets, its results).

    Ranks go back to their targets' places; index seconds and items add up over folds (each
    fold is a full index of the package); query latencies are pooled.
    """
    merged: dict[str, tuple[list, list, float, int]] = {}
    for idx, results in per_fold:
        for r in results:
            ranks, times, index_s, items = merged.setdefault(r.system, ([None] * n_targets, [], 0.0, 0))
            assert len(r.ranks) == len(idx), f"{r.system} answered {len(r.ranks)} of {len(idx)} queries"
            for i, rank in zip(idx, r.ranks):
                ranks[i] = rank
            merged[r.system] = (ranks, times + list(r.query_s), index_s + r.index_s, items + r.items)
    out = []
    for system, (ranks, times, index_s, items) in merged.items():
        assert None not in ranks, f"{system} has no rank for some targets"
        out.append(system_result(system, ranks, top_k, index_s, times, items))
    return tuple(out)


def run_folds(package: Path, dest: Path, folds: int, systems: Sequence[str], top_k: int, runner=None) -> FoldRun:
    """Every system on `folds` copies of `package` at dest/fold-N/<package name> (N from 1),
    each asked its own fold's queries (see the module docstring). Empty folds make no copy."""
    targets = package_targets(package)
    fold_of = assign_folds(targets, folds)
    per_fold = []
    files = unparsed = 0
    for f in range(folds):
        idx = [i for i, g in enumerate(fold_of) if g == f]
        if not idx:
            continue
        mine = [targets[i] for i in idx]
        copy = prepare_copy(package, dest / f"fold-{f + 1}" / package.name, strip=strip_only(mine))
        assert copy.targets == targets, "the fold copy found other targets than the package holds"
        files, unparsed = copy.files, copy.unparsed_files
        per_fold.append((idx, run_systems(replace(copy, targets=tuple(mine)), systems, top_k, runner)))
    return FoldRun(targets, fold_of, merge_folds(per_fold, len(targets), top_k), files, unparsed)


def run_benchmark(
    package: Path,
    *,
    top_k: int = 10,
    work_dir: Path | None = None,
    keep: bool = False,
    systems: Sequence[str] = LOCAL_SYSTEMS,
    runner=None,
    keep_other_docs: bool = False,
    folds: int = 5,
) -> BenchResult:
    """Strip a copy of `package`, ask every docstring query of each system, and score the answers.

    The copy goes to `work_dir/<package name>` (a fresh temporary directory when work_dir
    is None) and is removed afterwards unless `keep`. `runner(copy, top_k, names)` returns
    the SystemResults of the MODEL_SYSTEMS asked for, asking copy.targets.
    keep_other_docs: the realistic mode (see the module docstring): `folds` copies, each without
    only its fold's targets' docstrings, under `work_dir/<package name>/fold-N/`; the runner
    is called once per fold copy. Ranks come back in the same target order either way.
    """
    package = Path(package).resolve()
    unknown = set(systems) - set(SYSTEMS)
    if unknown or not systems:
        raise BenchError(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    if top_k < 1:
        raise BenchError("top_k must be at least 1")
    if keep_other_docs and folds < 1:
        raise BenchError("folds must be at least 1")
    wanted_model = tuple(s for s in systems if s in MODEL_SYSTEMS)
    if wanted_model and runner is None:
        raise BenchError(f"{', '.join(wanted_model)} need a model: run them through `graphmer bench search`")
    if any(s.startswith("bm25") or s == "minilm+bm25" for s in systems):
        _import_bm25s()  # fail before the slow part, not after it
    if work_dir is not None:
        base = Path(work_dir).resolve()
        if (base / package.name).exists():
            raise BenchError(f"{base / package.name} already exists; remove it or choose another work dir")
        if base.is_relative_to(package):
            raise BenchError(f"the work dir {base} is inside {package}; choose one outside it")
    if not package.is_dir():  # prepare_copy would say the same, as a PackageError
        raise BenchError(f"{package} is not a directory; give the path of a Python package")
    made_tmp = work_dir is None
    base = Path(tempfile.mkdtemp(prefix="graphmer-bench-")) if made_tmp else base
    dest = base / package.name
    no_targets = f"no function in {package} has a docstring of {MIN_QUERY_WORDS}+ words to query"
    try:
        if keep_other_docs:
            run = run_folds(package, dest, folds, systems, top_k, runner)
            if not run.targets:
                raise BenchError(no_targets)
            result = BenchResult(package.name, top_k, run.files, run.unparsed_files, run.targets, run.systems,
                                 str(dest) if keep else "", "keep-other-docs", folds, run.fold_of)
        else:
            copy = prepare_copy(package, dest)
            if not copy.targets:
                raise BenchError(no_targets)
            result = BenchResult(package.name, top_k, copy.files, copy.unparsed_files, copy.targets,
                                 run_systems(copy, systems, top_k, runner), str(copy.root) if keep else "")
    finally:
        if not keep:
            shutil.rmtree(base if made_tmp else dest, ignore_errors=True)
    return result
