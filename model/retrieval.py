"""Retrieval embeddings over leafy chain graphs (spec §8.7), shared by training and search.

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

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.batch import IGNORE, Batch
from model.config import RELATIONS
from model.kg_samples import Sample

# Which fact a head carries when it has several: the most specific first.
PRIORITY = tuple(RELATIONS.index(r) for r in (
    "calls", "instantiates", "inherits_from", "raises", "decorated_by", "overrides", "member_of",
    "returns_type", "param_type", "called_by",
))
_RANK = {r: i for i, r in enumerate(PRIORITY)}
RETRIEVAL_FILE = "retrieval.json"
POOLER_FILE = "pooler.safetensors"
FORMAT = "graphmer-retrieval"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RetrievalSpec:
    """How a model folder embeds (retrieval.json beside the encoder)."""

    model_id: str = "graphmer"
    max_query_tokens: int = 48
    leaves: bool = True  # False: the no-graph ablation (roots only, for symbols too)
    format: str = FORMAT
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "RetrievalSpec":
        d = json.loads(text)
        if d.get("format") != FORMAT:
            raise ValueError(f"not a graphmer retrieval spec (format {d.get('format')!r})")
        if int(d.get("version", 0)) > FORMAT_VERSION:
            raise ValueError(f"retrieval spec version {d['version']} is newer than this graphmer ({FORMAT_VERSION}): upgrade graphmer")
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Pooler(nn.Module):
    """W_p of spec §8.7, starting as the identity."""

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


def pick_triple(triples: Sequence[tuple[int, tuple[int, ...]]]) -> tuple[int, tuple[int, ...]]:
    """The fact a head carries at embedding time: by PRIORITY, then the first listed."""
    return min(triples, key=lambda t: _RANK.get(t[0], len(_RANK)))


def _batch(rows: list[tuple[list[int], list[tuple[int, int, int, list[int]]]]], pad_id: int, leaves: int) -> Batch:
    """Trimmed compact layout from (root ids, [(anchor, relation, head_len, tail ids)])."""
    B = len(rows)
    R = max(len(r) for r, _ in rows)
    G = max((len(g) for _, g in rows), default=0)
    N = R + G * leaves
    input_ids = np.full((B, N), pad_id, dtype=np.int64)
    valid = np.zeros((B, N), dtype=bool)
    is_leaf = np.zeros((B, N), dtype=bool)
    is_leaf[:, R:] = True
    node_root = np.zeros((B, N), dtype=np.int64)
    node_root[:, :R] = np.arange(R)
    node_slot = np.zeros((B, N), dtype=np.int64)
    node_slot[:, R:] = np.arange(N - R) % leaves + 1
    relation = np.zeros((B, N), dtype=np.int64)
    head_len = np.zeros((B, N), dtype=np.int64)
    for b, (ids, groups) in enumerate(rows):
        input_ids[b, : len(ids)] = ids
        valid[b, : len(ids)] = True
        for g, (anchor, rel, m, tail) in enumerate(groups):
            base = R + g * leaves
            sl = slice(base, base + len(tail))
            node_root[b, base : base + leaves] = anchor
            input_ids[b, sl] = tail
            valid[b, sl] = True
            relation[b, sl] = rel
            head_len[b, sl] = m
    t = torch.from_numpy
    none = torch.full((B, N), -1, dtype=torch.long)
    return Batch(t(input_ids), t(valid), t(is_leaf), t(node_root), t(node_slot), t(relation), t(head_len),
                 torch.full((B, N), IGNORE, dtype=torch.long), none, none.clone(), torch.zeros((B, N), dtype=torch.long))


def graph_batch(samples: Sequence[Sample], cfg, leaves: bool = True) -> Batch:
    """Symbols' leafy chain graphs, every head injected (at most cfg.max_groups groups)."""
    rows = []
    for s in samples:
        groups = []
        if leaves:
            for h in s.heads[: cfg.max_groups]:
                rel, tail = pick_triple(h.triples)
                groups.append((h.pos, rel, h.length, list(tail[-cfg.leaves :])))
        rows.append((list(s.ids), groups))
    return _batch(rows, cfg.pad_id, cfg.leaves)


def query_batch(texts: Sequence[str], tokenizer, cfg, max_tokens: int) -> Batch:
    """Queries as roots only: [CLS] tokens [SEP]."""
    rows = []
    for ids, _ in tokenizer.encode_batch(list(texts)):
        rows.append(([tokenizer.cls_id, *ids[: max(1, min(max_tokens, cfg.roots) - 2)], tokenizer.sep_id], []))
    return _batch(rows, cfg.pad_id, cfg.leaves)


def embed(model, pooler: Pooler, batch: Batch) -> torch.Tensor:
    """(B, H) normalised embeddings of a batch."""
    return pooler(model.encode(batch), batch.valid)


def keep_layers(model, n: int):
    """A copy of `model` with n of its layers, evenly spaced (0, 2, 4 of 6), other weights shared."""
    from dataclasses import replace

    from model.encoder import GraphMER, minilm_layer_picks

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
