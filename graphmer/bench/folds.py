"""The realistic mode of the search benchmark (`graphmer bench search --keep-other-docs`).

In a real repository the function you look for may be undocumented while its callees, its
class and its module are not. So this mode removes only the queried functions' docstrings
and leaves every other one in place. A query's own docstring must never be in the index it
is asked against, and the other targets' docstrings should be there; hence folds: the
targets are split into N folds, each fold gets its own copy of the package in which only
that fold's targets lose their docstrings, every system indexes each copy and asks that
fold's queries there, and the ranks are put back in target order, so that they pair with
the default mode's query by query. With N folds a query sees (N-1)/N of the other targets'
docstrings, and all the docstrings that are not targets'.
"""
from __future__ import annotations

import ast
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple, Sequence

from graphmer.bench.search import SystemResult, _result, package_targets, prepare_copy, run_systems
from graphmer.index.pysource import Target
from graphmer.index.indexer import IndexConfig, build_index

FOLD_SEED = 0  # fixed, so that every run (and every machine) splits the same way


class FoldRun(NamedTuple):
    """What run_folds measured: targets in prepare_copy's order, the fold of each, systems merged."""

    targets: tuple[Target, ...]
    fold_of: tuple[int, ...]
    systems: tuple[SystemResult, ...]
    files: int
    unparsed_files: int


def assign_folds(targets: Sequence[Target], folds: int, seed: int = FOLD_SEED) -> tuple[int, ...]:
    """The fold (0..folds-1) of each target: the targets are ordered by a sha256 of seed, path
    and qualname (ties by def line), then dealt round-robin, so fold sizes differ by at most
    one and a target's fold does not depend on the order the targets come in.

    >>> ts = [Target("a.py", f"f{i}", i + 1, "q") for i in range(5)]
    >>> assign_folds(ts, 2), assign_folds(ts[::-1], 2)[::-1]
    ((0, 0, 1, 1, 0), (0, 0, 1, 1, 0))
    """
    assert folds >= 1, "folds must be at least 1"

    def key(i: int) -> tuple:
        t = targets[i]
        return hashlib.sha256(f"{seed}\0{t.path}\0{t.qualname}".encode()).hexdigest(), t.path, t.def_line

    fold = [0] * len(targets)
    for position, i in enumerate(sorted(range(len(targets)), key=key)):
        fold[i] = position % folds
    return tuple(fold)


def strip_only(targets: Sequence[Target]):
    """The prepare_copy predicate that removes exactly these targets' docstrings (a function is
    known by its path and `def` line) and keeps the module's, the classes' and all others."""
    wanted = {(t.path, t.def_line) for t in targets}
    return lambda path, owner: isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)) and (path, owner.lineno) in wanted


def indexed_copies(package: Path, work: Path, embedder, folds: int = 0) -> Iterator[tuple[Path, list[Target]]]:
    """Index the package's benchmark copies with `embedder` and yield (index folder, the targets
    to ask there). folds 0: one copy with every docstring stripped, all targets; else one copy
    per fold in which only that fold's targets lose their docstrings. Each copy goes to
    work/fold-N/ (replaced), its index to work/fold-N/index."""
    targets = package_targets(package)
    fold_of = assign_folds(targets, folds) if folds else (0,) * len(targets)
    for f in range(max(folds, 1)):
        mine = [t for t, k in zip(targets, fold_of) if k == f]
        dest = work / f"fold-{f}" / package.name
        shutil.rmtree(dest.parent, ignore_errors=True)
        prepare_copy(package, dest, strip=strip_only(mine) if folds else None)
        index_dir = dest.parent / "index"
        build_index(dest, IndexConfig(embedder=embedder, index_dir=str(index_dir)))
        yield index_dir, mine


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
        out.append(_result(system, ranks, top_k, index_s, times, items))
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
