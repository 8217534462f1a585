"""What a retrieval model reads, without torch: retrieval.json's spec, and leafy chain
graph batches as numpy arrays (docs/model.md §8.7).

Shared by training (graphmer/model/retrieval.py wraps the arrays as a torch Batch) and by
torch-free inference (graphmer/model/onnx_embedder.py feeds them to ONNX Runtime), so both see
the same inputs. The layout is the trimmed compact one of graphmer/model/batch.py: roots
0..r-1 (r = the longest sample in the batch), then the non-empty leaf groups.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from graphmer.model.config import RELATIONS

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
# The arrays of a batch, in the order the ONNX graph takes them (graphmer/model/onnx_export.py).
INPUT_NAMES = ("input_ids", "valid", "is_leaf", "node_root", "node_slot", "relation", "head_len")


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


def pick_triple(triples: Sequence[tuple[int, tuple[int, ...]]]) -> tuple[int, tuple[int, ...]]:
    """The fact a head carries at embedding time: by PRIORITY, then the first listed."""
    return min(triples, key=lambda t: _RANK.get(t[0], len(_RANK)))


Row = tuple[list[int], list[tuple[int, int, int, list[int]]]]  # root ids, [(anchor, relation, head_len, tail ids)]


def batch_arrays(rows: Sequence[Row], pad_id: int, leaves: int) -> dict[str, np.ndarray]:
    """Trimmed compact layout from (root ids, [(anchor, relation, head_len, tail ids)]), by INPUT_NAMES."""
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
    return dict(zip(INPUT_NAMES, (input_ids, valid, is_leaf, node_root, node_slot, relation, head_len)))


def graph_rows(samples, cfg, leaves: bool = True) -> list[Row]:
    """Symbols' leafy chain graphs (graphmer.model.kg_samples.Sample), every head injected (at most cfg.max_groups groups)."""
    rows = []
    for s in samples:
        groups = []
        if leaves:
            for h in s.heads[: cfg.max_groups]:
                rel, tail = pick_triple(h.triples)
                groups.append((h.pos, rel, h.length, list(tail[-cfg.leaves :])))
        rows.append((list(s.ids), groups))
    return rows


def query_rows(texts: Sequence[str], tokenizer, cfg, max_tokens: int) -> list[Row]:
    """Queries as roots only: [CLS] tokens [SEP]."""
    return [([tokenizer.cls_id, *ids[: max(1, min(max_tokens, cfg.roots) - 2)], tokenizer.sep_id], [])
            for ids, _ in tokenizer.encode_batch(list(texts))]
