"""Held-out evaluation of a trained run: MLM/MNM accuracy and link prediction.

Link prediction (docs/model.md §8.8–8.9): for a held-out (head, relation) whose true tail is known,
the model scores every candidate tail by the mean log-probability of its tokens in the
head's masked leaf slots; one forward pass per candidate length. The candidates are the
relation's range: every tail the relation has anywhere in the corpus (training and
held-out files), so the true tail is never the one candidate that stands out by coming
from elsewhere (with candidates = "training tails + the true one", a held-out tail that
training never saw is the odd one out, and a name-matching baseline finds it for free).
Reported next to two baselines scored on the same queries and candidates: the most
frequent tail of the relation in training, and the tail sharing the most sub-tokens with
the head (training frequency breaking ties).
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from graphmer.index.text import split_identifier
from graphmer.model.batch import Batch
from graphmer.model.checkpoint import load_model
from graphmer.model.config import RELATIONS
from graphmer.model.distributed import DistContext
from graphmer.model.kg_samples import tail_tables
from graphmer.model.leafy import link_query
from graphmer.model.train import TrainConfig, evaluate
from graphmer.model.train_data import load_train_data


@dataclass(frozen=True)
class LinkQuery:
    sample: object  # graphmer.model.leafy.Sample
    head: object  # graphmer.model.leafy.Head
    relation: int
    tail: tuple[int, ...]


def _cat(batches: list[Batch]) -> Batch:
    return Batch(**{f.name: torch.cat([getattr(b, f.name) for b in batches]) for f in fields(Batch)})


def link_queries(valid, train_tails: dict[int, Counter], max_queries: int, seed: int) -> list[LinkQuery]:
    """Held-out triples whose relation has candidates in training, sampled without replacement."""
    qs = [LinkQuery(s, h, r, tuple(t)) for s in valid for h in s.heads for r, t in h.triples if len(train_tails.get(r, ())) >= 2]
    if len(qs) > max_queries:
        pick = np.random.default_rng([seed, 31337]).choice(len(qs), size=max_queries, replace=False)
        qs = [qs[int(i)] for i in sorted(pick)]
    return qs


def _ranks(scores: dict[tuple, float], true: tuple) -> float:
    """1-based rank of `true`; ties count half (the expected rank under random tie-breaking)."""
    t = scores[true]
    greater = sum(1 for v in scores.values() if v > t)
    equal = sum(1 for v in scores.values() if v == t) - 1
    return 1 + greater + equal / 2


def _metrics(ranks: list[float]) -> dict:
    r = np.asarray(ranks, dtype=float)
    if r.size == 0:
        return {"mrr": 0.0, "hits@1": 0.0, "hits@10": 0.0, "queries": 0}
    return {"mrr": float(np.mean(1 / r)), "hits@1": float(np.mean(r <= 1)), "hits@10": float(np.mean(r <= 10)), "queries": int(r.size)}


def _words(tokenizer, ids) -> set[str]:
    return set(split_identifier(tokenizer.decode(list(ids))))


@torch.no_grad()
def model_scores(model, enc, q: LinkQuery, candidates: list[tuple], layout: str, device) -> dict[tuple, float]:
    """Mean log-probability of each candidate's tokens in the head's masked leaf slots."""
    by_len: dict[int, list[tuple]] = defaultdict(list)
    for c in candidates:
        by_len[len(c)].append(c)
    out = {}
    for n, cands in by_len.items():
        batch, slots = link_query(q.sample, q.head, q.relation, n, enc, layout=layout)
        batch = batch.to(device)
        hidden, _ = model(batch)
        mask = torch.zeros(batch.input_ids.shape, dtype=torch.bool, device=device)
        mask[0, slots.to(device)] = True
        lp = model.node_log_probs(hidden, mask)  # (n, V), slots in node order
        order = torch.argsort(slots)
        lp = lp[torch.argsort(order)]  # back to slot order 1..n
        ids = torch.tensor(cands, device=device)  # (C, n)
        s = lp.gather(1, ids.T).mean(0)  # (C,)
        out.update({c: float(v) for c, v in zip(cands, s.tolist())})
    return out


def candidate_pools(train, valid, max_candidates: int = 0) -> dict[int, list[tuple]]:
    """Each relation's range: its distinct tails over training and held-out samples, most
    frequent first (all of them, or the `max_candidates` most frequent when that is > 0)."""
    pool = tail_tables(list(train) + list(valid))
    return {r: [t for t, _ in c.most_common(max_candidates or None)] for r, c in pool.items()}


def link_prediction(models: dict, enc, tokenizer, train, valid, *, max_queries: int = 500, max_candidates: int = 0,
                    seed: int = 0, layout: str = "compact", device="cpu") -> dict:
    """MRR / Hits@1 / Hits@10 of each model and both baselines on the same held-out queries."""
    tails = tail_tables(train)
    pools = candidate_pools(train, valid, max_candidates)
    queries = link_queries(valid, tails, max_queries, seed)
    for m in models.values():
        m.eval()
    words: dict[tuple, set[str]] = {}
    ranks: dict[str, list[float]] = {name: [] for name in models} | {"most_frequent": [], "subtoken_overlap": []}
    per_rel: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    sizes = []
    for q in queries:
        cands = list(pools[q.relation])
        if q.tail not in cands:  # only when max_candidates cut it off
            cands.append(q.tail)
        sizes.append(len(cands))
        freq = {c: float(tails[q.relation].get(c, 0)) for c in cands}
        top = max(freq.values()) + 1
        head_words = _words(tokenizer, q.sample.ids[q.head.pos : q.head.pos + q.head.length])
        for c in cands:
            if c not in words:
                words[c] = _words(tokenizer, c)
        overlap = {c: len(head_words & words[c]) + freq[c] / top for c in cands}
        scored = {name: model_scores(m, enc, q, cands, layout, device) for name, m in models.items()}
        scored |= {"most_frequent": freq, "subtoken_overlap": overlap}
        for name, sc in scored.items():
            r = _ranks(sc, q.tail)
            ranks[name].append(r)
            per_rel[RELATIONS[q.relation]][name].append(r)
    return {
        "systems": {name: _metrics(r) for name, r in ranks.items()},
        "per_relation": {rel: {n: _metrics(r) for n, r in d.items()} for rel, d in sorted(per_rel.items())},
        "max_candidates": max_candidates,
        "candidates": {"median": float(np.median(sizes)) if sizes else 0.0, "min": min(sizes, default=0), "max": max(sizes, default=0)},
        "ranks": ranks,
    }


def load_run(run_dir: str | Path):
    """The trained model and tokenizer of a run folder, and its saved config."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a graphmer run folder (no config.json)")
    run_cfg = json.loads(cfg_path.read_text())
    model, tokenizer = load_model(run_dir / "model")
    return model, tokenizer, run_cfg


def evaluate_run(run_dir: str | Path, ablations: dict[str, str] | None = None, *, max_queries: int = 500,
                 max_candidates: int = 0, device: str = "cpu") -> dict:
    """Held-out accuracies of a run, and link prediction beside the baselines and any
    ablation runs (trained on the same corpus with the same tokenizer)."""
    run_dir = Path(run_dir)
    model, tokenizer, run_cfg = load_run(run_dir)
    train_opts = {k: tuple(v) if isinstance(v, list) else v for k, v in run_cfg["train"].items()}
    cfg = TrainConfig(**train_opts)
    src = run_cfg["data"]
    data = load_train_data(cfg, run_dir, src.get("corpus_paths") or src.get("corpus"), src.get("index_dir"), DistContext())
    dev = torch.device(device)
    model.to(dev)
    held_out = evaluate(model, data, cfg, dev)
    models = {"model": model}
    for name, path in (ablations or {}).items():
        other, other_tok, _ = load_run(path)
        if other_tok.sha256() != tokenizer.sha256():
            raise ValueError(f"{path} uses another tokenizer than {run_dir}: compare runs trained on the same corpus and seed")
        models[name] = other.to(dev)
    links = link_prediction(models, model.cfg, tokenizer, data.train, data.valid, max_queries=max_queries,
                            max_candidates=max_candidates, seed=cfg.seed, layout=cfg.layout, device=dev)
    return {"run": str(run_dir), "held_out": held_out, "link_prediction": links, "data": data.summary}
