"""Paired bootstrap intervals of MRR margins: one system's reciprocal ranks minus another's,
query by query, for one package and for the mean over packages (numpy only)."""
from __future__ import annotations

import numpy as np


def reciprocal_ranks(ranks, top_k: int) -> np.ndarray:
    """1/rank for ranks 1..top_k, else 0 (not found, or below top_k)."""
    return np.array([1.0 / r if 1 <= r <= top_k else 0.0 for r in ranks], dtype=np.float64)


def paired_bootstrap(a: list[int], b: list[int], top_k: int = 10, n: int = 10000, seed: int = 0) -> dict:
    """Mean difference of reciprocal ranks (a - b) over queries, with a 95% bootstrap interval."""
    d = reciprocal_ranks(a, top_k) - reciprocal_ranks(b, top_k)
    if d.size == 0:
        return {"mean": 0.0, "low": 0.0, "high": 0.0, "queries": 0}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n, d.size))].mean(1)
    return {"mean": float(d.mean()), "low": float(np.quantile(means, 0.025)), "high": float(np.quantile(means, 0.975)),
            "queries": int(d.size)}


def paired_bootstrap_mean(pairs: list[tuple[list[int], list[int]]], top_k: int = 10, n: int = 10000, seed: int = 0) -> dict:
    """The mean over packages of each package's mean difference of reciprocal ranks (a - b),
    with a 95% bootstrap interval: each resample draws every package's queries with
    replacement, independently, and averages the packages' mean differences (every package
    weighs the same, whatever its number of queries). One package gives paired_bootstrap's
    answer (same draws for the same seed).

    >>> r = paired_bootstrap_mean([([1, 1], [2, 2]), ([1], [0])])  # +0.5 and +1.0 on every query
    >>> r["mean"], r["low"], r["high"], r["packages"], r["queries"]
    (0.75, 0.75, 0.75, 2, 3)
    """
    diffs = [reciprocal_ranks(a, top_k) - reciprocal_ranks(b, top_k) for a, b in pairs]
    if not diffs:
        return {"mean": 0.0, "low": 0.0, "high": 0.0, "packages": 0, "queries": 0}
    if any(d.size == 0 for d in diffs):
        raise ValueError("every package needs at least one query")
    rng = np.random.default_rng(seed)
    means = np.zeros(n)
    for d in diffs:
        means += d[rng.integers(0, d.size, size=(n, d.size))].mean(1)
    means /= len(diffs)
    return {"mean": float(np.mean([d.mean() for d in diffs])), "low": float(np.quantile(means, 0.025)),
            "high": float(np.quantile(means, 0.975)), "packages": len(diffs), "queries": int(sum(d.size for d in diffs))}
