"""The tensor contract between data (graphmer/model/leafy.py) and network (graphmer/model/encoder.py).

A batch holds B leafy chain graphs of N nodes each. Nodes are roots (code tokens) and
leaves (tail tokens of injected triples). Two layouts share this contract:

- fixed:   N = R(L+1); root i at node i; leaf slot k (1..L) of root i at R + i*L + (k-1).
- compact: N = R + G_max*L; roots as above; leaf group g (its anchor root a_g) at
           R + g*L + (k-1). Empty groups/slots are padding (valid = False).

Because every per-node field below names the node's anchor root and slot, graph distances
and positions are computed from it and the two layouts give the same outputs on valid
nodes (padding is masked as a key and ignored as a query).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

IGNORE = -100  # label of a node that is not predicted


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, N) long: token ids after masking; pad id where not valid
    valid: torch.Tensor  # (B, N) bool: the node exists (root within length, or a filled leaf slot)
    is_leaf: torch.Tensor  # (B, N) bool
    node_root: torch.Tensor  # (B, N) long: a root's own index; a leaf's anchor root index
    node_slot: torch.Tensor  # (B, N) long: 0 for roots, 1..L for leaf slots
    relation: torch.Tensor  # (B, N) long: relation id on the leaves of an injected group, else 0
    head_len: torch.Tensor  # (B, N) long: on leaves, m: the head span is roots anchor..anchor+m-1
    labels: torch.Tensor  # (B, N) long: target token where masked (roots: MLM, leaves: MNM), else IGNORE
    sbo_left: torch.Tensor  # (B, N) long: for a masked root inside a span: node of x_{s-1}, else -1
    sbo_right: torch.Tensor  # (B, N) long: node of x_{e+1}, else -1
    sbo_offset: torch.Tensor  # (B, N) long: the token's 0-based offset inside its span

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(**{f.name: getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)})

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.input_ids.shape)  # type: ignore[return-value]

    def num_tokens(self) -> int:
        """Valid nodes in the batch (what tokens/s counts)."""
        return int(self.valid.sum())
