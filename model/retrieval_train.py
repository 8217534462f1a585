"""The contrastive stage (spec §8.7): docstring sentence ↔ docstring-free code, InfoNCE.

Pairs come from corpus folders: each file is copied with its docstrings removed (lines
kept), the copy is indexed, and every function whose docstring opens with a sentence of
three or more words gives one pair (that sentence, the function's leafy chain graph in
the copy). Files are split into training and held-out sets by a hash of their path; the
held-out pairs measure MRR@10 (query -> its function among all held-out functions) after
each epoch. In-batch negatives, τ = 0.05, symmetric loss.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pathspec
import torch
import torch.nn.functional as F

from model.retrieval import POOLER_FILE, RETRIEVAL_FILE, Pooler, RetrievalSpec, embed, graph_batch, keep_layers, query_batch

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
    max_query_tokens: int = 48
    leaves: bool = True  # False: the no-graph ablation, trained and used without leaves
    valid_fraction: float = 0.05
    seed: int = 0
    threads: int = 0
    max_pairs: int = 0  # cap on training pairs (0: all), for quick runs
    exclude: tuple[str, ...] = ()
    model_id: str = "graphmer"


@dataclass
class Pair:
    query: str
    sample: object  # model.kg_samples.Sample (the first window of the function)


def make_pairs(corpus: list[str], work: Path, tokenizer, cfg, rcfg: RetrievalConfig) -> tuple[list[Pair], list[Pair]]:
    """(train pairs, held-out pairs) from docstring-stripped copies of the corpus folders."""
    from index.bench_search import prepare_copy
    from index.indexer import IndexConfig, build_index
    from index.store import Store
    from index.walk import WalkConfig
    from model.kg_samples import extract_corpus

    excluded = pathspec.GitIgnoreSpec.from_lines(rcfg.exclude)  # as `graphmer train --exclude` reads them
    train, valid = [], []
    for i, path in enumerate(corpus):
        dest = work / f"{i}-{Path(path).resolve().name}"
        shutil.rmtree(dest, ignore_errors=True)
        targets = prepare_copy(Path(path), dest, skip=excluded.match_file).targets
        idx = dest.parent / f"{dest.name}.graphmer"
        build_index(dest, IndexConfig(walk=WalkConfig(languages=("python",)), index_dir=str(idx)))
        store = Store(idx)
        try:
            corpus_s = extract_corpus(store, tokenizer, cfg, valid_fraction=rcfg.valid_fraction, seed=rcfg.seed, max_windows=1)
            where = {r[0]: (r[1], r[2]) for r in store.conn.execute(
                "SELECT s.id, f.path, s.start_line FROM symbols s JOIN files f ON f.id = s.file_id")}
        finally:
            store.close()
        by_def = {where[s.symbol_id]: s for s in corpus_s.train + corpus_s.valid}
        held = {where[s.symbol_id] for s in corpus_s.valid}
        for t in targets:
            s = by_def.get((t.path, t.def_line))
            if s is not None:
                (valid if (t.path, t.def_line) in held else train).append(Pair(t.query, s))
    return train, valid


def build_model(rcfg: RetrievalConfig):
    """(encoder, tokenizer) to fine-tune: MiniLM warm start or a trained model folder, R and layers set."""
    from model.checkpoint import load_model
    from model.config import PRESETS
    from model.encoder import GraphMER, load_minilm_weights
    from model.tokenizer import Tokenizer

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
    """The model folder search uses: encoder (+ tokenizer), pooler and retrieval.json, atomically."""
    from safetensors.torch import save as st_save

    from model.checkpoint import save_model

    spec = RetrievalSpec(model_id=rcfg.model_id, max_query_tokens=rcfg.max_query_tokens, leaves=rcfg.leaves)
    pool = {k: v.detach().cpu().contiguous() for k, v in pooler.state_dict().items()}
    return save_model(out, model, tokenizer, dtype=torch.float16 if half else None,
                      extra_files={POOLER_FILE: st_save(pool), RETRIEVAL_FILE: spec.to_json().encode()})


def train_retrieval(rcfg: RetrievalConfig, out_dir: str | Path, corpus: list[str], on_event=None) -> dict:
    """Fine-tune for retrieval; writes out_dir/{pairs/, metrics.jsonl, model/}; returns a summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if rcfg.threads:
        torch.set_num_threads(rcfg.threads)
    torch.manual_seed(rcfg.seed)
    t0 = time.perf_counter()
    model, tok = build_model(rcfg)
    cfg = model.cfg
    train_p, valid_p = make_pairs(corpus, out / "pairs", tok, cfg, rcfg)
    if not train_p:
        raise ValueError("no docstring/function pairs in the corpus: it needs functions with docstrings")
    rng = np.random.default_rng(rcfg.seed)
    if rcfg.max_pairs and len(train_p) > rcfg.max_pairs:
        train_p = [train_p[i] for i in sorted(rng.choice(len(train_p), rcfg.max_pairs, replace=False))]
    pooler = Pooler(cfg.hidden)
    from model.encoder import warm_started_names

    loaded = warm_started_names(model)
    old = [p for n, p in model.named_parameters() if n in loaded]
    new = [p for n, p in model.named_parameters() if n not in loaded] + list(pooler.parameters())
    opt = torch.optim.AdamW([{"params": old, "lr": rcfg.lr}, {"params": new, "lr": rcfg.new_lr}], weight_decay=0.01)
    per_epoch = len(train_p) // rcfg.batch_size
    steps = per_epoch * rcfg.epochs
    warm = max(1, int(rcfg.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    metrics = (out / "metrics.jsonl").open("w")
    summary = {"pairs_train": len(train_p), "pairs_valid": len(valid_p), "steps": steps, "config": asdict(rcfg),
               "corpus": [str(Path(p).resolve()) for p in corpus]}
    first = evaluate_pairs(model, pooler, valid_p, tok, cfg, rcfg)
    metrics.write(json.dumps({"epoch": 0, "step": 0, **first}) + "\n")
    if on_event:
        on_event({"event": "eval", "epoch": 0, **first})
    step, skipped = 0, 0
    labels = torch.arange(rcfg.batch_size)
    for epoch in range(1, rcfg.epochs + 1):
        order = rng.permutation(len(train_p))
        model.train()
        pooler.train()
        for b in range(per_epoch):
            chunk = [train_p[i] for i in order[b * rcfg.batch_size : (b + 1) * rcfg.batch_size]]
            q = embed(model, pooler, query_batch([p.query for p in chunk], tok, cfg, rcfg.max_query_tokens))
            c = embed(model, pooler, graph_batch([p.sample for p in chunk], cfg, rcfg.leaves))
            logits = q @ c.T / rcfg.temperature
            same = torch.tensor([[a.query == o.query for o in chunk] for a in chunk])  # duplicate docstrings
            logits = logits.masked_fill(same & ~torch.eye(len(chunk), dtype=torch.bool), -1e4)
            loss = (F.cross_entropy(logits, labels[: len(chunk)]) + F.cross_entropy(logits.T, labels[: len(chunk)])) / 2
            opt.zero_grad(set_to_none=True)
            if not math.isfinite(float(loss.detach())):
                log.warning("step %d: non-finite loss skipped", step)
                skipped += 1
                continue
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            rec = {"step": step, "epoch": epoch, "loss": round(float(loss.detach()), 5), "lr": sched.get_last_lr()[0],
                   "skipped_total": skipped}
            metrics.write(json.dumps(rec) + "\n")
            if step % 20 == 0:
                metrics.flush()
            if on_event:
                on_event({"event": "step", "steps": steps, **rec})
        ev = evaluate_pairs(model, pooler, valid_p, tok, cfg, rcfg)
        metrics.write(json.dumps({"epoch": epoch, "step": step, **ev}) + "\n")
        metrics.flush()
        if on_event:
            on_event({"event": "eval", "epoch": epoch, **ev})
        summary[f"epoch{epoch}"] = ev
    metrics.close()
    save_embedder(out / "model", model, pooler, tok, rcfg)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["before"] = first
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
