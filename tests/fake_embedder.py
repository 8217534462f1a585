"""A deterministic stand-in for the model: hashed bag of sub-words, for tests of dense search."""
from __future__ import annotations

import hashlib
import json

import numpy as np

from graphmer.index.text import query_terms


class HashEmbedder:
    """Implements graphmer.index.embedder.Embedder: each sub-word (cut to 5 letters, a crude stem)
    adds ±1 to one of `dim` slots chosen by its hash; rows are L2-normalised."""

    def __init__(self, dim: int = 64, version: str = "v1", fail_on_call: int | None = None) -> None:
        self.model_id = f"hash-{version}"
        self.model_hash = hashlib.sha256(f"hash-embedder:{version}:{dim}".encode()).hexdigest()
        self.dim = dim
        self.calls: list[list[int]] = []  # the symbol ids of each embed_symbols call
        self.fail_on_call = fail_on_call  # 1-based embed_symbols call that raises

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for w in query_terms(text):
            h = hashlib.blake2b(w[:5].encode(), digest_size=8).digest()
            v[int.from_bytes(h[:4], "little") % self.dim] += 1.0 if h[4] & 1 else -1.0
        if not v.any():
            v[0] = 1.0
        return v / np.linalg.norm(v)

    def embed_symbols(self, store, symbol_ids: list[int]) -> np.ndarray:
        self.calls.append(list(symbol_ids))
        if self.fail_on_call == len(self.calls):
            raise RuntimeError("out of memory (simulated)")
        rows = dict(
            store.conn.execute(
                "SELECT s.id, s.qualname || ' ' || s.signature || ' ' || s.doc || ' ' || coalesce(t.body, '') "
                "FROM symbols s LEFT JOIN symbols_fts t ON t.rowid = s.id WHERE s.id IN (SELECT value FROM json_each(?))",
                (json.dumps(symbol_ids),),
            )
        )
        return np.stack([self._vector(rows[i]) for i in symbol_ids]) if symbol_ids else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    @property
    def embedded(self) -> list[int]:
        """Every symbol id embedded so far, in call order."""
        return [i for call in self.calls for i in call]
