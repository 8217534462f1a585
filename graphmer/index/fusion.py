"""Fusing ranked lists (lexical, dense) into one ranking, plus a graph-neighbour signal.

Pure functions over symbol ids; every knob is in HybridConfig, chosen by measurement
(`graphmer bench fusion`, see HybridConfig).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FUSIONS = ("rrf", "score")
Ranked = Sequence[tuple[int, float]]  # (symbol id, score), best first


@dataclass(frozen=True, slots=True)
class HybridConfig:
    # Defaults chosen with `graphmer bench fusion` on jinja2, flask, attr and packaging (not
    # the reported packages) with the default model, mean MRR@10 over the four: lexical
    # alone 0.510, dense alone 0.596; score fusion with w_dense 2.0 and w_graph 0.05: 0.634
    # (w_dense 3.0: 0.634, 1.0: 0.621, 0.5: 0.590, 4.0: 0.630; w_graph 0: 0.633, 0.2: 0.627);
    # RRF at best 0.608. The neighbour boost's +0.001 is within noise.
    # Chosen again for the corpus-trained default model on the same packages in both modes
    # (`bench fusion`, and `bench fusion --keep-other-docs` where only the queried functions
    # lose their docstrings): w_dense 4.0 has the best mean of the two, 0.615 (stripped 0.648,
    # realistic 0.582), against 0.608 for w_dense 2.0 (0.652, 0.563) and 0.612 for 3.0; w_graph
    # 0.05 beats 0 and 0.2 at w_dense 4.0 in both modes.
    fusion: str = "score"  # "rrf": weighted reciprocal-rank fusion; "score": weighted sum of min-max normalised scores
    rrf_k: int = 60  # RRF's k (Cormack et al., SIGIR 2009): larger flattens the gap between ranks
    w_lexical: float = 1.0  # weight of the FTS5/BM25 list
    w_dense: float = 4.0  # weight of the FAISS list
    candidates: int = 100  # hits taken from each list before fusing (at least top_k)
    w_graph: float = 0.05  # boost = w_graph * fused score of the best graph neighbour among the candidates; 0 = off
    graph_relations: tuple[str, ...] = ("calls", "contains")  # edges (either direction) that make neighbours

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, not {self.fusion!r}")
        if self.rrf_k < 0 or self.candidates < 1 or min(self.w_lexical, self.w_dense, self.w_graph) < 0:
            raise ValueError(f"HybridConfig needs rrf_k >= 0, candidates >= 1 and weights >= 0: {self}")


def normalised(ranked: Ranked) -> dict[int, float]:
    """Min-max scores into [0, 1] (all 1.0 when they are equal).

    normalised([(7, 4.0), (8, 3.0), (9, 2.0)]) -> {7: 1.0, 8: 0.5, 9: 0.0}
    """
    if not ranked:
        return {}
    hi = max(s for _, s in ranked)
    lo = min(s for _, s in ranked)
    span = hi - lo
    return {i: (s - lo) / span if span > 0 else 1.0 for i, s in ranked}


def fuse(lists: Mapping[str, Ranked], weights: Mapping[str, float], fusion: str = "rrf", rrf_k: int = 60) -> dict[int, float]:
    """One fused score per symbol id found in any list (a list that misses an id adds 0).

    rrf:   sum over lists of weight / (rrf_k + rank), rank 1-based.
    score: sum over lists of weight * min-max normalised score.
    fuse({"lexical": [(1, 9.0), (2, 3.0)], "dense": [(2, 0.8)]}, {"lexical": 1, "dense": 1}, "rrf", 60)
        -> {1: 1/61, 2: 1/62 + 1/61}
    """
    out: dict[int, float] = {}
    for name, ranked in lists.items():
        w = weights.get(name, 1.0)
        if fusion == "rrf":
            part = {i: 1.0 / (rrf_k + r) for r, (i, _) in enumerate(ranked, 1)}
        elif fusion == "score":
            part = normalised(ranked)
        else:
            raise ValueError(f"fusion must be one of {FUSIONS}, not {fusion!r}")
        for i, s in part.items():
            out[i] = out.get(i, 0.0) + w * s
    return out


def graph_boost(fused: Mapping[int, float], neighbours: Mapping[int, set[int]], w_graph: float) -> dict[int, tuple[float, int]]:
    """For each fused id with a fused neighbour: (w_graph * that neighbour's fused score, its id),
    taking the best neighbour. The max, not the sum, so that hubs are not favoured.

    graph_boost({1: 0.5, 2: 0.2, 3: 0.1}, {1: {2}, 2: {1, 3}, 3: {9}}, 0.1) -> {1: (0.02, 2), 2: (0.05, 1)}
    """
    out: dict[int, tuple[float, int]] = {}
    if w_graph <= 0:
        return out
    for i in fused:
        best = max((n for n in neighbours.get(i, ()) if n in fused and n != i), key=lambda n: (fused[n], -n), default=None)
        if best is not None:
            out[i] = (w_graph * fused[best], best)
    return out
