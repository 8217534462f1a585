"""Batch order and the negatives' memory of the contrastive stage.

Hard negatives come for free from the batch order: an epoch's pairs are cut into groups
of up to `group` pairs from one file, the groups are shuffled, and batches are cut from
the sequence, so most queries meet other functions of their own file (same names, same
class, same imports) among their negatives, not only unrelated code.

The memory (a queue of the most recent batches' code embeddings, detached) adds
`size` negatives to every query at no encoder cost: a large effective batch on a CPU.
The order depends only on (seed, epoch), so a resumed run cuts the same batches.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np


def epoch_order(groups: list[str], epoch: int, seed: int, group: int) -> list[int]:
    """Indices of the pairs (whose files are `groups`) in the order of one epoch.

    group <= 1: a plain shuffle. Otherwise runs of up to `group` pairs of one file.

    >>> epoch_order(["a", "a", "b", "b"], 1, 0, 2) in ([0, 1, 2, 3], [1, 0, 2, 3], [0, 1, 3, 2], [1, 0, 3, 2],
    ...                                             [2, 3, 0, 1], [3, 2, 0, 1], [2, 3, 1, 0], [3, 2, 1, 0])
    True
    """
    rng = np.random.default_rng([seed, epoch])
    if group <= 1:
        return [int(i) for i in rng.permutation(len(groups))]
    by_file: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by_file[g].append(i)
    runs = []
    for key in sorted(by_file):
        idx = by_file[key]
        idx = [idx[j] for j in rng.permutation(len(idx))]
        runs += [idx[k : k + group] for k in range(0, len(idx), group)]
    return [i for r in (runs[j] for j in rng.permutation(len(runs))) for i in r]


class Memory:
    """The last `size` code embeddings (detached) and their queries, newest last."""

    def __init__(self, size: int, dim: int):
        import torch  # lazy: epoch_order (this module's other half) needs no torch

        self.size = size
        self.codes = torch.zeros((0, dim))
        self.queries: list[str] = []

    def push(self, codes, queries: list[str]) -> None:
        import torch  # lazy: as in __init__

        if self.size <= 0:
            return
        self.codes = torch.cat([self.codes, codes.detach().float()])[-self.size :]
        self.queries = (self.queries + list(queries))[-self.size :]

    def state(self) -> tuple[object, list[str]]:
        return self.codes.clone(), list(self.queries)

    def load(self, codes, queries: list[str]) -> None:
        self.codes, self.queries = codes.clone().float(), list(queries)
