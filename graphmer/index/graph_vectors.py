"""Two ways for the code graph to shape dense scores, beyond the model's leaves.

- propagation (index time): a symbol's vector becomes normalize(v + Σ_r w_r · mean of its
  r-neighbours' vectors), so a function inherits some of what its class, callers or
  callees are about;
- rerank (query time): each hit of the first page gains Σ_r w_r · max over its
  r-neighbours of cos(query, neighbour).

Relations are seen from the symbol: callees and callers (calls), container and members
(contains), overrides and overridden_by (overrides). numpy only; the weights are fitted on
training pairs (graphmer/model/graph_fit.py, `graphmer fit-graph`) and measured against the plain
vectors by `graphmer bench graph`.

A model folder that carries GRAPH_FILE ships propagation: its weights are recorded in the
index (Store.set_propagation) and vectors.faiss holds the propagated vectors, recomputed
from the store's own vectors and edges whenever either changes (graphmer/index/vectors.py).
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

GRAPH_FILE = "graph_vectors.json"  # in a model folder: {"variant": "propagate", "weights": {relation: w}, ...}

RELATIONS = {  # name -> (edge relation, direction)
    "callees": ("calls", "out"),
    "callers": ("calls", "in"),
    "container": ("contains", "in"),
    "members": ("contains", "out"),
    "overrides": ("overrides", "out"),
    "overridden_by": ("overrides", "in"),
}


EDGE_RELATIONS = tuple(sorted({r for r, _ in RELATIONS.values()}))


class GraphFileError(ValueError):
    """A model folder's GRAPH_FILE cannot be used."""


def read_propagation(model_dir: str | Path) -> dict[str, float]:
    """The propagation weights a model folder ships ({} when it has no GRAPH_FILE).

    Raises GraphFileError (one line, what to do) for a file that is not JSON, not the
    propagation variant, or names an unknown relation or a weight outside [0, 10].
    """
    path = Path(model_dir) / GRAPH_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("variant") != "propagate":
            raise ValueError(f"variant {data.get('variant')!r}, expected 'propagate'")
        weights = {str(k): float(v) for k, v in data["weights"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise GraphFileError(f"{path} cannot be read ({e}); delete it or fit it again with `graphmer fit-graph`") from None
    bad = sorted(k for k, v in weights.items() if k not in RELATIONS or not 0 <= v <= 10)
    if bad:
        raise GraphFileError(f"{path} has unknown relations or weights out of range ({', '.join(bad)}); "
                             "fit it again with `graphmer fit-graph`")
    return {k: v for k, v in sorted(weights.items()) if v}


def propagated(ids: np.ndarray, vecs: np.ndarray, edges: Sequence[tuple[int, int, str]],
               weights: Mapping[str, float]) -> np.ndarray:
    """The stored vectors of the propagation variant for the rows `ids` (vecs itself when no weight is set)."""
    if not any(weights.values()) or not len(ids):
        return vecs
    return propagate(vecs, neighbour_means(vecs, neighbour_lists(ids, edges)), weights)


def neighbour_lists(ids: np.ndarray, edges: Sequence[tuple[int, int, str]]) -> dict[str, list[list[int]]]:
    """For each relation name, the positions (in `ids`) of each row's neighbours that have vectors.

    >>> neighbour_lists(np.array([10, 11, 12]), [(10, 11, "calls"), (12, 10, "contains")])["callers"]
    [[], [0], []]
    """
    pos = {int(i): k for k, i in enumerate(ids)}
    out = {name: [[] for _ in ids] for name in RELATIONS}
    for src, dst, rel in edges:
        a, b = pos.get(src), pos.get(dst)
        if a is None or b is None or a == b:
            continue
        for name, (r, direction) in RELATIONS.items():
            if r == rel:
                out[name][a if direction == "out" else b].append(b if direction == "out" else a)
    return out


def _normalize(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def neighbour_means(vecs: np.ndarray, lists: Mapping[str, list[list[int]]]) -> dict[str, np.ndarray]:
    """Per relation, each row's mean neighbour vector (zeros where it has none)."""
    out = {}
    for name, rows in lists.items():
        m = np.zeros_like(vecs)
        for i, nb in enumerate(rows):
            if nb:
                m[i] = vecs[nb].mean(0)
        out[name] = m
    return out


def propagate(vecs: np.ndarray, means: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """normalize(v + Σ_r w_r · mean_r): the stored vectors of the propagation variant."""
    out = vecs.astype(np.float32, copy=True)
    for name, w in weights.items():
        if w:
            out += w * means[name]
    return _normalize(out)


def rerank(scores: np.ndarray, lists: Mapping[str, list[list[int]]], weights: Mapping[str, float],
           page: int = 30, eligible: np.ndarray | None = None) -> np.ndarray:
    """Query x symbol cosines with the first `page` eligible hits of each query re-scored by their neighbours."""
    out = scores.copy()
    masked = scores if eligible is None else np.where(eligible[None, :], scores, -np.inf)
    top = np.argsort(-masked, axis=1)[:, :page]
    active = [(name, w) for name, w in weights.items() if w]
    for q in range(scores.shape[0]):
        for j in top[q]:
            bonus = 0.0
            for name, w in active:
                nb = lists[name][j]
                if nb:
                    bonus += w * float(scores[q, nb].max())
            out[q, j] += bonus
    return out
