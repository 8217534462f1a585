"""What both embedders (graphmer/model/onnx_embedder.py, graphmer/model/torch_embedder.py) read before their
networks run, without torch: a store's symbols as samples, and a cache of recent queries."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphmer.model.kg_samples import Sample, extract_corpus, load_graph


class StoreGraph:
    """load_graph(store), reused while the store's symbols and edges are unchanged (one
    indexing run embeds in many batches)."""

    def __init__(self) -> None:
        self._cached = None  # (key of the store's state, load_graph(store))

    def of(self, store):
        key = (id(store), *store.graph_version())
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, load_graph(store))
        return self._cached[1]


def symbol_samples(store, symbol_ids: list[int], tokenizer, cfg, graph) -> list[Sample]:
    """One sample per id, in order: the symbol's code window and the heads of its leaves, as
    training reads them; a symbol whose source cannot be read (or has an empty body) is
    stood in for by its qualified name."""
    corpus = extract_corpus(store, tokenizer, cfg, valid_fraction=0.0, max_windows=1, only=list(symbol_ids), graph=graph)
    by_id = {s.symbol_id: s for s in corpus.train}
    syms = graph[0]
    out = []
    for sid in symbol_ids:
        s = by_id.get(sid)
        if s is None:
            name = syms[sid][2] if sid in syms else ""
            ids = tokenizer.encode(name)[0][: cfg.roots - 2]
            s = Sample((tokenizer.cls_id, *ids, tokenizer.sep_id), (False,) * (len(ids) + 2), (), sid, "")
        out.append(s)
    return out


class QueryCache:
    """Vectors of recent queries (a session asks again), oldest dropped first."""

    def __init__(self, dim: int, size: int = 4096) -> None:
        self.dim, self.size = dim, size
        self._vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """(n, dim): cached rows, and compute(the new texts) for the others."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if todo:
            for t, v in zip(todo, compute(todo)):
                if len(self._vectors) >= self.size:
                    self._vectors.pop(next(iter(self._vectors)))
                self._vectors[t] = v
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)
