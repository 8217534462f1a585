"""The summary of a multi-seed run across its seeds (graphmer/model/multiseed.py trains them).

Layout: PARENT/seeds.json + PARENT/seed-N/ (ordinary run folders), every seed with the same
data seed, so the seeds differ only in initialisation, batch order, masking and dropout.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from graphmer.model.reports.report import Report, ReportOptions, build_report
from graphmer.model.run_log import SEEDS_FILE, RunLogError, load_run, seed_runs


def _mean_std(values: list) -> dict:
    v = np.array([x for x in values if x is not None], dtype=float)
    return {"n": int(v.size), "mean": float(v.mean()) if v.size else None, "std": float(v.std(ddof=1)) if v.size > 1 else None}


def _seed_row(seed: int, rep: Report) -> dict:
    f = rep.figures
    row = {"seed": seed, "run": rep.run}
    loss = f["loss"]["components"]
    first = next(iter(loss.values()))
    row["final_loss_smoothed"] = first["final_smoothed"] if first else None
    if rep.kind == "pretrain":
        for k in ("mlm", "mnm"):
            d = f["validation"].get(k, {})
            row[f"final_{k}_acc"] = d.get("final", {}).get("acc")
            row[f"final_{k}_ci95"] = d.get("final", {}).get("ci95")
            row[f"best_{k}_acc"] = d.get("best", {}).get("acc")
        row["skipped_steps"] = f["stability"]["skipped"]["count"]
        row["compute_s"] = f["efficiency"]["compute_s"]
    else:
        for k in ("mrr@10", "recall@1"):
            row[f"final_{k}"] = f["validation"].get(k, {}).get("final", {}).get(k)
    return row


def seed_report(parent: str | Path, opts: ReportOptions = ReportOptions()) -> tuple[Report, list[Report]]:
    """(summary across seeds, the per-seed reports) of a multi-seed parent folder."""
    runs = seed_runs(Path(parent))
    reps = []
    for seed, path in runs:
        if not (path / "metrics.jsonl").exists():
            raise RunLogError(f"seed {seed} of {parent} has no metrics.jsonl yet ({path}): train it (graphmer train --seeds ... --resume)")
        reps.append((seed, build_report(path, opts)))
    rows = [_seed_row(s, r) for s, r in reps]
    keys = [k for k in rows[0] if k not in ("seed", "run") and not k.endswith("_ci95")]
    across = {k: _mean_std([r.get(k) for r in rows]) for k in keys}
    split = json.loads((Path(parent) / SEEDS_FILE).read_text()).get("split_seed")
    figs = {"seeds": rows, "across_seeds": across, "split_seed": split,
            "source": "each seed's metrics.jsonl (final = last evaluation; loss = mean of the last steps)"}
    notes = ("Across seeds: mean ± sample standard deviation (n − 1) over the seeds listed; with few seeds the "
             "standard deviation is itself uncertain.", f"All seeds share the data seed {split}: the same held-out files and masks.")
    return Report(str(parent), "seeds", figs, notes), [r for _, r in reps]


def seed_logs(parent: str | Path) -> list:
    """(seed, RunLog) of every seed run of a parent folder."""
    return [(s, load_run(p)) for s, p in seed_runs(Path(parent))]
