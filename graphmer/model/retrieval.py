"""Retrieval embeddings over leafy chain graphs (docs/model.md §8.7), shared by training and search.

A symbol's embedding is normalize(W_p · mean of the last hidden states) over its leafy
chain graph: its code as roots, every statically known fact injected as leaves (one
triple per head, chosen by a fixed relation priority). A query is encoded as roots with
no leaves. The mean runs over every valid node, [CLS]/[SEP] included, as
all-MiniLM-L6-v2's own pooling does, so a warm start begins at MiniLM's embedding (W_p
starts as the identity).

Batches use a trimmed compact layout: roots 0..r-1 (r = the longest sample in the
batch), then the non-empty leaf groups. The encoder reads positions and graph distances
from each node's (root, slot), so the trim changes no output, only the cost.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from graphmer.model.batch import IGNORE, Batch
from graphmer.model.encoder import GraphMER, minilm_layer_picks
from graphmer.model.kg_samples import Sample
from graphmer.model.retrieval_inputs import (  # noqa: F401 (re-exported: training and tests import them from here)
    FORMAT, FORMAT_VERSION, POOLER_FILE, PRIORITY, RETRIEVAL_FILE, RetrievalSpec, batch_arrays, graph_rows, pick_triple,
    query_rows,
)


class Pooler(nn.Module):
    """W_p of docs/model.md §8.7, starting as the identity."""

    def __init__(self, hidden: int):
        super().__init__()
        self.proj = nn.Linear(hidden, hidden)
        with torch.no_grad():
            self.proj.weight.copy_(torch.eye(hidden))
            self.proj.bias.zero_()

    def forward(self, hidden: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, N, H) hidden, (B, N) valid -> (B, H) L2-normalised."""
        w = valid.to(hidden.dtype)[..., None]  # (B, N, 1)
        mean = (hidden * w).sum(1) / w.sum(1).clamp(min=1.0)  # (B, H)
        return F.normalize(self.proj(mean), dim=-1)


def _batch(rows, pad_id: int, leaves: int) -> Batch:
    """The arrays of graphmer/model/retrieval_inputs.py (batch_arrays) as a torch Batch (no labels)."""
    a = {k: torch.from_numpy(v) for k, v in batch_arrays(rows, pad_id, leaves).items()}
    B, N = a["input_ids"].shape
    none = torch.full((B, N), -1, dtype=torch.long)
    return Batch(**a, labels=torch.full((B, N), IGNORE, dtype=torch.long), sbo_left=none, sbo_right=none.clone(),
                 sbo_offset=torch.zeros((B, N), dtype=torch.long))


def graph_batch(samples: Sequence[Sample], cfg, leaves: bool = True) -> Batch:
    """Symbols' leafy chain graphs, every head injected (at most cfg.max_groups groups)."""
    return _batch(graph_rows(samples, cfg, leaves), cfg.pad_id, cfg.leaves)


def query_batch(texts: Sequence[str], tokenizer, cfg, max_tokens: int) -> Batch:
    """Queries as roots only: [CLS] tokens [SEP]."""
    return _batch(query_rows(texts, tokenizer, cfg, max_tokens), cfg.pad_id, cfg.leaves)


def embed(model, pooler: Pooler, batch: Batch) -> torch.Tensor:
    """(B, H) normalised embeddings of a batch."""
    return pooler(model.encode(batch), batch.valid)


def keep_layers(model, n: int):
    """A copy of `model` with n of its layers, evenly spaced (0, 2, 4 of 6), other weights shared."""
    total = model.cfg.layers
    if not 1 <= n <= total:
        raise ValueError(f"cannot keep {n} of {total} layers")
    picks = minilm_layer_picks(n, total)
    small = GraphMER(replace(model.cfg, layers=n))
    state = {}
    for k, v in model.state_dict().items():
        if k.startswith("layers."):
            i = int(k.split(".")[1])
            if i in picks:
                state["layers." + str(picks.index(i)) + k[len(f"layers.{i}") :]] = v
        else:
            state[k] = v
    small.load_state_dict(state, strict=True)
    return small
