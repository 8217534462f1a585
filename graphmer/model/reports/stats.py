"""Pure statistics for training reports: summaries, windows, intervals, spikes, schedule phases.

Every function takes plain numpy arrays (as logged) and returns plain numbers, so each
figure in a report can be traced to the records it came from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class Summary:
    n: int  # finite values summarised
    mean: float
    std: float  # sample standard deviation (n - 1); NaN when n < 2
    median: float
    min: float
    min_step: int
    max: float
    max_step: int


def summarize(steps: np.ndarray, values: np.ndarray) -> Summary | None:
    """Mean, std (n-1), median, min and max with their steps over the finite values.

    >>> summarize(np.array([1, 2, 3]), np.array([4.0, 2.0, 6.0])).mean
    4.0
    """
    ok = np.isfinite(values)
    if not ok.any():
        return None
    s, v = steps[ok], values[ok]
    i_min, i_max = int(np.argmin(v)), int(np.argmax(v))
    return Summary(int(v.size), float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan"),
                   float(np.median(v)), float(v[i_min]), int(s[i_min]), float(v[i_max]), int(s[i_max]))


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` finite values at each position (NaN until one is seen).

    >>> trailing_mean(np.array([1.0, 3.0, np.nan, 5.0]), 2).tolist()
    [1.0, 2.0, 2.0, 4.0]
    """
    out = np.full(values.shape, np.nan)
    buf: list[float] = []
    for i, v in enumerate(values):
        if math.isfinite(v):
            buf.append(float(v))
            if len(buf) > window:
                buf.pop(0)
        if buf:
            out[i] = sum(buf) / len(buf)
    return out


@dataclass(frozen=True)
class Window:
    name: str
    first: int  # first step number in the window (inclusive)
    last: int  # last step number (inclusive)


def default_windows(last_step: int) -> list[Window]:
    """First 1% of steps, the middle, and the last 10% (by step number, at least one step each).

    >>> [(w.first, w.last) for w in default_windows(1000)]
    [(1, 10), (11, 900), (901, 1000)]
    """
    a = max(1, math.ceil(0.01 * last_step))
    b = max(a, last_step - max(1, math.ceil(0.1 * last_step)))
    wins = [Window("first 1%", 1, a), Window("middle", a + 1, b), Window("last 10%", b + 1, last_step)]
    return [w for w in wins if w.first <= w.last]


def parse_window(text: str) -> Window:
    """'100-200' -> Window('100-200', 100, 200); ValueError names the expected form."""
    lo, sep, hi = text.partition("-")
    try:
        first, last = int(lo), int(hi)
    except ValueError:
        raise ValueError(f"window {text!r} is not FIRST-LAST (step numbers, e.g. 1-100)") from None
    if not sep or first < 0 or last < first:
        raise ValueError(f"window {text!r} is not FIRST-LAST with FIRST <= LAST")
    return Window(text, first, last)


def in_window(steps: np.ndarray, w: Window) -> np.ndarray:
    """Boolean mask of the steps inside w."""
    return (steps >= w.first) & (steps <= w.last)


def wilson(correct: int, count: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% by default).

    >>> [round(x, 4) for x in wilson(5, 10)]
    [0.2366, 0.7634]
    """
    if count <= 0:
        return (float("nan"), float("nan"))
    p = correct / count
    den = 1 + z * z / count
    centre = (p + z * z / (2 * count)) / den
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def grad_spikes(steps: np.ndarray, norms: np.ndarray, factor: float, window: int) -> list[tuple[int, float, float]]:
    """(step, norm, running median) where a norm exceeds factor x the median of the previous
    `window` finite norms (no spike is called before `window` norms have been seen).

    >>> grad_spikes(np.arange(1, 6), np.array([1.0, 1, 1, 5, 1]), 3.0, 3)
    [(4, 5.0, 1.0)]
    """
    out, seen = [], []
    for s, g in zip(steps, norms):
        if not math.isfinite(g):
            continue
        if len(seen) >= window:
            med = float(np.median(seen[-window:]))
            if g > factor * med:
                out.append((int(s), float(g), med))
        seen.append(float(g))
    return out


def variance_reduction(values: np.ndarray, early: np.ndarray, late: np.ndarray) -> dict:
    """Variance of the finite values in the early and late masks, and 1 - late/early."""
    e, l_ = values[early & np.isfinite(values)], values[late & np.isfinite(values)]
    ve = float(e.var(ddof=1)) if e.size > 1 else float("nan")
    vl = float(l_.var(ddof=1)) if l_.size > 1 else float("nan")
    red = 1 - vl / ve if (math.isfinite(ve) and ve > 0 and math.isfinite(vl)) else float("nan")
    return {"early_var": ve, "late_var": vl, "reduction": red, "early_n": int(e.size), "late_n": int(l_.size)}


def schedule_phases(steps: np.ndarray, values: np.ndarray, rtol: float = 1e-9) -> dict:
    """Warmup / plateau / decay of a logged schedule (learning rate or μ), read from the values.

    Warmup: the steps before the first step at the peak value; plateau: the steps at the peak
    (within rtol); decay: the steps after the last step at the peak. Counts of increases in
    the warmup and of increases after the peak say whether the phases are monotone.

    >>> schedule_phases(np.arange(1, 7), np.array([1.0, 2, 3, 3, 2, 1]))["warmup_steps"]
    2
    """
    ok = np.isfinite(values)
    s, v = steps[ok], values[ok]
    if v.size == 0:
        return {}
    peak = float(v.max())
    at_peak = np.flatnonzero(np.abs(v - peak) <= rtol * max(abs(peak), 1e-300))
    i0, i1 = int(at_peak[0]), int(at_peak[-1])
    d = np.diff(v)
    tol = rtol * max(abs(peak), 1e-300)
    return {
        "first": float(v[0]), "first_step": int(s[0]), "peak": peak, "peak_step": int(s[i0]),
        "peak_last_step": int(s[i1]), "final": float(v[-1]), "final_step": int(s[-1]),
        "warmup_steps": i0, "plateau_steps": i1 - i0 + 1, "decay_steps": int(v.size - 1 - i1),
        "warmup_decreases": int((d[:i0] < -tol).sum()), "decay_increases": int((d[i1:] > tol).sum()),
        "final_over_peak": float(v[-1] / peak) if peak else float("nan"), "constant": bool(np.all(np.abs(v - peak) <= tol)),
    }

