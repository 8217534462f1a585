"""Training-speed benchmark: GraphMER's training step beside a plain TransformerEncoder of
the same width, depth, heads, FFN and sequence length, timed alternately in one process
(so both see the same machine load)."""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from graphmer.model.batch import IGNORE, Batch
from graphmer.model.config import PRESETS, EncoderConfig


def synthetic_batch(cfg: EncoderConfig, batch_size: int, fill: float, seed: int = 0) -> Batch:
    """A compact-layout batch: full roots, `fill` of the leaf groups injected, 15% of roots
    and 30% of groups masked, SBO on every masked root that has neighbours."""
    rng = np.random.default_rng(seed)
    R, L, G = cfg.roots, cfg.leaves, cfg.max_groups
    N = R + G * L
    ids = rng.integers(5, cfg.vocab_size, size=(batch_size, N))
    valid = np.zeros((batch_size, N), bool)
    is_leaf = np.zeros((batch_size, N), bool)
    node_root = np.zeros((batch_size, N), np.int64)
    node_slot = np.zeros((batch_size, N), np.int64)
    relation = np.zeros((batch_size, N), np.int64)
    head_len = np.zeros((batch_size, N), np.int64)
    labels = np.full((batch_size, N), IGNORE, np.int64)
    sbo_l = np.full((batch_size, N), -1, np.int64)
    sbo_r = np.full((batch_size, N), -1, np.int64)
    sbo_o = np.zeros((batch_size, N), np.int64)
    for b in range(batch_size):
        valid[b, :R] = True
        node_root[b, :R] = np.arange(R)
        masked = rng.choice(np.arange(2, R - 2), size=int(0.15 * R), replace=False)
        labels[b, masked] = ids[b, masked]
        sbo_l[b, masked], sbo_r[b, masked] = masked - 1, masked + 1
        anchors = rng.choice(np.arange(1, R - 8), size=int(fill * G), replace=False)
        for g, a in enumerate(anchors):
            n = int(rng.integers(1, L + 1))
            sl = slice(R + g * L, R + g * L + n)
            valid[b, sl] = is_leaf[b, sl] = True
            node_root[b, sl] = a
            node_slot[b, sl] = np.arange(1, n + 1)
            relation[b, sl] = rng.integers(1, cfg.num_relations)
            head_len[b, sl] = rng.integers(1, 4)
            if rng.random() < 0.3:
                labels[b, sl] = ids[b, sl]
    ids[~valid] = cfg.pad_id
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    return Batch(t(ids), t(valid), t(is_leaf), t(node_root), t(node_slot), t(relation), t(head_len), t(labels), t(sbo_l), t(sbo_r), t(sbo_o))


class PlainEncoder(torch.nn.Module):
    """The reference: embeddings + positions, nn.TransformerEncoder (post-LN, GELU), tied LM head."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.pos = torch.nn.Embedding(cfg.nodes_compact, cfg.hidden)
        layer = torch.nn.TransformerEncoderLayer(cfg.hidden, cfg.heads, cfg.ffn, cfg.dropout, activation="gelu", batch_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.head = torch.nn.Sequential(torch.nn.Linear(cfg.hidden, cfg.hidden), torch.nn.GELU(), torch.nn.LayerNorm(cfg.hidden))

    def forward(self, batch: Batch) -> torch.Tensor:
        n = batch.input_ids.shape[1]
        x = self.emb(batch.input_ids) + self.pos(torch.arange(n))
        h = self.enc(x, src_key_padding_mask=~batch.valid)
        sel = batch.labels != IGNORE
        logits = self.head(h[sel]) @ self.emb.weight.T
        return F.cross_entropy(logits, batch.labels[sel])


@dataclass(frozen=True)
class TrainBenchResult:
    preset: str
    batch_size: int
    nodes: int
    tokens_per_step: int
    graphmer_step_s: float
    plain_step_s: float
    graphmer_tokens_per_s: float
    plain_tokens_per_s: float
    ratio: float  # graphmer tokens/s ÷ plain tokens/s
    graphmer_parameters: int
    plain_parameters: int
    threads: int
    decay_mode: str

    def to_json(self) -> dict:
        return asdict(self)


def run_train_bench(preset: str = "cpu-s", batch_size: int = 16, steps: int = 10, warmup: int = 2, fill: float = 0.3,
                    decay_mode: str | None = None, seed: int = 0) -> TrainBenchResult:
    """Median step time of each model over `steps` alternating steps, after `warmup` each."""
    from graphmer.model.encoder import GraphMER  # lazy: torch loads only when this bench runs

    cfg = PRESETS[preset]
    if decay_mode:
        cfg = replace(cfg, decay_mode=decay_mode)
    torch.manual_seed(seed)
    graph, plain = GraphMER(cfg), PlainEncoder(cfg)
    opts = [torch.optim.AdamW(m.parameters(), lr=1e-4) for m in (graph, plain)]
    batch = synthetic_batch(cfg, batch_size, fill, seed)
    tokens = batch.num_tokens()

    def step_graph():
        _, losses = graph(batch)
        losses.total.backward()
        opts[0].step()
        opts[0].zero_grad(set_to_none=True)

    def step_plain():
        plain(batch).backward()
        opts[1].step()
        opts[1].zero_grad(set_to_none=True)

    times: dict[str, list[float]] = {"graph": [], "plain": []}
    for i in range(warmup + steps):
        for name, fn in (("graph", step_graph), ("plain", step_plain)):
            t0 = time.perf_counter()
            fn()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    g, p = statistics.median(times["graph"]), statistics.median(times["plain"])
    # Both are charged for the same tokens: the graph model's valid nodes.
    return TrainBenchResult(
        preset, batch_size, batch.input_ids.shape[1], tokens, g, p, tokens / g, tokens / p, p / g,
        sum(x.numel() for x in graph.parameters()), sum(x.numel() for x in plain.parameters()),
        torch.get_num_threads(), cfg.decay_mode,
    )
