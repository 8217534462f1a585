"""Training checkpoints without pickle: weights and optimizer state in safetensors, the
rest in JSON; written to a temporary folder and renamed, the last K kept.

Layout of <run>/checkpoints/step-N/: model.safetensors, optim.safetensors, state.json, and
sha256.json recording the other three (graphmer/model/checkpoint.py); resuming refuses a checkpoint
whose files no longer match it, as it refuses one that does not parse.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from graphmer.model.checkpoint import hash_problem, record_hashes

STATE_FORMAT = "graphmer-train-state"
STATE_VERSION = 1
_STEP_DIR = re.compile(r"^step-(\d+)$")
_CHECKPOINT_FILES = ("model.safetensors", "optim.safetensors", "state.json")


class RunStateError(Exception):
    """A run folder or checkpoint that cannot be resumed; the message says what to do."""


def _model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """State dict with shared (tied) tensors stored once, contiguous, on the CPU."""
    out: dict[str, torch.Tensor] = {}
    seen: dict[int, str] = {}
    for name, t in model.state_dict().items():
        key = t.data_ptr()
        if key in seen and t.numel() > 0:
            continue  # a tied weight: restored by load_state_dict through its owner
        seen[key] = name
        out[name] = t.detach().to("cpu").contiguous()
    return out


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state into tensors (for safetensors) and JSON-able rest."""
    sd = opt.state_dict()
    tensors, meta = {}, {}
    for idx, st in sd["state"].items():
        entry = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{idx}.{k}"] = v.detach().to("cpu").contiguous()
            else:
                entry[k] = v
        meta[str(idx)] = entry
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"state": meta, "param_groups": groups}


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {int(i): dict(v) for i, v in meta["state"].items()}
    for key, t in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = t
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict, keep: int) -> Path:
    """Write checkpoints/step-N atomically and prune to the newest `keep`."""
    ck_root = run_dir / "checkpoints"
    ck_root.mkdir(parents=True, exist_ok=True)
    final = ck_root / f"step-{step}"
    tmp = ck_root / f".tmp-step-{step}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(_model_tensors(model), str(tmp / "model.safetensors"))
    opt_t, opt_meta = optimizer_tensors(opt)
    save_file(opt_t, str(tmp / "optim.safetensors"))
    doc = {"format": STATE_FORMAT, "version": STATE_VERSION, "step": step, "optimizer": opt_meta, **state}
    (tmp / "state.json").write_text(json.dumps(doc))
    record_hashes(tmp, _CHECKPOINT_FILES)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def truncate_metrics(path: Path, step: int, kinds: tuple[str, ...] = ("step", "eval")) -> None:
    """Drop the records of these kinds written after `step` (after the checkpoint a resumed
    run starts from), and lines cut by the interruption; atomically."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line cut by the interruption
        if rec.get("kind") in kinds and rec.get("step", -1) > step:
            continue
        keep.append(line)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
    os.replace(tmp, path)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    ck_root = run_dir / "checkpoints"
    if not ck_root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in ck_root.iterdir() if (m := _STEP_DIR.match(p.name)) and (p / "state.json").is_file()]
    return [p for _, p in sorted(found)]


def load_checkpoint(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer | None) -> dict:
    """Restore model (and optimizer) from a step folder; returns state.json's content."""
    try:
        doc = json.loads((path / "state.json").read_text())
    except (OSError, ValueError) as e:
        raise RunStateError(f"checkpoint {path} is unreadable ({e}); delete it to resume from an earlier one") from None
    if doc.get("format") != STATE_FORMAT:
        raise RunStateError(f"{path} is not a graphmer training checkpoint")
    if doc.get("version", 0) > STATE_VERSION:
        raise RunStateError(f"{path} was written by a newer graphmer (state version {doc.get('version')}); upgrade graphmer")
    # Before anything is loaded into the model (a checkpoint from before sha256.json is
    # resumed unchecked: see hash_problem).
    read = _CHECKPOINT_FILES if opt is not None else ("model.safetensors", "state.json")
    if problem := hash_problem(path, read):
        raise RunStateError(f"checkpoint {path} is corrupt ({' '.join(problem)}); delete it to resume from an earlier one")
    try:
        weights = load_file(str(path / "model.safetensors"))
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or any(not _tied(model, m) for m in missing):
            raise RunStateError(f"{path} does not match this model (missing {missing[:3]}, unexpected {unexpected[:3]})")
        if opt is not None:
            load_optimizer(opt, load_file(str(path / "optim.safetensors")), doc["optimizer"])
    except RunStateError:
        raise
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise RunStateError(f"checkpoint {path} is corrupt ({type(e).__name__}: {e}); delete it to resume from an earlier one") from None
    return doc


def _tied(model: torch.nn.Module, name: str) -> bool:
    """Whether a missing key is a tied alias of a tensor that was loaded."""
    sd = model.state_dict()
    ptr = sd[name].data_ptr() if name in sd else None
    return ptr is not None and sum(1 for t in sd.values() if t.data_ptr() == ptr) > 1
