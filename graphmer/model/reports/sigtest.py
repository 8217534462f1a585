"""Paired significance tests with numpy only: paired bootstrap interval, paired permutation
(sign-flip) test over clusters, and McNemar's exact test.

Per-example scores come with a cluster id (the held-out graph a masked token belongs to, or
one id per retrieval query): tokens of one graph are not independent, so resampling and
sign flips act on whole clusters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_NAME = "paired bootstrap over {unit} ({n} resamples), 95% percentile interval"
PERMUTATION_NAME = "paired permutation test, two-sided (sign flips of per-{unit} differences, {n} permutations)"
MCNEMAR_NAME = "McNemar's exact test, two-sided (binomial on the discordant pairs)"


@dataclass(frozen=True)
class PairedResult:
    metric: str
    a: float  # metric of run A
    b: float  # metric of run B
    diff: float  # b - a
    ci_low: float
    ci_high: float
    interval: str  # how the interval was computed
    p_value: float
    test: str  # the test's name
    n: int  # examples
    clusters: int  # resampling units


def _cluster_sums(values: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums of values and per-cluster example counts."""
    _, inv = np.unique(clusters, return_inverse=True)
    k = int(inv.max()) + 1 if inv.size else 0
    return np.bincount(inv, weights=values, minlength=k), np.bincount(inv, minlength=k).astype(np.float64)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, resamples: int = 10_000,
                     seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of mean(b) - mean(a), resampling whole clusters with replacement.

    The statistic of a resample is sum(b - a) / count over the drawn clusters (a ratio
    estimator, so clusters of different sizes weigh by their size, as in the point estimate).
    """
    assert a.shape == b.shape == clusters.shape, "paired arrays must have the same shape"
    d_sum, cnt = _cluster_sums(b.astype(np.float64) - a.astype(np.float64), clusters)
    k = d_sum.size
    if k == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    stats = np.empty(resamples)
    for i in range(0, resamples, 1000):
        m = min(1000, resamples - i)
        pick = rng.integers(0, k, size=(m, k))  # (m, k)
        stats[i : i + m] = d_sum[pick].sum(1) / cnt[pick].sum(1)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return (float(lo), float(hi))


def permutation_test(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, permutations: int = 10_000,
                     seed: int = 0) -> float:
    """Two-sided p-value of mean(b) - mean(a) = 0 by random sign flips of per-cluster differences.

    p = (1 + #{|permuted| >= |observed|}) / (1 + permutations); identical inputs give p = 1.
    """
    assert a.shape == b.shape == clusters.shape, "paired arrays must have the same shape"
    d_sum, cnt = _cluster_sums(b.astype(np.float64) - a.astype(np.float64), clusters)
    if d_sum.size == 0:
        return 1.0
    total = cnt.sum()
    obs = abs(d_sum.sum()) / total
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(0, permutations, 1000):
        m = min(1000, permutations - i)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(m, d_sum.size))  # (m, k)
        perm = np.abs(signs @ d_sum) / total
        hits += int((perm >= obs - 1e-12 * max(1.0, obs)).sum())
    return (1 + hits) / (1 + permutations)


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[float, int, int]:
    """(two-sided p, n01, n10): n01 = A wrong and B right, n10 = A right and B wrong.

    p = min(1, 2 P(X <= min(n01, n10))), X ~ Binomial(n01 + n10, 1/2), computed exactly.

    >>> mcnemar_exact(np.array([1, 1, 0, 0]), np.array([1, 1, 0, 0]))
    (1.0, 0, 0)
    """
    a, b = a_correct.astype(bool), b_correct.astype(bool)
    n01, n10 = int((~a & b).sum()), int((a & ~b).sum())
    n = n01 + n10
    if n == 0:
        return (1.0, 0, 0)
    k = min(n01, n10)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n  # exact integers, one division
    return (min(1.0, 2 * tail), n01, n10)


def compare_paired(metric: str, a: np.ndarray, b: np.ndarray, clusters: np.ndarray, unit: str, *,
                   binary: bool, resamples: int = 10_000, seed: int = 0) -> PairedResult:
    """Difference b - a of a per-example metric with its bootstrap interval and a named test.

    binary metrics (correct / wrong) with one example per cluster use McNemar's exact test;
    otherwise the paired permutation test over clusters.
    """
    lo, hi = paired_bootstrap(a, b, clusters, resamples, seed)
    one_per_cluster = np.unique(clusters).size == clusters.size
    if binary and one_per_cluster:
        p, _, _ = mcnemar_exact(a, b)
        test = MCNEMAR_NAME
    else:
        p = permutation_test(a, b, clusters, resamples, seed)
        test = PERMUTATION_NAME.format(unit=unit.rstrip("s"), n=resamples)
    ma, mb = float(np.mean(a)), float(np.mean(b))
    return PairedResult(metric, ma, mb, mb - ma, lo, hi, BOOTSTRAP_NAME.format(unit=unit, n=resamples), p, test,
                        int(a.size), int(np.unique(clusters).size))


def bootstrap_mean(values: np.ndarray, resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of independent examples."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return (float("nan"), float("nan"))
    return paired_bootstrap(np.zeros_like(v), v, np.arange(v.size), resamples, seed)
