"""Fit and measure the graph variants of graphmer/index/graph_vectors.py: propagation and rerank.

A package becomes one or more indexed copies (stripped mode: every docstring removed,
one copy; realistic mode: the targets split into folds, each copy without only its
fold's targets' docstrings, as `graphmer bench search --keep-other-docs`), embedded with
the model. Each copy gives: the vectors, the symbols' neighbour lists, the fold's query
vectors and where each answer is. Dense ranking is then exact (a brute-force inner
product over functions and methods), so a variant's weights can be fitted by coordinate
ascent on MRR@10 over training packages and measured on others with a paired bootstrap.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphmer.index.graph_vectors import (
    EDGE_RELATIONS,
    GRAPH_FILE,
    RELATIONS,
    neighbour_lists,
    neighbour_means,
    propagate,
    rerank,
)
from graphmer.index.store import Store
from graphmer.index.stripped_copy import indexed_copies
from graphmer.model.corpus_lock import write_atomic
from graphmer.model.embedder import load_embedder
from graphmer.model.folder import record_hashes
from graphmer.model.reports.rank_bootstrap import (
    paired_bootstrap,
    paired_bootstrap_mean,
)

GRID = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5)


@dataclass
class Copy:
    """One indexed copy of a package and its fold's queries."""

    vecs: np.ndarray  # (n, d) unit rows
    callable: np.ndarray  # (n,) bool: functions and methods (what a hit may be)
    lists: dict[str, list[list[int]]]
    means: dict[str, np.ndarray]
    queries: np.ndarray  # (q, d)
    answer: np.ndarray  # (q,) row of each query's function (-1: not embedded)


def index_copies(package: Path, work: Path, embedder, realistic: bool, folds: int = 5) -> list[Copy]:
    """The package's indexed copies (made under `work`, replaced) with what dense ranking needs."""

    copies = []
    for index_dir, mine in indexed_copies(package, work, embedder, folds if realistic else 0):
        store = Store(index_dir)
        try:
            ids, vecs = store.read_vectors()
            rows = store.vector_symbols()
            edges = store.graph_edges(EDGE_RELATIONS)
        finally:
            store.close()
        where = {(path, line): k for k, (_, path, line, kind) in enumerate(rows) if kind in ("function", "method")}
        lists = neighbour_lists(ids, edges)
        copies.append(Copy(vecs, np.array([kind in ("function", "method") for *_, kind in rows]), lists,
                           neighbour_means(vecs, lists), embedder.embed_queries([t.query for t in mine]),
                           np.array([where.get((t.path, t.def_line), -1) for t in mine])))
    return copies


def ranks(copies: list[Copy], variant: str = "plain", weights: dict | None = None, page: int = 30) -> list[int]:
    """1-based rank of each query's function among the copy's functions and methods (0: not embedded)."""
    out = []
    for c in copies:
        if variant == "propagate":
            scores = c.queries @ propagate(c.vecs, c.means, weights or {}).T
        else:
            scores = c.queries @ c.vecs.T
            if variant == "rerank":
                scores = rerank(scores, c.lists, weights or {}, page, c.callable)
        scores = np.where(c.callable[None, :], scores, -np.inf)
        for q, a in enumerate(c.answer):
            out.append(0 if a < 0 else int(1 + (scores[q] > scores[q, a]).sum()))
    return out


def mrr10(rs: list[int]) -> float:
    return float(np.mean([1.0 / r if 0 < r <= 10 else 0.0 for r in rs])) if rs else 0.0


def fit(packages: list[list[Copy]], variant: str, sweeps: int = 2, on_event=None) -> tuple[dict, float]:
    """Per-relation weights (from GRID) maximising the mean over packages of MRR@10, by coordinate ascent."""
    weights = {name: 0.0 for name in RELATIONS}

    def score(w):
        return float(np.mean([mrr10(ranks(p, variant, w)) for p in packages]))

    best = score(weights)
    for sweep in range(sweeps):
        changed = False
        for name in RELATIONS:
            for value in GRID:
                trial = {**weights, name: value}
                s = score(trial)
                if s > best + 1e-9:
                    best, weights, changed = s, trial, True
            if on_event:
                on_event({"event": "fit", "variant": variant, "sweep": sweep, "relation": name, "weights": dict(weights), "mrr": best})
        if not changed:
            break
    return {k: v for k, v in weights.items() if v}, best


def measure(fit_packages: list[Path], eval_packages: list[Path], work: Path, embedder, realistic: bool,
            folds: int = 5, on_event=None) -> dict:
    """Fit both variants on `fit_packages`, then each variant minus the plain vectors on every
    `eval_packages` (MRR@10 with a 95% paired bootstrap interval over queries) and on their mean."""
    def copies(pkg: Path, where: str) -> list[Copy]:
        if on_event:
            on_event({"event": "index", "package": pkg.name, "set": where})
        return index_copies(pkg, work / where / pkg.name, embedder, realistic, folds)

    train = [copies(p, "fit") for p in fit_packages]
    test = {p.name: copies(p, "eval") for p in eval_packages}
    out = {"mode": "keep-other-docs" if realistic else "stripped", "folds": folds if realistic else None,
           "fit_packages": [p.name for p in fit_packages], "variants": {}}
    plain = {name: ranks(c) for name, c in test.items()}
    out["plain"] = {name: round(mrr10(r), 4) for name, r in plain.items()}
    for variant in ("propagate", "rerank"):
        weights, fit_mrr = fit(train, variant, on_event=on_event)
        got = {name: ranks(c, variant, weights) for name, c in test.items()}
        out["variants"][variant] = {
            "weights": weights, "fit_mrr": round(fit_mrr, 4),
            "fit_plain_mrr": round(float(np.mean([mrr10(ranks(p)) for p in train])), 4),
            "mrr": {name: round(mrr10(r), 4) for name, r in got.items()},
            "minus_plain": {name: paired_bootstrap(got[name], plain[name]) for name in got},
            "mean_minus_plain": paired_bootstrap_mean([(got[n], plain[n]) for n in got]),
        }
    return out


def event_line(e: dict) -> str | None:
    """A progress line for an event of measure() / fit_propagation() (None: nothing to say)."""
    if e["event"] == "index":
        return f"indexing {e['package']} ({e['set']})"
    if e["relation"] == "overridden_by":  # the last relation of a sweep
        return f"fit {e['variant']} sweep {e['sweep']}: MRR@10 {e['mrr']:.4f} with {e['weights']}"
    return None


def fit_propagation(model_dir: Path, fit_packages: list[Path], work: Path, realistic: bool = True, folds: int = 5,
                    on_event=None) -> dict:
    """Fit the propagation weights of the model in `model_dir` on `fit_packages` (training
    packages only) and write them to model_dir/GRAPH_FILE, with what they were fitted on;
    sha256.json is rewritten to cover the file. Returns what was written."""


    embedder = load_embedder(model_dir, propagation=False)
    packages = []
    for p in fit_packages:
        if on_event:
            on_event({"event": "index", "package": p.name, "set": "fit"})
        packages.append(index_copies(p, work / "fit" / p.name, embedder, realistic, folds))
    weights, fit_mrr = fit(packages, "propagate", on_event=on_event)
    doc = {"variant": "propagate", "weights": weights, "fit_mrr": round(fit_mrr, 4),
           "fit_plain_mrr": round(float(np.mean([mrr10(ranks(p)) for p in packages])), 4),
           "fitted_on": [p.name for p in fit_packages], "mode": "keep-other-docs" if realistic else "stripped",
           "folds": folds if realistic else None, "grid": list(GRID)}
    write_atomic(Path(model_dir) / GRAPH_FILE, json.dumps(doc, indent=2) + "\n")
    record_hashes(model_dir)  # every model file, the new one among them
    return doc
