"""The contrastive stage (docs/model.md §8.7): a sentence ↔ its docstring-free function, InfoNCE.

Pairs come from a built corpus (`graphmer corpus build`) or plain folders
(graphmer/model/retrieval_pairs.py). A step embeds a batch of queries and functions and takes the
symmetric InfoNCE loss (τ = 0.05) over:
- in-batch negatives, with most of a batch in runs of pairs from one file (hard
  negatives: `hard_negatives` pairs per run; graphmer/model/retrieval_batches.py);
- optionally a memory of the last `memory` code embeddings (extra negatives for the
  queries, no encoder cost);
- optionally cached gradients (`grad_cache` = sub-batch size, GradCache): the loss over
  the whole batch is exact while the encoder sees one sub-batch at a time, so a batch of
  256 fits a laptop's memory. Dropout is replayed, so the gradients are those of the
  plain large batch.
Checkpoints (model, pooler, optimizer, memory, RNG; no pickle) every `checkpoint_every`
steps make `resume=True` continue exactly where the run stopped: the same batches, the
same dropout, the same weights as an uninterrupted run.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO

import torch
from safetensors.torch import save as st_save

from graphmer.model.checkpoint import load_model, save_model
from graphmer.model.config import PRESETS
from graphmer.model.corpus_build import MANIFEST_FILE
from graphmer.model.encoder import GraphMER, load_minilm_weights, warm_started_names
from graphmer.model.onnx_export import export_onnx
from graphmer.model.retrieval import POOLER_FILE, RETRIEVAL_FILE, Pooler, RetrievalSpec, embed, graph_batch, keep_layers, query_batch
from graphmer.model.retrieval_batches import Memory, epoch_order
from graphmer.model.retrieval_pairs import Pair, corpus_pairs, folder_pairs
from graphmer.model.retrieval_step import step_loss
from graphmer.model.run_log import CORPUS_MANIFEST
from graphmer.model.runstate import RunStateError, list_checkpoints, load_checkpoint, save_checkpoint, truncate_metrics
from graphmer.model.tokenizer import Tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalConfig:
    init: str = "minilm"  # "minilm" (all-MiniLM-L6-v2, graph parts fresh) or a model folder / run folder
    layers: int = 0  # keep this many encoder layers, evenly spaced (0: all)
    roots: int = 128  # R: code tokens per symbol
    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-5  # loaded encoder weights
    new_lr: float = 1e-3  # H-GAT, relations, slots, decay mask, pooler
    warmup: float = 0.05  # share of steps
    temperature: float = 0.05
    max_query_tokens: int = 64
    leaves: bool = True  # False: the no-graph ablation, trained and used without leaves
    valid_fraction: float = 0.05
    max_valid: int = 0  # cap on held-out pairs (a fixed sample; 0: all)
    seed: int = 0
    threads: int = 0
    max_pairs: int = 0  # cap on training pairs (0: all), for quick runs
    exclude: tuple[str, ...] = ()
    model_id: str = "graphmer"
    corpus: str = ""  # a built corpus folder (graphmer corpus build); else the PATHS given
    hard_negatives: int = 4  # pairs of one file kept together in a batch (1: plain shuffle)
    memory: int = 0  # code embeddings of earlier batches added as negatives (0: none)
    grad_cache: int = 0  # sub-batch size of cached-gradient steps (0: the whole batch at once)
    eval_every: int = 0  # steps between held-out evaluations (0: after each epoch only)
    checkpoint_every: int = 200
    keep_checkpoints: int = 2


def build_model(rcfg: RetrievalConfig):
    """(encoder, tokenizer) to fine-tune: MiniLM warm start or a trained model folder, R and layers set."""
    if rcfg.init == "minilm":
        model = GraphMER(replace(PRESETS["minilm-ws"], roots=rcfg.roots))
        load_minilm_weights(model)
        tok = Tokenizer.minilm()
    else:
        p = Path(rcfg.init)
        model, tok = load_model(p / "model" if (p / "model" / "config.json").exists() else p)
        if model.cfg.roots != rcfg.roots:
            if rcfg.roots > model.cfg.max_positions:
                raise ValueError(f"--roots {rcfg.roots} exceeds the model's {model.cfg.max_positions} positions")
            other = GraphMER(replace(model.cfg, roots=rcfg.roots))
            other.load_state_dict(model.state_dict())
            model = other
    if rcfg.layers and rcfg.layers != model.cfg.layers:
        model = keep_layers(model, rcfg.layers)
    return model, tok


@torch.no_grad()
def evaluate_pairs(model, pooler, pairs: list[Pair], tokenizer, cfg, rcfg: RetrievalConfig, k: int = 10) -> dict:
    """MRR@k and R@1 of each held-out query among all held-out functions."""
    model.eval()
    pooler.eval()
    if not pairs:
        return {"mrr@10": 0.0, "recall@1": 0.0, "pairs": 0}
    codes, queries = [], []
    for i in range(0, len(pairs), 64):
        chunk = pairs[i : i + 64]
        codes.append(embed(model, pooler, graph_batch([p.sample for p in chunk], cfg, rcfg.leaves)))
        queries.append(embed(model, pooler, query_batch([p.query for p in chunk], tokenizer, cfg, rcfg.max_query_tokens)))
    sims = torch.cat(queries) @ torch.cat(codes).T  # (Q, Q)
    true = sims.diagonal()[:, None]
    ranks = 1 + (sims > true).sum(1)
    rr = torch.where(ranks <= k, 1.0 / ranks.float(), torch.zeros_like(ranks, dtype=torch.float))
    # Per-query ranks and a hash of the queries let reports put intervals on MRR and pair two runs' results.
    qhash = hashlib.sha1("\n".join(p.query for p in pairs).encode()).hexdigest()
    return {"mrr@10": float(rr.mean()), "recall@1": float((ranks == 1).float().mean()), "pairs": len(pairs),
            "ranks": [int(r) for r in ranks], "queries_sha1": qhash}


def save_embedder(out: Path, model, pooler, tokenizer, rcfg: RetrievalConfig, half: bool = True) -> Path:
    """The model folder search uses: encoder (+ tokenizer), pooler and retrieval.json, atomically,
    then its ONNX export (model.onnx, what indexing and search run on without torch)."""
    spec = RetrievalSpec(model_id=rcfg.model_id, max_query_tokens=rcfg.max_query_tokens, leaves=rcfg.leaves)
    pool = {k: v.detach().cpu().contiguous() for k, v in pooler.state_dict().items()}
    folder = save_model(out, model, tokenizer, dtype=torch.float16 if half else None,
                        extra_files={POOLER_FILE: st_save(pool), RETRIEVAL_FILE: spec.to_json().encode()})
    export_onnx(folder)
    return folder


class _Trainee(torch.nn.Module):
    """What a checkpoint holds as weights: the encoder, the pooler and the memory's codes."""

    def __init__(self, model, pooler, memory_size: int):
        super().__init__()
        self.model, self.pooler = model, pooler
        self.register_buffer("memory_codes", torch.zeros((memory_size, pooler.proj.in_features)))


def _lr_factor(step: int, steps: int, warm: int) -> float:
    """Linear warm-up over `warm` steps, then linear decay to 0 at `steps`."""
    return min((step + 1) / warm, max(0.0, (steps - step) / max(1, steps - warm)))


def _append(f, rec: dict) -> None:
    f.write(json.dumps(rec) + "\n")


def _sample_pairs(pairs: list[Pair], cap: int, seed: int) -> list[Pair]:
    """A fixed sample of at most `cap` pairs (by a hash of each query and file), in their order."""
    if not cap or len(pairs) <= cap:
        return pairs
    key = lambda p: hashlib.sha1(f"{seed}:{p.group}:{p.query}".encode()).hexdigest()  # noqa: E731
    keep = set(map(id, sorted(pairs, key=key)[:cap]))
    return [p for p in pairs if id(p) in keep]


def _config_of(out: Path) -> RetrievalConfig:
    """The config a run folder was started with (summary.json), for --resume."""
    try:
        saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError):
        raise RunStateError(f"{out} has no readable summary.json: not a train-retrieval run to resume") from None
    saved["exclude"] = tuple(saved.get("exclude") or ())
    known = {k: v for k, v in saved.items() if k in RetrievalConfig.__dataclass_fields__}
    return RetrievalConfig(**known)


@dataclass
class _Run:
    """One train_retrieval run as its phases share it: the model and data, the optimizer, the
    metrics file, and the counters a checkpoint saves."""

    rcfg: RetrievalConfig
    out: Path
    model: object
    tok: object
    pooler: Pooler
    trainee: _Trainee
    opt: torch.optim.Optimizer
    memory: Memory
    train_p: list[Pair]
    valid_p: list[Pair]
    summary: dict
    on_event: Callable[[dict], None] | None
    steps: int  # optimiser steps of the whole run
    metrics: IO[str] | None = None
    step: int = 0
    skipped: int = 0  # batches with a non-finite loss
    spent: float = 0.0  # seconds in training steps (all sessions of the run)
    peaks: list[float] = field(default_factory=list)  # peak lr of the optimizer's groups

    def emit(self, event: dict) -> None:
        if self.on_event:
            self.on_event(event)

    def checkpoint(self, epoch: int, batch: int) -> None:
        """A checkpoint to resume at (epoch, batch), the memory's codes saved with the weights."""
        n = len(self.memory.queries)
        if n:
            self.trainee.memory_codes[self.rcfg.memory - n :] = self.memory.codes
        state = {"step": self.step, "epoch": epoch, "batch": batch, "skipped": self.skipped, "train_seconds": self.spent,
                 "torch_rng": torch.get_rng_state().tolist(), "memory_count": n, "memory_queries": self.memory.queries,
                 "before": self.summary.get("before")}
        path = save_checkpoint(self.out, self.step, self.trainee, self.opt, state, self.rcfg.keep_checkpoints)
        _append(self.metrics, {"kind": "checkpoint", "step": self.step, "path": path.name})
        self.metrics.flush()

    def evaluate(self, epoch: int) -> dict:
        """Held-out MRR@10 and R@1, recorded."""
        ev = evaluate_pairs(self.model, self.pooler, self.valid_p, self.tok, self.model.cfg, self.rcfg)
        _append(self.metrics, {"kind": "eval", "epoch": epoch, "step": self.step, **ev})
        self.metrics.flush()
        self.emit({"event": "eval", "epoch": epoch, **ev})
        return ev


def _run_folder(rcfg: RetrievalConfig, out: Path, corpus: list[str], resume: bool) -> tuple[RetrievalConfig, list[str]]:
    """(config, corpus) of the run in out: those it was started with on resume; checks the folder either way."""
    if resume:
        rcfg = _config_of(out)
        corpus = json.loads((out / "summary.json").read_text(encoding="utf-8")).get("corpus", [])
        if not list_checkpoints(out):
            raise RunStateError(f"{out} has no checkpoint to resume from; start it again without --resume")
    elif (out / "checkpoints").exists() and list_checkpoints(out):
        raise RunStateError(f"{out} already holds a run with checkpoints; continue it with --resume or choose another --out")
    return rcfg, corpus


def _pairs(rcfg: RetrievalConfig, corpus: list[str], out: Path, tok, cfg, on_event) -> tuple[list[Pair], list[Pair]]:
    """(training, held-out) pairs, each capped to its fixed sample."""
    if rcfg.corpus:
        # Indexes of the corpus's code folders live in the corpus (CORPUS/index/), shared by every run.
        train_p, valid_p = corpus_pairs(Path(rcfg.corpus), Path(rcfg.corpus) / "index", tok, cfg, rcfg.valid_fraction,
                                        rcfg.seed, on_event)
    else:
        train_p, valid_p = folder_pairs(corpus, out / "pairs", tok, cfg, rcfg.valid_fraction, rcfg.seed, rcfg.exclude)
    if not train_p:
        raise ValueError("no docstring/function pairs in the corpus: it needs functions with docstrings")
    return _sample_pairs(train_p, rcfg.max_pairs, rcfg.seed), _sample_pairs(valid_p, rcfg.max_valid, rcfg.seed)


def _new_run(rcfg: RetrievalConfig, out: Path, corpus: list[str], on_event) -> _Run:
    """The model, pairs, optimizer (loaded weights at lr, new ones at new_lr) and summary of a run, before its first step."""
    model, tok = build_model(rcfg)
    cfg = model.cfg
    train_p, valid_p = _pairs(rcfg, corpus, out, tok, cfg, on_event)
    pooler = Pooler(cfg.hidden)
    trainee = _Trainee(model, pooler, rcfg.memory)
    loaded = warm_started_names(model)
    old = [p for n, p in model.named_parameters() if n in loaded]
    new = [p for n, p in model.named_parameters() if n not in loaded] + list(pooler.parameters())
    opt = torch.optim.AdamW([{"params": old, "lr": rcfg.lr}, {"params": new, "lr": rcfg.new_lr}], weight_decay=0.01)
    steps = len(train_p) // rcfg.batch_size * rcfg.epochs
    pairs_sha1 = hashlib.sha1("\n".join(f"{p.group}\t{p.query}\t{p.sample.ids}" for p in train_p).encode()).hexdigest()
    summary = {"pairs_train": len(train_p), "pairs_valid": len(valid_p), "steps": steps, "config": asdict(rcfg),
               "pairs_sha1": pairs_sha1,
               "corpus": [str(Path(p).resolve()) for p in corpus] if not rcfg.corpus else [str(Path(rcfg.corpus).resolve())]}
    return _Run(rcfg, out, model, tok, pooler, trainee, opt, Memory(rcfg.memory, cfg.hidden), train_p, valid_p, summary,
                on_event, steps, peaks=[rcfg.lr, rcfg.new_lr])


def _resume(run: _Run) -> tuple[int, int]:
    """Load the newest checkpoint into the run (weights, optimizer, memory, RNG, counters): the (epoch, batch) to go on at."""
    out, rcfg = run.out, run.rcfg
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8")).get("pairs_sha1")
    if saved and saved != run.summary["pairs_sha1"]:
        raise RunStateError(f"the training pairs of {out} changed since the run started (its corpus was rebuilt or "
                            "edited): an exact resume is impossible; start a new run")
    ck = list_checkpoints(out)[-1]
    state = load_checkpoint(ck, run.trainee, run.opt)
    run.step, run.skipped = state["step"], state["skipped"]
    run.spent = state.get("train_seconds", 0.0)
    torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
    n = state.get("memory_count", 0)
    codes = run.trainee.memory_codes
    run.memory.load(codes[rcfg.memory - n :] if n else codes[:0], state.get("memory_queries", []))
    run.summary["before"] = state.get("before")
    truncate_metrics(out / "metrics.jsonl", run.step, kinds=("step", "eval", "checkpoint"))
    run.metrics = (out / "metrics.jsonl").open("a", encoding="utf-8")
    _append(run.metrics, {"kind": "resume", "step": run.step, "time": time.time(), "checkpoint": ck.name})
    run.emit({"event": "resume", "step": run.step, "steps": run.steps})
    return state["epoch"], state["batch"]


def _start(run: _Run) -> None:
    """A fresh run: summary.json marked running, the corpus manifest copied, the held-out scores before training."""
    run.metrics = (run.out / "metrics.jsonl").open("w", encoding="utf-8")
    if run.rcfg.corpus:  # the card lists it: packages, versions, licences, pairs
        shutil.copyfile(Path(run.rcfg.corpus) / MANIFEST_FILE, run.out / CORPUS_MANIFEST)
    (run.out / "summary.json").write_text(json.dumps(run.summary | {"status": "running"}, indent=2) + "\n")
    _append(run.metrics, {"kind": "start", "step": 0, "time": time.time()})
    first = evaluate_pairs(run.model, run.pooler, run.valid_p, run.tok, run.model.cfg, run.rcfg)
    run.summary["before"] = first
    _append(run.metrics, {"kind": "eval", "epoch": 0, "step": 0, **first})
    run.emit({"event": "eval", "epoch": 0, **first})


def _train_batch(run: _Run, chunk: list[Pair], epoch: int, warm: int, params: list, rate_from: tuple[int, float]) -> bool:
    """One step on a batch of pairs, recorded; False (nothing changed but the skip count) when its loss is not finite."""
    for g, peak in zip(run.opt.param_groups, run.peaks):
        g["lr"] = peak * _lr_factor(run.step, run.steps, warm)
    run.opt.zero_grad(set_to_none=True)
    t_step = time.perf_counter()
    loss, codes = step_loss(run.model, run.pooler, chunk, run.tok, run.model.cfg, run.rcfg, run.memory)
    if not math.isfinite(float(loss)):
        log.warning("step %d: non-finite loss skipped", run.step)
        run.skipped += 1
        return False
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    run.opt.step()
    run.memory.push(codes, [p.query for p in chunk])
    run.step += 1
    run.spent += time.perf_counter() - t_step
    start_step, started = rate_from
    rate = (run.step - start_step) / max(1e-9, time.perf_counter() - started)
    rec = {"kind": "step", "step": run.step, "epoch": epoch, "loss": round(float(loss), 5), "lr": run.opt.param_groups[0]["lr"],
           "skipped_total": run.skipped, "time": time.time(), "pairs_per_s": round(rate * len(chunk), 2)}
    _append(run.metrics, rec)
    if run.step % 20 == 0:
        run.metrics.flush()
    run.emit({"event": "step", "steps": run.steps, "eta_s": (run.steps - run.step) / rate if rate else None, **rec})
    return True


def _epochs(run: _Run, epoch0: int, batch0: int, t0: float, max_minutes: float, stop_at_step: int) -> bool:
    """Train from (epoch0, batch0) to the end, evaluating and checkpointing; False when stopped early (checkpoint saved)."""
    rcfg = run.rcfg
    per_epoch = len(run.train_p) // rcfg.batch_size
    warm = max(1, int(rcfg.warmup * run.steps))
    groups = [p.group for p in run.train_p]
    rate_from = (run.step, time.perf_counter())
    params = list(run.trainee.parameters())
    for epoch in range(epoch0, rcfg.epochs + 1):
        order = epoch_order(groups, epoch, rcfg.seed, rcfg.hard_negatives)
        run.model.train()
        run.pooler.train()
        for b in range(batch0 if epoch == epoch0 else 0, per_epoch):
            chunk = [run.train_p[i] for i in order[b * rcfg.batch_size : (b + 1) * rcfg.batch_size]]
            if not _train_batch(run, chunk, epoch, warm, params, rate_from):
                continue
            last_of_epoch = b == per_epoch - 1
            if rcfg.eval_every and run.step % rcfg.eval_every == 0 and not last_of_epoch:
                run.evaluate(epoch)
                run.model.train()
                run.pooler.train()
            nb, ne = (0, epoch + 1) if last_of_epoch else (b + 1, epoch)
            over = max_minutes and time.perf_counter() - t0 > max_minutes * 60
            if (stop_at_step and run.step >= stop_at_step) or over:
                if last_of_epoch:
                    run.summary[f"epoch{epoch}"] = run.evaluate(epoch)
                run.checkpoint(ne, nb)
                return False
            if rcfg.checkpoint_every and run.step % rcfg.checkpoint_every == 0:
                run.checkpoint(ne, nb)
        run.summary[f"epoch{epoch}"] = run.evaluate(epoch)
    return True


def train_retrieval(rcfg: RetrievalConfig, out_dir: str | Path, corpus: list[str], on_event=None,
                    resume: bool = False, max_minutes: float = 0.0, stop_at_step: int = 0) -> dict:
    """Fine-tune for retrieval; writes out_dir/{pairs/, checkpoints/, metrics.jsonl, summary.json, model/}.

    resume: continue from the run's newest checkpoint, with the config it was started with
    (rcfg and corpus are then ignored). max_minutes / stop_at_step: stop early with a
    checkpoint (summary["stopped"] is True), to be continued with resume=True.
    """
    out = Path(out_dir)
    rcfg, corpus = _run_folder(rcfg, out, corpus, resume)
    out.mkdir(parents=True, exist_ok=True)
    if rcfg.threads:
        torch.set_num_threads(rcfg.threads)
    torch.manual_seed(rcfg.seed)
    t0 = time.perf_counter()
    run = _new_run(rcfg, out, corpus, on_event)
    if resume:
        epoch0, batch0 = _resume(run)
    else:
        _start(run)
        epoch0, batch0 = 1, 0
    run.metrics.flush()
    finished = _epochs(run, epoch0, batch0, t0, max_minutes, stop_at_step)
    run.metrics.close()
    summary = run.summary
    if not finished:
        summary["stopped"] = True
        summary["step"] = run.step
        return summary
    save_embedder(out / "model", run.model, run.pooler, run.tok, rcfg)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["train_seconds"] = round(run.spent, 1)
    (out / "summary.json").write_text(json.dumps(summary | {"status": "done"}, indent=2) + "\n")
    return summary
