"""train(cfg) -> run directory: MLM + SBO + μ·MNM on leafy chain graphs of code.

Every random choice of a step (which samples, which triples, which tokens are masked,
dropout) is drawn from generators seeded by (seed, step, rank), so a run resumed from a
checkpoint continues exactly as the uninterrupted run would have.
"""
from __future__ import annotations

import json
import math
import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from graphmer.model import distributed as dist_util
from graphmer.model.checkpoint import save_model
from graphmer.model.config import EncoderConfig
from graphmer.model.encoder import GraphMER, load_minilm_weights, warm_started_names
from graphmer.model.runstate import RunStateError, list_checkpoints, load_checkpoint, save_checkpoint, truncate_metrics
from graphmer.model.train_config import TrainConfig, encoder_config
from graphmer.model.train_data import TrainData, load_train_data

RUN_FORMAT = "graphmer-run"
RUN_VERSION = 1
Event = Callable[[dict], None]


@dataclass
class TrainResult:
    run_dir: Path
    steps_done: int
    skipped_steps: int
    last_eval: dict = field(default_factory=dict)
    seconds: float = 0.0


def lr_at(cfg: TrainConfig, step: int, peak: float) -> float:
    """Linear warmup to `peak`, then cosine or linear decay to min_lr at the last step."""
    w = cfg.warmup()
    if step < w:
        return peak * (step + 1) / w
    frac = min(1.0, (step - w) / max(1, cfg.steps - w))
    decay = 0.5 * (1 + math.cos(math.pi * frac)) if cfg.schedule == "cosine" else 1 - frac
    return cfg.min_lr + (peak - cfg.min_lr) * decay


def mu_at(cfg: TrainConfig, step: int) -> float:
    """μ: constant, or ramped linearly from 0.001 to cfg.mu over mu_ramp_steps."""
    if cfg.mu_ramp_steps <= 0 or step >= cfg.mu_ramp_steps:
        return cfg.mu
    return 0.001 + (cfg.mu - 0.001) * step / cfg.mu_ramp_steps


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def _param_groups(model, cfg: TrainConfig, enc: EncoderConfig) -> list[dict]:
    """Loaded (warm-start) weights at encoder_lr, new ones at lr; no decay on norms/biases."""
    loaded = warm_started_names(model) if enc.warm_start else set()
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = (name in loaded, p.ndim < 2)
        groups.setdefault(key, []).append(p)
    out = []
    for (is_loaded, no_decay), params in sorted(groups.items()):
        peak = cfg.encoder_lr if (is_loaded and cfg.encoder_lr > 0) else cfg.lr
        out.append({"params": params, "weight_decay": 0.0 if no_decay else cfg.weight_decay, "lr": peak, "peak_lr": peak})
    return out


def _memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak RSS, KiB on Linux


def _append(path: Path, rec: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def evaluate(model, data: TrainData, cfg: TrainConfig, device: torch.device) -> dict:
    """Held-out MLM/MNM accuracy and losses over the fixed validation batches."""
    model.eval()
    tot = {"mlm": 0.0, "sbo": 0.0, "mnm": 0.0, "mlm_correct": 0, "mlm_count": 0, "mnm_correct": 0, "mnm_count": 0, "batches": 0}
    with torch.no_grad():
        for batch in data.valid_batches:
            _, losses = model(batch.to(device), mu=1.0)
            if losses is None:
                continue
            tot["batches"] += 1
            for k in ("mlm", "sbo", "mnm"):
                tot[k] += float(getattr(losses, k))
            for k in ("mlm_correct", "mlm_count", "mnm_correct", "mnm_count"):
                tot[k] += int(getattr(losses, k))
    model.train()
    n = max(1, tot["batches"])
    return {
        "mlm_loss": tot["mlm"] / n, "sbo_loss": tot["sbo"] / n, "mnm_loss": tot["mnm"] / n,
        "mlm_acc": tot["mlm_correct"] / max(1, tot["mlm_count"]), "mlm_count": tot["mlm_count"], "mlm_correct": tot["mlm_correct"],
        "mnm_acc": tot["mnm_correct"] / max(1, tot["mnm_count"]), "mnm_count": tot["mnm_count"], "mnm_correct": tot["mnm_correct"],
    }


def _check_run_folder(cfg: TrainConfig, run_dir: Path, resume: bool, ctx) -> None:
    """--resume needs a run of the same options in run_dir; a new run needs a folder without one."""
    run_cfg_path = run_dir / "config.json"
    if resume:
        if not run_cfg_path.exists():
            raise RunStateError(f"nothing to resume in {run_dir}: it has no config.json (start without --resume)")
        saved = json.loads(run_cfg_path.read_text())
        if saved.get("format") != RUN_FORMAT:
            raise RunStateError(f"{run_dir} is not a graphmer run folder")
        defaults = json.loads(json.dumps(asdict(TrainConfig())))  # fields added since the run was written
        if {**defaults, **saved["train"]} != json.loads(json.dumps(asdict(cfg))):
            raise RunStateError(f"--resume needs the same training options as the run in {run_dir} (see its config.json)")
    elif run_cfg_path.exists() and ctx.is_main:
        raise RunStateError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another --out")


def _new_model(cfg: TrainConfig, data: TrainData, device: torch.device):
    """(encoder config, model on device, optimizer): seeded, warm-started when the preset says so."""
    enc = encoder_config(cfg, data.tokenizer.vocab_size, data.tokenizer.pad_id, data.tokenizer.mask_id)
    torch.manual_seed(cfg.seed)
    model = GraphMER(enc)
    if enc.warm_start == "minilm":
        load_minilm_weights(model)
    model.to(device)
    opt = torch.optim.AdamW(_param_groups(model, cfg, enc), betas=(cfg.beta1, cfg.beta2))
    return enc, model, opt


def _start_or_resume(cfg: TrainConfig, run_dir: Path, resume: bool, ctx, data: TrainData, enc: EncoderConfig,
                     model, opt) -> tuple[int, int]:
    """(first step, steps skipped so far): the newest checkpoint loaded on --resume, else config.json written."""
    start_step, skipped = 0, 0
    if resume:
        if cks := list_checkpoints(run_dir):
            state = load_checkpoint(cks[-1], model, opt)
            start_step, skipped = state["step"], state["skipped_steps"]
        if ctx.is_main:  # records written after that checkpoint are written again
            truncate_metrics(run_dir / "metrics.jsonl", start_step)
    elif ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        doc = {"format": RUN_FORMAT, "version": RUN_VERSION, "train": asdict(cfg), "encoder": enc.to_dict(),
               "data": data.summary, "parameters": model.num_parameters(), "world_size": ctx.world}
        (run_dir / "config.json").write_text(json.dumps(doc, indent=2) + "\n")
    return start_step, skipped


def _step(cfg: TrainConfig, step: int, skipped: int, data: TrainData, model, ddp_model, opt, device: torch.device, ctx) -> dict:
    """One optimiser step (skipped, weights untouched, when the loss or the gradients are not finite): its step record."""
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed * 1_000_003 + step * 101 + ctx.rank)  # dropout of this step
    batch, stats = data.train_batch(step)
    batch = batch.to(device)
    lr_scale = lr_at(cfg, step, 1.0)
    for g in opt.param_groups:
        g["lr"] = lr_at(cfg, step, g["peak_lr"])
    mu = mu_at(cfg, step)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda"):
        _, losses = ddp_model(batch, mu=mu)
    loss = losses.total
    if step in cfg.inject_inf_at:
        loss = loss * float("inf")
    finite = dist_util.all_true(bool(torch.isfinite(loss)), ctx)
    grad_norm = float("nan")
    if finite:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip))
        finite = dist_util.all_true(math.isfinite(grad_norm), ctx)
    if finite:
        opt.step()
    else:
        skipped += 1  # the weights and the optimizer state stay as they were
    opt.zero_grad(set_to_none=True)
    dt = time.perf_counter() - t0
    tokens = batch.num_tokens() * ctx.world
    return {
        "kind": "step", "step": step + 1, "loss": losses.total.item(), "mlm_loss": losses.mlm.item(),
        "sbo_loss": losses.sbo.item(), "mnm_loss": losses.mnm.item(),
        "mlm_acc": losses.mlm_correct / max(1, losses.mlm_count), "mlm_count": losses.mlm_count,
        "mnm_acc": losses.mnm_correct / max(1, losses.mnm_count), "mnm_count": losses.mnm_count,
        "lr": lr_scale * cfg.lr, "mu": mu, "grad_norm": grad_norm, "skipped": not finite, "skipped_total": skipped,
        "tokens": tokens, "step_time": dt, "tokens_per_s": tokens / dt if dt > 0 else 0.0,
        "memory_mb": _memory_mb(device), "copy_rate": stats.copy_tokens / max(1, stats.tail_tokens),
        "injected_groups": stats.injected_groups, "time": time.time(),
    }


def _save_checkpoint(cfg: TrainConfig, run_dir: Path, done: int, skipped: int, model, opt, emit: Event) -> None:
    """A checkpoint after `done` steps, and its record (ok: False when it could not be written)."""
    ok = True
    try:
        save_checkpoint(run_dir, done, model, opt, {"skipped_steps": skipped, "seed": cfg.seed}, cfg.keep_checkpoints)
    except OSError as e:
        ok = False
        emit({"kind": "status", "message": f"checkpoint at step {done} failed: {e}"})
    _append(run_dir / "metrics.jsonl", {"kind": "checkpoint", "step": done, "ok": ok, "time": time.time()})


def train(
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    corpus: list[str] | None = None,
    index_dir: str | None = None,
    resume: bool = False,
    on_event: Event | None = None,
) -> TrainResult:
    """Train a GraphMER model into out_dir (config.json, metrics.jsonl, checkpoints/, model/)."""
    t_start = time.perf_counter()
    run_dir = Path(out_dir)
    ctx = dist_util.setup()
    emit = on_event if (on_event and ctx.is_main) else (lambda e: None)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = ctx.device if ctx.world > 1 else _device(cfg)
    _check_run_folder(cfg, run_dir, resume, ctx)

    emit({"kind": "status", "message": "preparing data"})
    data = load_train_data(cfg, run_dir, corpus, index_dir, ctx)
    enc, model, opt = _new_model(cfg, data, device)
    start_step, skipped = _start_or_resume(cfg, run_dir, resume, ctx, data, enc, model, opt)
    ddp_model = dist_util.wrap(model, ctx)
    metrics = run_dir / "metrics.jsonl"
    if ctx.is_main:
        _append(metrics, {"kind": "resume" if start_step else "start", "step": start_step, "time": time.time(),
                          "device": str(device), "world_size": ctx.world, "parameters": model.num_parameters(),
                          "hardware": dist_util.hardware(device)})
    emit({"kind": "status", "message": f"training from step {start_step}", "start_step": start_step, "steps": cfg.steps})

    last_eval: dict = {}
    model.train()
    for step in range(start_step, cfg.steps):
        rec = _step(cfg, step, skipped, data, model, ddp_model, opt, device, ctx)
        skipped = rec["skipped_total"]
        if ctx.is_main:
            _append(metrics, rec)
        emit(rec)
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            last_eval = {"kind": "eval", "step": done, **evaluate(model, data, cfg, device), "time": time.time()}
            if ctx.is_main:
                _append(metrics, last_eval)
            emit(last_eval)
        if ctx.is_main and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            _save_checkpoint(cfg, run_dir, done, skipped, model, opt, emit)
        dist_util.barrier(ctx)
    if ctx.is_main:
        save_model(run_dir / "model", model, data.tokenizer)
    dist_util.cleanup(ctx)
    return TrainResult(run_dir, cfg.steps, skipped, last_eval, time.perf_counter() - t_start)


__all__ = ["TrainConfig", "TrainResult", "train", "evaluate", "lr_at", "mu_at"]
