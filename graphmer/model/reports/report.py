"""build_report(run) -> Report: every figure of a training analysis, computed from the run's logs.

Figures are plain JSON-able values under named sections (loss, validation, stability,
schedules, efficiency); each section names the log fields it was computed from, and
`notes` says what a log lacks rather than filling the gap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphmer.model.reports.stats import (Window, default_windows, grad_spikes, in_window, schedule_phases, summarize,
                                trailing_mean, variance_reduction, wilson)
from graphmer.model.run_log import RunLog, RunLogError, load_run, parameter_count
from graphmer.model.reports.sigtest import bootstrap_mean

COMPONENTS = {"total": "loss", "mlm": "mlm_loss", "sbo": "sbo_loss", "mnm": "mnm_loss"}
WILSON_NOTE = ("Intervals on held-out accuracies are 95% Wilson intervals from the count of masked tokens "
               "evaluated; they treat tokens as independent, and tokens of one held-out graph are correlated, "
               "so the true uncertainty is somewhat larger. Every evaluation uses the same fixed held-out batches.")


@dataclass(frozen=True)
class ReportOptions:
    windows: tuple[Window, ...] = ()  # () -> first 1%, middle, last 10%
    smooth: int = 50  # smoothed loss: mean of the last N finite steps
    spike_factor: float = 3.0  # a gradient-norm spike: above factor x running median
    spike_window: int = 50  # running median over the previous N norms
    resamples: int = 10_000  # bootstrap resamples (MRR intervals)
    seed: int = 0


@dataclass(frozen=True)
class Report:
    run: str
    kind: str  # "pretrain" or "retrieval"
    figures: dict  # section -> JSON-able figures
    notes: tuple[str, ...] = field(default=())


def _f(x):
    """NaN/inf -> None so that the JSON is strict; numpy scalars -> Python numbers."""
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, dict):
        return {k: _f(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_f(v) for v in x]
    return x


def _summary(steps, values, smooth: int) -> dict | None:
    s = summarize(steps, values)
    if s is None:
        return None
    ok = np.flatnonzero(np.isfinite(values))
    sm = trailing_mean(values, smooth)
    return {**s.__dict__, "final_raw": float(values[ok[-1]]), "final_step": int(steps[ok[-1]]),
            "final_smoothed": float(sm[ok[-1]]), "smoothed_over": int(min(smooth, ok.size))}


def _windows(steps, series: dict[str, np.ndarray], wins: list[Window]) -> list[dict]:
    out = []
    for w in wins:
        m = in_window(steps, w)
        row = {"name": w.name, "first": w.first, "last": w.last, "steps": int(m.sum())}
        for name, v in series.items():
            x = v[m & np.isfinite(v)]
            row[name] = {"n": int(x.size), "mean": float(x.mean()) if x.size else None,
                         "std": float(x.std(ddof=1)) if x.size > 1 else None, "median": float(np.median(x)) if x.size else None}
        out.append(row)
    return out


def _loss_section(log: RunLog, comps: dict[str, str], opts: ReportOptions, wins: list[Window]) -> dict:
    steps = log.column("step")
    skipped = log.column("skipped") == 1
    series = {}
    for name, key in comps.items():
        if log.has(key):
            v = log.column(key)
            series[name] = np.where(skipped, np.nan, v)
    return {"source": "metrics.jsonl step records: " + ", ".join(comps[k] for k in series),
            "excluded": "steps marked skipped (non-finite loss or gradient); they did not update the weights",
            "smooth_window": opts.smooth,
            "components": {k: _summary(steps, v, opts.smooth) for k, v in series.items()},
            "windows": _windows(steps, series, wins)}


def _acc(rec: dict, kind: str) -> dict:
    acc, n, k = rec.get(f"{kind}_acc"), rec.get(f"{kind}_count"), rec.get(f"{kind}_correct")
    if k is None and acc is not None and n:
        k = round(acc * n)
    lo, hi = wilson(int(k), int(n)) if (n and k is not None) else (None, None)
    return {"step": int(rec["step"]), "acc": acc, "correct": k, "count": n, "ci95": [lo, hi] if lo is not None else None,
            "loss": rec.get(f"{kind}_loss")}


def _best_final(rows: list[dict], key: str) -> dict:
    vals = [r for r in rows if r.get(key) is not None]
    if not vals:
        return {}
    best = max(vals, key=lambda r: (r[key], -r["step"]))  # the earliest of tied maxima
    arr = np.array([r[key] for r in vals], dtype=float)
    dist = summarize(np.array([r["step"] for r in vals]), arr)
    return {"best": best, "final": vals[-1], "distribution": dist.__dict__ if dist else None, "evaluations": len(vals)}


def _pretrain_validation(log: RunLog, notes: list[str]) -> dict:
    out = {"source": "metrics.jsonl eval records (fixed held-out batches)"}
    for kind in ("mlm", "mnm"):
        rows = [_acc(r, kind) for r in log.evals if r.get(f"{kind}_acc") is not None]
        out[kind] = {"evals": rows, **_best_final(rows, "acc")}
        if any(r["count"] is None for r in rows):
            notes.append(f"Some eval records lack {kind}_count (logs written before counts were logged): "
                         f"those {kind.upper()} accuracies have no interval.")
    if log.evals:
        notes.append(WILSON_NOTE)
    return out


def _stability(log: RunLog, opts: ReportOptions) -> dict:
    steps = log.column("step")
    skipped = log.column("skipped") == 1
    loss = np.where(skipped, np.nan, log.column("loss"))
    last = int(steps[-1]) if steps.size else 0
    early = Window("first 10%", 1, max(1, math.ceil(0.1 * last)))
    late = Window("last 10%", last - max(1, math.ceil(0.1 * last)) + 1, last)
    out = {
        "source": "step records (skipped, grad_norm, loss), start/resume and checkpoint records",
        "steps_logged": int(steps.size), "last_step": last, "unreadable_lines": log.bad_lines,
        "rewritten_step_records": log.rewritten_steps,
        "skipped": {"count": int(skipped.sum()), "share": float(skipped.mean()) if steps.size else None,
                    "steps": [int(s) for s in steps[skipped]][:50],
                    "trainer_count_at_last_step": _last(log, "skipped_total")},
        "variance": {"early": [early.first, early.last], "late": [late.first, late.last],
                     **variance_reduction(loss, in_window(steps, early), in_window(steps, late))},
    }
    if log.has("grad_norm"):
        g = np.where(skipped, np.nan, log.column("grad_norm"))
        spikes = grad_spikes(steps, g, opts.spike_factor, opts.spike_window)
        out["grad_norm"] = {"summary": summarize(steps, g).__dict__ if np.isfinite(g).any() else None,
                            "spike_rule": f"norm > {opts.spike_factor:g} x median of the previous {opts.spike_window} norms",
                            "spikes": len(spikes), "spike_steps": [{"step": s, "norm": n, "median": m} for s, n, m in spikes[:50]]}
    resumes = [r for r in log.starts if r.get("kind") == "resume"]
    out["interruptions"] = {"resumes": len(resumes), "events": [
        {"resumed_from_step": r["step"], "last_step_logged_before": r.get("prev_step"),
         "gap_s": (r["time"] - r["prev_time"]) if (r.get("time") and r.get("prev_time")) else None} for r in resumes]}
    ok = [bool(c.get("ok")) for c in log.checkpoints]
    out["checkpoints"] = {"attempted": len(ok), "succeeded": sum(ok),
                          "failed_steps": [int(c["step"]) for c in log.checkpoints if not c.get("ok")]}
    return out


def _last(log: RunLog, key: str):
    return next((r[key] for r in reversed(log.steps) if key in r), None)


def _pretrain_schedules(log: RunLog, wins: list[Window]) -> dict:
    steps = log.column("step")
    out = {"source": "step records: lr (the peak-lr group's logged value), mu, mlm_loss, sbo_loss, mnm_loss, loss",
           "lr": schedule_phases(steps, log.column("lr")), "mu": schedule_phases(steps, log.column("mu"))}
    skipped = log.column("skipped") == 1
    tot, mlm, sbo, mnm, mu = (np.where(skipped, np.nan, log.column(k)) for k in ("loss", "mlm_loss", "sbo_loss", "mnm_loss", "mu"))
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = {"mlm": mlm / tot, "sbo": sbo / tot, "mu_mnm": mu * mnm / tot}
    out["loss_share"] = {"definition": "component / total loss per step, total = mlm + sbo + mu x mnm",
                         "max_abs_residual": float(np.nanmax(np.abs(tot - (mlm + sbo + mu * mnm)))) if steps.size else None,
                         "windows": _windows(steps, shares, wins)}
    return out


def _pretrain_efficiency(log: RunLog) -> dict:
    st, tok = log.column("step_time"), log.column("tokens")
    ok = np.isfinite(st) & (st > 0)
    start = log.starts[0] if log.starts else {}
    device = str(start.get("device", "?"))
    times = [r.get("time") for r in log.steps + log.evals + log.checkpoints if r.get("time")]
    step_time = {int(r["step"]): r.get("time") for r in log.steps}
    eval_s = [r["time"] - step_time[int(r["step"])] for r in log.evals if r.get("time") and step_time.get(int(r["step"]))]
    pc = parameter_count(log.path / "model")
    out = {
        "source": "step records (step_time, tokens, memory_mb, time), start record, model/model.safetensors",
        "compute_s": float(st[ok].sum()), "steps_per_s": float(ok.sum() / st[ok].sum()) if ok.any() else None,
        "tokens_per_s": float(tok[ok].sum() / st[ok].sum()) if ok.any() else None,
        "tokens_per_s_median_step": float(np.median(tok[ok] / st[ok])) if ok.any() else None,
        "wall_s": (max(times) - start["time"]) if (times and start.get("time")) else None,
        "eval_s": float(sum(eval_s)), "evaluations_timed": len(eval_s),
        "peak_memory_mib": float(np.nanmax(log.column("memory_mb"))) if log.has("memory_mb") else None,
        "memory_kind": "max allocated GPU memory" if device.startswith("cuda") else "peak resident set size (RSS) of the process",
        "parameters": log.config.get("parameters", start.get("parameters")),
        "model_file": {"parameters": pc[0], "bytes": pc[1]} if pc else None,
        "device": device, "world_size": start.get("world_size"), "hardware": start.get("hardware"),
    }
    return out


def _phase_times(log: RunLog, wins: list[Window]) -> list[dict]:
    steps, st = log.column("step"), log.column("step_time")
    return [{"name": w.name, "first": w.first, "last": w.last, "compute_s": float(np.nansum(st[in_window(steps, w)]))} for w in wins]


def _retrieval_validation(log: RunLog, opts: ReportOptions, notes: list[str]) -> dict:
    rows = []
    for r in log.evals:
        n = int(r.get("pairs", 0))
        k = r.get("recall@1", 0) * n
        row = {"epoch": r.get("epoch"), "step": int(r["step"]), "mrr@10": r.get("mrr@10"), "recall@1": r.get("recall@1"),
               "pairs": n, "recall@1_correct": round(k) if abs(k - round(k)) < 1e-3 else None}
        row["recall@1_ci95"] = list(wilson(row["recall@1_correct"], n)) if row["recall@1_correct"] is not None else None
        ranks = r.get("ranks")
        if ranks:
            rr = np.array([1 / x if x <= 10 else 0.0 for x in ranks])
            row["mrr@10_ci95"] = list(bootstrap_mean(rr, opts.resamples, opts.seed))
        else:
            row["mrr@10_ci95"] = None
        rows.append(row)
    if rows and any(r["mrr@10_ci95"] is None for r in rows):
        notes.append("Per-query ranks are not in this run's metrics.jsonl (it was written before graphmer logged "
                     "them), so MRR@10 has no interval here; Recall@1 has a Wilson interval from its pair count.")
    if rows:
        notes.append("Held-out retrieval: each query is ranked against all held-out functions of the run.")
    return {"source": "metrics.jsonl held-out records (mrr@10, recall@1, pairs, ranks when logged)", "evals": rows,
            **({"mrr@10": _best_final(rows, "mrr@10"), "recall@1": _best_final(rows, "recall@1")} if rows else {})}


def _retrieval_report(log: RunLog, opts: ReportOptions, wins: list[Window], notes: list[str]) -> dict:
    steps = log.column("step")
    loss = _loss_section(log, {"infonce": "loss"}, opts, wins)
    epochs = sorted({int(r.get("epoch", 0)) for r in log.steps})
    ep = log.column("epoch")
    loss["epochs"] = [{"epoch": e, **(summarize(steps[ep == e], log.column("loss")[ep == e]).__dict__)} for e in epochs]
    pc = parameter_count(log.path / "model")
    secs = log.summary.get("seconds")
    stab = {"source": "step records (loss)", "steps_logged": int(steps.size), "last_step": int(steps[-1]) if steps.size else 0,
            "unreadable_lines": log.bad_lines}
    if log.has("skipped_total"):
        stab["skipped"] = {"count": _last(log, "skipped_total")}
    else:
        notes.append("This retrieval run logs no record of non-finite steps (they were skipped with a warning only), "
                     "no gradient norms, step times, memory or checkpoints: those figures are absent.")
    eff = {"source": "summary.json (seconds), model/model.safetensors", "end_to_end_s": secs,
           "steps_per_s_end_to_end": (log.summary.get("steps", steps.size) / secs) if secs else None,
           "model_file": {"parameters": pc[0], "bytes": pc[1]} if pc else None}
    if secs:
        notes.append("Retrieval runs log only their total time: steps/s is end to end (pair building, indexing and "
                     "held-out evaluations included), not compute time per step.")
    return {"loss": loss, "validation": _retrieval_validation(log, opts, notes), "stability": stab,
            "schedules": {"source": "step records: lr (the loaded weights' group; new parameters follow the same schedule at new_lr)", "lr": schedule_phases(steps, log.column("lr"))},
            "efficiency": eff, "data": {k: log.summary.get(k) for k in ("pairs_train", "pairs_valid", "steps", "corpus")}}


def build_report(run_dir: str | Path, opts: ReportOptions = ReportOptions()) -> Report:
    """Every figure of the analysis of one run folder, from its own logs."""
    log = load_run(run_dir)
    if not log.steps:
        raise RunLogError(f"{run_dir}/metrics.jsonl has no step records yet: nothing to report")
    last = int(log.steps[-1]["step"])
    wins = list(opts.windows) or default_windows(last)
    notes: list[str] = []
    if log.kind == "retrieval":
        figs = _retrieval_report(log, opts, wins, notes)
    else:
        figs = {"loss": _loss_section(log, COMPONENTS, opts, wins), "validation": _pretrain_validation(log, notes),
                "stability": _stability(log, opts), "schedules": _pretrain_schedules(log, wins),
                "efficiency": {**_pretrain_efficiency(log), "phases": _phase_times(log, wins)},
                "data": log.config.get("data", {}) | {"train": log.config.get("train", {})}}
    return Report(str(log.path), log.kind, _f(figs), tuple(notes))
