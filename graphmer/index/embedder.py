"""What the index needs from a model: the Embedder protocol, and checks on what it returns.

graphmer/index/ never imports graphmer/model/ or torch (docs/architecture.md §1): its caller hands it an object with
this shape (graphmer/model/embedder.py makes the real one; tests use a hashing fake).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from graphmer.index.store import Store


class EmbedError(Exception):
    """The embedder failed or returned something unusable; the index stays usable."""


@runtime_checkable
class Embedder(Protocol):
    model_id: str  # human-readable name, e.g. "graphmer-default"
    model_hash: str  # sha256 of the weights + config: a different hash means vectors must be recomputed
    dim: int

    def embed_symbols(self, store: "Store", symbol_ids: list[int]) -> np.ndarray:
        """(n, dim) float32, L2-normalised; row i embeds symbol_ids[i], read from `store`."""
        ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised; row i embeds texts[i]."""
        ...


def checked_vectors(x, n: int, dim: int, what: str) -> np.ndarray:
    """`x` as a C-contiguous (n, dim) float32 array with unit rows, or EmbedError.

    Rows are re-normalised (a no-op for a conforming embedder) so that inner product is
    cosine whatever the model returned; a zero or non-finite row is an error.
    """
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if a.shape != (n, dim):
        raise EmbedError(f"the embedder returned {what} of shape {a.shape}, expected {(n, dim)}")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if n and not (np.isfinite(norms).all() and (norms > 0).all()):
        raise EmbedError(f"the embedder returned zero or non-finite {what}")
    return a / norms if n else a
