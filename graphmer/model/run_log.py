"""Read a run folder's own logs into one frozen record, for reports, comparisons and cards.

Two kinds of run are understood:
- "pretrain": `graphmer train` (config.json with format graphmer-run; metrics.jsonl records
  of kind start / resume / step / eval / checkpoint);
- "retrieval": `graphmer train-retrieval` (summary.json; metrics.jsonl with step records
  {step, epoch, loss, lr} and per-epoch held-out records {epoch, step, mrr@10, recall@1, pairs}).
A folder holding seeds.json is a multi-seed parent (see graphmer/model/multiseed.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEEDS_FILE = "seeds.json"
SEEDS_FORMAT = "graphmer-seeds"
CORPUS_MANIFEST = "corpus_manifest.json"  # a copy of the built corpus's manifest, in a retrieval run's folder


class RunLogError(Exception):
    """A folder that is not a readable run; the message says what to do."""


@dataclass(frozen=True)
class RunLog:
    path: Path
    kind: str  # "pretrain" or "retrieval"
    config: dict  # config.json (pretrain) or summary.json["config"] (retrieval)
    summary: dict  # summary.json (retrieval), {} otherwise
    steps: tuple[dict, ...]  # one record per step number (the last written wins)
    evals: tuple[dict, ...]  # held-out evaluations, in step order
    checkpoints: tuple[dict, ...] = ()
    starts: tuple[dict, ...] = ()  # start and resume records, in file order
    bad_lines: int = 0  # lines that were not JSON (e.g. cut by an interruption)
    rewritten_steps: int = 0  # step records written more than once (re-run after a resume)
    order: tuple[tuple[str, int], ...] = field(default=(), repr=False)  # (kind, step) in file order

    def column(self, key: str, records: str = "steps") -> np.ndarray:
        """Values of `key` in the step (or eval) records as float64, NaN where absent or null."""
        recs = getattr(self, records)
        return np.array([_num(r.get(key)) for r in recs], dtype=np.float64)

    def has(self, key: str, records: str = "steps") -> bool:
        """Whether any record of that kind carries `key`."""
        return any(key in r for r in getattr(self, records))


def _num(v) -> float:
    if v is None or isinstance(v, (dict, list, str)):
        return float("nan")
    return float(v)


def is_seed_parent(path: Path) -> bool:
    """Whether `path` is a multi-seed parent folder (it holds seeds.json)."""
    return (Path(path) / SEEDS_FILE).is_file()


def seed_runs(path: Path) -> list[tuple[int, Path]]:
    """(seed, run folder) of a multi-seed parent, in the order they were trained."""
    try:
        doc = json.loads((Path(path) / SEEDS_FILE).read_text())
    except (OSError, ValueError) as e:
        raise RunLogError(f"{path}/{SEEDS_FILE} is unreadable ({e})") from None
    if doc.get("format") != SEEDS_FORMAT:
        raise RunLogError(f"{path}/{SEEDS_FILE} is not a graphmer multi-seed file")
    return [(int(r["seed"]), Path(path) / r["dir"]) for r in doc["runs"]]


def _records(path: Path) -> tuple[list[dict], int]:
    recs, bad = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(rec, dict):
            recs.append(rec)
        else:
            bad += 1
    return recs, bad


def _retrieval_kind(rec: dict) -> str:
    if "kind" in rec:  # written by graphmer since resumable retrieval runs
        return rec["kind"]
    if "mrr@10" in rec:
        return "eval"
    return "step" if "loss" in rec else "other"


def load_run(path: str | Path) -> RunLog:
    """The run at `path` as a RunLog; RunLogError names what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise RunLogError(f"{path} is not a folder: give a run folder written by `graphmer train` or `graphmer train-retrieval`")
    metrics = path / "metrics.jsonl"
    if not metrics.is_file():
        hint = " (a multi-seed parent: report it as a whole or name one of its seed-N folders)" if is_seed_parent(path) else ""
        raise RunLogError(f"{path} has no metrics.jsonl: it is not a graphmer run folder{hint}")
    recs, bad = _records(metrics)
    cfg_path, sum_path = path / "config.json", path / "summary.json"
    if cfg_path.is_file():
        config = json.loads(cfg_path.read_text())
        if config.get("format") != "graphmer-run":
            raise RunLogError(f"{cfg_path} is not a graphmer run config (format {config.get('format')!r})")
        kind, summary = "pretrain", {}
    elif any("mrr@10" in r for r in recs) or sum_path.is_file():
        summary = json.loads(sum_path.read_text()) if sum_path.is_file() else {}
        kind, config = "retrieval", summary.get("config", {})
        recs = [{**r, "kind": _retrieval_kind(r)} for r in recs]
    else:
        raise RunLogError(f"{path} has metrics.jsonl but neither config.json nor summary.json: not a graphmer run folder")
    by_step: dict[int, dict] = {}
    evals: dict[int, dict] = {}
    rewritten = 0
    order, starts = [], []
    last_time, last_step = None, None
    for r in recs:
        k, s = r.get("kind"), int(r.get("step", -1))
        order.append((k, s))
        if k in ("start", "resume"):  # what came just before it tells how long and where it stopped
            starts.append({**r, "prev_time": last_time, "prev_step": last_step})
        last_time = r.get("time", last_time)
        if k == "step":
            last_step = s
        if k == "step":
            rewritten += s in by_step
            by_step[s] = r
        elif k == "eval":
            evals[s] = r
    return RunLog(
        path=path, kind=kind, config=config, summary=summary,
        steps=tuple(by_step[s] for s in sorted(by_step)), evals=tuple(evals[s] for s in sorted(evals)),
        checkpoints=tuple(r for r in recs if r.get("kind") == "checkpoint"),
        starts=tuple(starts),
        bad_lines=bad, rewritten_steps=rewritten, order=tuple(order),
    )


def parameter_count(model_dir: Path) -> tuple[int, int, tuple[str, ...]] | None:
    """(parameters, bytes on disk, tensor dtypes) of model_dir/model.safetensors from its header, or None."""
    f = Path(model_dir) / "model.safetensors"
    if not f.is_file():
        return None
    with open(f, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
    tensors = [v for k, v in header.items() if k != "__metadata__"]
    count = sum(int(np.prod(v["shape"])) for v in tensors)
    return count, f.stat().st_size, tuple(sorted({v["dtype"] for v in tensors}))
