"""Multi-seed training (one config, several seeds, sibling run folders) and its summary across seeds.

Layout: PARENT/seeds.json + PARENT/seed-N/ (ordinary run folders). Every seed run keeps the
same data seed (split_seed): the same held-out files, samples, tokenizer and held-out masks,
so that the seeds differ only in initialisation, batch order, masking and dropout, and
`graphmer compare` can pair their held-out predictions.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from graphmer.model.reports.report import Report, ReportOptions, build_report
from graphmer.model.run_log import SEEDS_FILE, SEEDS_FORMAT, RunLogError, load_run, seed_runs


def parse_seeds(text: str) -> tuple[int, ...]:
    """'1,2,3' -> (1, 2, 3); ValueError on anything else (or on repeats)."""
    try:
        seeds = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"--seeds {text!r} is not a comma-separated list of integers, e.g. 1,2,3") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds {text!r} needs distinct integers, e.g. 1,2,3")
    return seeds


def train_seeds(cfg, parent: str | Path, seeds: tuple[int, ...], corpus=None, index_dir=None, resume: bool = False,
                on_event=None) -> list:
    """Train cfg once per seed into parent/seed-N (sequentially); returns the TrainResults."""
    from graphmer.model.reports.markdown import write_text
    from graphmer.model.runstate import RunStateError
    from graphmer.model.train import train

    parent = Path(parent)
    split = cfg.data_seed()
    doc = {"format": SEEDS_FORMAT, "version": 1, "split_seed": split,
           "runs": [{"seed": s, "dir": f"seed-{s}"} for s in seeds]}
    if (parent / SEEDS_FILE).exists():
        old = json.loads((parent / SEEDS_FILE).read_text())
        if not resume:
            raise RunStateError(f"{parent} already holds a multi-seed run: pass --resume to continue it, or choose another --out")
        if old.get("runs") != doc["runs"] or old.get("split_seed") != split:
            raise RunStateError(f"--resume needs the same --seeds and --seed as the run in {parent} (see its {SEEDS_FILE})")
    elif resume:
        raise RunStateError(f"nothing to resume in {parent}: it has no {SEEDS_FILE} (start without --resume)")
    write_text(parent / SEEDS_FILE, json.dumps(doc, indent=2) + "\n")
    results, first_tok = [], None
    for s in seeds:
        run = parent / f"seed-{s}"
        if resume and (run / "model" / "model.safetensors").exists():
            continue  # finished
        if first_tok is not None and not (run / "tokenizer.json").exists():
            run.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(first_tok, run / "tokenizer.json")  # the same BPE vocabulary for every seed
        if on_event:
            on_event({"kind": "status", "message": f"seed {s}: training into {run}"})
        results.append(train(replace(cfg, seed=s, split_seed=split), run, corpus=corpus, index_dir=index_dir,
                             resume=resume and (run / "config.json").exists(), on_event=on_event))
        if (run / "tokenizer.json").exists():
            first_tok = run / "tokenizer.json"
    return results


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
