"""compare_runs(groups) -> Comparison: the same held-out set scored per example for every run,
differences with paired bootstrap intervals and a named paired test; mean ± std across seeds.

A group is one run folder or a multi-seed parent (its seeds' per-example scores are averaged
before pairing). Pretraining runs are re-evaluated on the first run's fixed held-out batches
(per masked token: correct or not, and its loss; resampling unit: the held-out graph).
Retrieval runs are paired on the per-query ranks their final held-out evaluation logged.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from graphmer.model.reports.markdown import write_text
from graphmer.model.reports.sigtest import PairedResult, compare_paired
from graphmer.model.run_log import (
    RunLog,
    RunLogError,
    is_seed_parent,
    load_run,
    seed_runs,
)
from graphmer.model.train_config import TrainConfig


class CompareError(ValueError):
    """Runs that cannot be compared on the same held-out set; the message says why."""


@dataclass(frozen=True)
class Scores:
    clusters: np.ndarray  # (M,) resampling unit of each example (held-out graph or query)
    kind: np.ndarray  # (M,) str: "mlm" / "mnm" (pretraining) or "query" (retrieval)
    metrics: dict  # name -> (M,) float per example (NaN where the metric does not apply)


@dataclass(frozen=True)
class Comparison:
    groups: tuple[dict, ...]  # name, runs, metrics (mean ± std across seeds when > 1 run)
    differences: tuple[PairedResult, ...]  # every group against the first
    examples: int
    per_example_file: str | None


def _groups(paths: list[str]) -> list[tuple[str, list[Path]]]:
    out = []
    for p in paths:
        p = Path(p)
        runs = [r for _, r in seed_runs(p)] if is_seed_parent(p) else [p]
        out.append((p.name or str(p), runs))
    return out


def _train_cfg(log: RunLog):

    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in log.config["train"].items()}
    return TrainConfig(**opts)


@dataclass(frozen=True)
class _Ref:
    data: object  # TrainData of the reference run
    cfg: object
    key: tuple


def _data_key(log: RunLog) -> tuple:
    cfg, d = _train_cfg(log), log.config.get("data", {})
    return (cfg.data_seed(), cfg.valid_fraction, cfg.eval_samples, cfg.batch_size, tuple(cfg.exclude),
            d.get("tokenizer_sha256"), tuple(d.get("corpus_paths") or d.get("corpus") or ()), d.get("index_dir"), cfg.preset, cfg.layout)


def _reference(log: RunLog, work: Path) -> _Ref:
    """The first run's held-out batches, rebuilt in a scratch folder (the run folder is not written)."""
    from graphmer.model.distributed import (
        DistContext,  # lazy: torch loads only when runs are scored
    )
    from graphmer.model.train_data import load_train_data

    cfg = _train_cfg(log)
    for name in ("tokenizer.json", "corpus"):
        src = log.path / name
        if src.is_dir():
            shutil.copytree(src, work / name)
        elif src.is_file():
            shutil.copyfile(src, work / name)
    d = log.config["data"]
    data = load_train_data(cfg, work, d.get("corpus_paths") or d.get("corpus") or None, d.get("index_dir"), DistContext())
    return _Ref(data, cfg, _data_key(log))


def pretrain_scores(run: Path, ref: _Ref, device: str = "cpu") -> Scores:
    """Per masked token of the reference held-out batches: correct (0/1) and loss, MLM and MNM."""
    import torch  # lazy: torch loads only when runs are scored
    import torch.nn.functional as F

    from graphmer.model.batch import IGNORE  # lazy: torch, only for pre-training runs
    from graphmer.model.checkpoint import load_model

    model, _ = load_model(run / "model")
    model.to(device).eval()
    clusters, kinds, hit, nll = [], [], [], []
    base = 0
    with torch.no_grad():
        for batch in ref.data.valid_batches:
            batch = batch.to(device)
            hidden = model.encode(batch)
            b, n = (batch.labels != IGNORE).nonzero(as_tuple=True)  # (M,)
            y = batch.labels[b, n]
            logits = model.lm_logits(hidden[b, n]).float()  # (M, V)
            hit.append((logits.argmax(-1) == y).cpu().numpy())
            nll.append(F.cross_entropy(logits, y, reduction="none").cpu().numpy())
            kinds.append(np.where(batch.is_leaf[b, n].cpu().numpy(), "mnm", "mlm"))
            clusters.append(base + b.cpu().numpy())
            base += batch.input_ids.shape[0]
    kind = np.concatenate(kinds)
    h, ce = np.concatenate(hit).astype(float), np.concatenate(nll).astype(float)
    m = {f"{k}_acc": np.where(kind == k, h, np.nan) for k in ("mlm", "mnm")}
    m |= {f"{k}_nll": np.where(kind == k, ce, np.nan) for k in ("mlm", "mnm")}
    return Scores(np.concatenate(clusters), kind, m)


def retrieval_scores(log: RunLog) -> tuple[Scores, str]:
    """Per held-out query of the final evaluation: reciprocal rank (@10) and hit@1; and the queries' hash."""
    ev = log.evals[-1] if log.evals else {}
    if not ev.get("ranks"):
        raise CompareError(f"{log.path} logged no per-query ranks (it predates them): retrain it with this graphmer "
                           "to compare it with a paired test")
    r = np.asarray(ev["ranks"], dtype=float)
    m = {"mrr@10": np.where(r <= 10, 1 / r, 0.0), "recall@1": (r == 1).astype(float)}
    return Scores(np.arange(r.size), np.full(r.size, "query"), m), ev.get("queries_sha1", "")


def _pretrain_group_scores(groups, device) -> dict[str, list[Scores]]:
    first = load_run(groups[0][1][0])
    out = {}
    with tempfile.TemporaryDirectory(prefix="graphmer-compare-") as tmp:
        ref = _reference(first, Path(tmp))
        for name, runs in groups:
            out[name] = []
            for run in runs:
                log = load_run(run)
                if log.kind != "pretrain":
                    raise CompareError(f"{run} is a {log.kind} run and {first.path} a pretrain run: compare runs of one kind")
                if _data_key(log) != ref.key:
                    raise CompareError(f"{run} was not trained on the same held-out split, tokenizer and corpus as {first.path}: "
                                       "a paired comparison needs runs of one corpus and data seed (e.g. graphmer train --seeds)")
                out[name].append(pretrain_scores(run, ref, device))
    return out


def _retrieval_group_scores(groups) -> dict[str, list[Scores]]:
    out, want = {}, None
    for name, runs in groups:
        out[name] = []
        for run in runs:
            log = load_run(run)
            if log.kind != "retrieval":
                raise CompareError(f"{run} is a {log.kind} run: compare runs of one kind")
            s, h = retrieval_scores(log)
            key = (s.clusters.size, h)
            if want is not None and key != want:
                raise CompareError(f"{run} was evaluated on other held-out queries than {groups[0][1][0]} "
                                   "(count or queries' hash differ): a paired comparison needs the same held-out pairs")
            want = key
            out[name].append(s)
    return out


def _write_examples(path: Path, scores: dict[str, list[Scores]], groups) -> None:
    first = next(iter(scores.values()))[0]
    cols = ["example", "cluster", "kind"] + [f"{g}/{Path(r).name}:{m}" for g, runs in groups for r in runs for m in first.metrics]
    lines = [",".join(cols)]
    vals = [s.metrics[m] for g, _ in groups for s in scores[g] for m in first.metrics]
    for i in range(first.clusters.size):
        row = [str(i), str(int(first.clusters[i])), str(first.kind[i])] + [("" if np.isnan(v[i]) else f"{v[i]:.6g}") for v in vals]
        lines.append(",".join(row))
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def compare_runs(paths: list[str], out_dir: str | Path | None = None, resamples: int = 10_000, seed: int = 0,
                 device: str = "cpu") -> Comparison:
    """Evaluate every run on one held-out set, pair them against the first group, and save per-example results."""
    if len(paths) < 2:
        raise CompareError("give at least two runs (or multi-seed parents) to compare")
    groups = _groups(paths)
    names = [g for g, _ in groups]
    if len(set(names)) != len(names):
        groups = [(f"{i}:{g}", r) for i, (g, r) in enumerate(groups)]
    kind = load_run(groups[0][1][0]).kind
    scores = _retrieval_group_scores(groups) if kind == "retrieval" else _pretrain_group_scores(groups, device)
    first = next(iter(scores.values()))[0]
    unit = "queries" if kind == "retrieval" else "held-out graphs"
    summaries, avg = [], {}
    for name, runs in groups:
        per_run = {m: [float(np.nanmean(s.metrics[m])) for s in scores[name]] for m in first.metrics}
        summaries.append({"name": name, "runs": [str(r) for r in runs], "metrics": {
            m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else None, "per_run": v}
            for m, v in per_run.items()}})
        avg[name] = {m: np.mean([s.metrics[m] for s in scores[name]], axis=0) for m in first.metrics}
    diffs = []
    base = groups[0][0]
    for name, runs in groups[1:]:
        for m in first.metrics:
            a, b = avg[base][m], avg[name][m]
            ok = ~np.isnan(a)
            binary = len(runs) == 1 and len(groups[0][1]) == 1 and (m.endswith("_acc") or m == "recall@1")
            r = compare_paired(m, a[ok], b[ok], first.clusters[ok], unit, binary=binary, resamples=resamples, seed=seed)
            diffs.append(PairedResult(**{**asdict(r), "metric": f"{m}: {name} − {base}"}))
    ex_file = None
    if out_dir is not None:
        ex_file = Path(out_dir) / "per_example.csv"
        _write_examples(ex_file, scores, groups)
    return Comparison(tuple(summaries), tuple(diffs), int(first.clusters.size), str(ex_file) if ex_file else None)


def comparison_json(c: Comparison) -> dict:
    """The comparison as JSON-able data."""
    return {"groups": list(c.groups), "differences": [asdict(d) for d in c.differences], "examples": c.examples,
            "per_example_file": c.per_example_file}


def write_comparison(c: Comparison, out_dir: str | Path) -> Path:
    """compare.json into out_dir, atomically."""
    p = Path(out_dir) / "compare.json"
    write_text(p, json.dumps(comparison_json(c), indent=1) + "\n")
    return p


__all__ = ["CompareError", "Comparison", "compare_runs", "comparison_json", "write_comparison", "RunLogError"]
