"""Hand-written leafy chain graphs turned into Batch tensors, in the fixed or compact layout.

A test helper (not collected by pytest): the data pipeline (graphmer/model/leafy.py) builds real
batches; these are small enough to reason about by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from graphmer.model.batch import IGNORE, Batch
from graphmer.model.config import EncoderConfig


@dataclass
class Group:
    anchor: int  # root the leaves hang off (the head's first token)
    relation: int
    head_len: int
    tokens: list[int]  # leaf tokens, slots 1..len
    labels: dict[int, int] = field(default_factory=dict)  # slot -> target token


@dataclass
class Graph:
    tokens: list[int]  # root tokens (after masking)
    groups: list[Group] = field(default_factory=list)
    labels: dict[int, int] = field(default_factory=dict)  # root -> target token
    sbo: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # root -> (left, right, offset)


def leaf_node(cfg: EncoderConfig, layout: str, g: int, anchor: int, slot: int) -> int:
    """Node index of leaf `slot` (1-based) of group g anchored at `anchor` (batch.py)."""
    base = g if layout == "compact" else anchor
    return cfg.roots + base * cfg.leaves + slot - 1


def make_batch(graphs: list[Graph], cfg: EncoderConfig, layout: str) -> Batch:
    R, L = cfg.roots, cfg.leaves
    N = cfg.nodes_compact if layout == "compact" else cfg.nodes_fixed
    B = len(graphs)
    z = lambda v=0: torch.full((B, N), v, dtype=torch.long)  # noqa: E731
    ids, root, slot, rel, hl, lab = z(cfg.pad_id), z(), z(), z(), z(), z(IGNORE)
    left, right, off = z(-1), z(-1), z()
    valid = torch.zeros(B, N, dtype=torch.bool)
    leaf = torch.zeros(B, N, dtype=torch.bool)
    leaf[:, R:] = True
    for n in range(R, N):  # padding leaf slots still carry a (root, slot)
        root[:, n] = (n - R) // L if layout == "fixed" else 0
        slot[:, n] = (n - R) % L + 1
    root[:, :R] = torch.arange(R)
    for b, gr in enumerate(graphs):
        assert len(gr.tokens) <= R and len(gr.groups) <= cfg.max_groups
        ids[b, : len(gr.tokens)] = torch.tensor(gr.tokens)
        valid[b, : len(gr.tokens)] = True
        for i, t in gr.labels.items():
            lab[b, i] = t
        for i, (lt, rt, o) in gr.sbo.items():
            left[b, i], right[b, i], off[b, i] = lt, rt, o
        for g, grp in enumerate(gr.groups):
            for k, t in enumerate(grp.tokens, start=1):
                n = leaf_node(cfg, layout, g, grp.anchor, k)
                ids[b, n], valid[b, n], root[b, n], slot[b, n] = t, True, grp.anchor, k
                rel[b, n], hl[b, n] = grp.relation, grp.head_len
                lab[b, n] = grp.labels.get(k, IGNORE)
    return Batch(input_ids=ids, valid=valid, is_leaf=leaf, node_root=root, node_slot=slot, relation=rel,
                 head_len=hl, labels=lab, sbo_left=left, sbo_right=right, sbo_offset=off)


def small_config(**kw) -> EncoderConfig:
    base = dict(vocab_size=50, hidden=32, layers=2, heads=2, ffn=64, roots=16, leaves=3, max_groups=4,
                max_positions=32, pad_id=0, mask_id=3)
    base.update(kw)
    return EncoderConfig(**base)


def sample_graphs() -> list[Graph]:
    """Two graphs: groups out of anchor order, a group of 1 leaf, labels on roots and leaves."""
    return [
        Graph(tokens=[1, 10, 3, 3, 12, 13, 14, 2], labels={2: 11, 3: 20}, sbo={2: (1, 4, 0), 3: (1, 4, 1)},
              groups=[Group(anchor=5, relation=2, head_len=2, tokens=[21, 22, 23], labels={1: 21, 2: 22, 3: 23}),
                      Group(anchor=1, relation=5, head_len=1, tokens=[30])]),
        Graph(tokens=[1, 7, 8, 9, 3, 40, 41, 42, 43, 44, 2], labels={4: 33},
              groups=[Group(anchor=9, relation=5, head_len=3, tokens=[24, 25], labels={}),
                      Group(anchor=2, relation=2, head_len=2, tokens=[26, 27, 28]),
                      Group(anchor=6, relation=7, head_len=2, tokens=[29])]),
    ]
