"""Leafy chain graphs: injection, masking and collation into a Batch (docs/model.md §1, §8.2-8.5).

make_batch first draws a layout-independent plan for each sample (which triple each head
gets, which heads are injected, the optional copy cap, which root spans and leaf groups
are masked, how each masked token is replaced), then places it in the fixed or compact
layout. The layout never touches the rng, so both layouts of one seed hold the same graphs.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from graphmer.model.batch import IGNORE, Batch
from graphmer.model.config import RELATIONS, EncoderConfig
from graphmer.model.kg_samples import Head, KGCorpus, Sample, extract_corpus  # noqa: F401  (re-exported)
from graphmer.model.tokenizer import Tokenizer

MAX_SPAN = 7  # longest masked root span, tokens (SBO offsets 0..6)
GEOMETRIC_P = 0.2  # span length ~ Geometric(p) truncated to 1..MAX_SPAN [Co mask_spans]
# Triples restating text the roots already show (annotations) are drawn less (docs/model.md §8.2).
RESTATE_WEIGHT = {RELATIONS.index("param_type"): 0.25, RELATIONS.index("returns_type"): 0.25}
_SPAN_P = np.array([GEOMETRIC_P * (1 - GEOMETRIC_P) ** k for k in range(MAX_SPAN)])
_SPAN_P /= _SPAN_P.sum()


@dataclass
class BatchStats:
    """What one batch injected and masked; copy_rate = tail tokens already among the roots.

    Token identity ignores byte-level BPE's leading-space mark (Tokenizer.spaceless_ids).
    """

    samples: int = 0
    injected_groups: int = 0
    dropped_groups: int = 0  # injected heads beyond cfg.max_groups, left out
    capped_groups: int = 0  # verbatim-copy groups left out by copy_cap
    copy_groups: int = 0  # injected groups whose whole tail occurs verbatim in the roots
    masked_roots: int = 0
    masked_leaves: int = 0
    masked_groups: int = 0
    leak_forced_groups: int = 0  # MNM-masked only because their head was MLM-masked
    tail_tokens: int = 0
    copy_tokens: int = 0
    relations: Counter = field(default_factory=Counter)  # injected groups per relation id

    @property
    def copy_rate(self) -> float:
        return self.copy_tokens / self.tail_tokens if self.tail_tokens else 0.0


@dataclass
class _Group:
    anchor: int
    relation: int
    head_len: int
    inputs: list[int]  # leaf input ids, slot 1.. (after masking)
    labels: list[int]  # IGNORE where not masked


@dataclass
class _Plan:
    inputs: np.ndarray  # (n,) root input ids after masking
    labels: np.ndarray  # (n,) IGNORE where not masked
    spans: list[tuple[int, int]]  # masked root spans, inclusive
    groups: list[_Group]


def triple_weights(head: Head, counts: Sequence[int]) -> np.ndarray:
    """P(triple) for one head: relation r weighted count(r)^-0.5, shared by r's tails.

    >>> triple_weights(Head(1, 1, ((1, (7,)), (7, (8,)), (7, (9,)))), [0, 100, 0, 0, 0, 0, 0, 4])
    array([0.16666667, 0.41666667, 0.41666667])
    """
    per_rel = Counter(r for r, _ in head.triples)
    w = np.array([max(counts[r], 1) ** -0.5 * RESTATE_WEIGHT.get(r, 1.0) / per_rel[r] for r, _ in head.triples])
    return w / w.sum()


def mask_spans(word_start: Sequence[bool], budget: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Non-overlapping whole-word spans [s, e] (inclusive) covering about `budget` tokens.

    A span starts at a word start, has a Geometric(0.2) length extended to the end of
    its last word, and is redrawn if longer than MAX_SPAN or overlapping (the authors' collator [Co], mask_spans; docs/model.md §4).
    Position 0 and the last position ([CLS], [SEP]) are never word starts, so never masked.
    """
    n = len(word_start)
    starts = [i for i in range(1, n - 1) if word_start[i]]
    nxt = [n - 1] * n  # nxt[i]: first word start (or the [SEP]) after i
    for i in range(n - 2, -1, -1):
        nxt[i] = i + 1 if i + 1 < n - 1 and word_start[i + 1] else nxt[i + 1]
    used = np.zeros(n, dtype=bool)
    spans: list[tuple[int, int]] = []
    masked = tries = 0
    while masked < budget and starts and tries < 100:
        tries += 1
        length = 1 + int(rng.choice(MAX_SPAN, p=_SPAN_P))
        for _ in range(50):
            s = starts[int(rng.integers(len(starts)))]
            e = s + length - 1
            e = min(nxt[e] - 1 if e < n - 1 else n - 2, n - 2)  # to the end of that word
            if e - s + 1 <= MAX_SPAN and not used[s : e + 1].any():
                used[s : e + 1] = True
                spans.append((s, e))
                masked += e - s + 1
                break
    return sorted(spans)


def _replace(ids: Sequence[int], mask_id: int, allowed: np.ndarray, rng: np.random.Generator) -> list[int]:
    """80% [MASK], 10% a random non-special token, 10% unchanged."""
    u = rng.random(len(ids))
    rand = allowed[rng.integers(len(allowed), size=len(ids))]
    return [mask_id if x < 0.8 else int(r) if x < 0.9 else t for t, x, r in zip(ids, u, rand)]


def is_copy(tail: Sequence[int], ids: Sequence[int], spaceless: Sequence[int]) -> bool:
    """The tail occurs verbatim among the roots (BPE's leading-space marks ignored).

    >>> is_copy([7, 8], [1, 6, 7, 8, 2], list(range(10))), is_copy([8, 7], [1, 6, 7, 8, 2], list(range(10)))
    (True, False)
    """
    t = [spaceless[x] for x in tail]
    r = [spaceless[x] for x in ids]
    return any(r[i : i + len(t)] == t for i in range(len(r) - len(t) + 1))


def _choose(sample: Sample, cfg: EncoderConfig, counts: Sequence[int], rng: np.random.Generator,
            inject_prob: float, stats: BatchStats) -> list[tuple[Head, int, tuple[int, ...]]]:
    """One triple per head (count(r)^-0.5), kept with probability inject_prob, at most G_max."""
    assert len(sample.ids) <= cfg.roots, f"sample has {len(sample.ids)} roots, config allows {cfg.roots}"
    chosen = []
    for h in sample.heads:
        k = int(rng.choice(len(h.triples), p=triple_weights(h, counts)))
        if rng.random() < inject_prob:
            rel, tail = h.triples[k]
            chosen.append((h, rel, tuple(tail[-cfg.leaves :])))
    if len(chosen) > cfg.max_groups:
        keep = np.sort(rng.choice(len(chosen), cfg.max_groups, replace=False))
        stats.dropped_groups += len(chosen) - cfg.max_groups
        chosen = [chosen[i] for i in keep]
    return chosen


def _cap_copies(chosen: list[list], copies: list[list[bool]], cap: float, rng: np.random.Generator,
                stats: BatchStats) -> None:
    """Drop random verbatim-copy groups until they are at most `cap` of the batch's injections (docs/model.md §8.5)."""
    where = [(b, i) for b, row in enumerate(copies) for i, c in enumerate(row) if c]
    others = sum(len(row) for row in copies) - len(where)
    limit = int(cap / (1 - cap) * others) if cap < 1 else len(where)
    if len(where) <= limit:
        return
    drop = {where[j] for j in rng.choice(len(where), len(where) - limit, replace=False)}
    stats.capped_groups += len(drop)
    for b in range(len(chosen)):
        keep = [i for i in range(len(chosen[b])) if (b, i) not in drop]
        chosen[b] = [chosen[b][i] for i in keep]
        copies[b] = [copies[b][i] for i in keep]


def _mask(sample: Sample, chosen: list, copies: list[bool], cfg: EncoderConfig, tok: Tokenizer,
          rng: np.random.Generator, allowed: np.ndarray, mlm_prob: float, mnm_prob: float, stats: BatchStats) -> _Plan:
    """Span-mask the roots, mask leaf groups (whole, and always when their head is masked)."""
    ids = np.array(sample.ids, dtype=np.int64)
    n = len(ids)
    budget = int(round(mlm_prob * max(n - 2, 0)))
    spans = mask_spans(sample.word_start, budget, rng) if budget > 0 else []
    root_mask = np.zeros(n, dtype=bool)
    for s, e in spans:
        root_mask[s : e + 1] = True
    labels = np.where(root_mask, ids, IGNORE)
    inputs = ids.copy()
    inputs[root_mask] = _replace(ids[root_mask].tolist(), tok.mask_id, allowed, rng)
    spaceless = tok.spaceless_ids()
    present = {spaceless[i] for i in sample.ids} - {spaceless[i] for i in tok.special_ids()}
    groups = []
    for (h, rel, tail), copy in zip(chosen, copies):
        coin = rng.random() < mnm_prob
        leak = bool(root_mask[h.pos : h.pos + h.length].any())  # the leak rule (docs/model.md §8.5)
        masked = coin or leak
        tail = list(tail)
        leaf_in = _replace(tail, tok.mask_id, allowed, rng) if masked else tail
        groups.append(_Group(h.pos, rel, h.length, leaf_in, tail if masked else [IGNORE] * len(tail)))
        stats.injected_groups += 1
        stats.copy_groups += copy
        stats.relations[rel] += 1
        stats.masked_groups += masked
        stats.leak_forced_groups += leak and not coin
        stats.masked_leaves += len(tail) if masked else 0
        stats.tail_tokens += len(tail)
        stats.copy_tokens += sum(spaceless[t] in present for t in tail)
    stats.samples += 1
    stats.masked_roots += int(root_mask.sum())
    return _Plan(inputs, labels, spans, groups)


def _assemble(plans: list[_Plan], cfg: EncoderConfig, pad_id: int, layout: str) -> Batch:
    """Place plans in the fixed (N = R(L+1)) or compact (N = R + G_max*L) layout."""
    if layout not in ("fixed", "compact"):
        raise ValueError(f"unknown layout {layout!r}: use 'fixed' or 'compact'")
    R, L = cfg.roots, cfg.leaves
    N = cfg.nodes_fixed if layout == "fixed" else cfg.nodes_compact
    B = len(plans)
    input_ids = np.full((B, N), pad_id, dtype=np.int64)
    valid = np.zeros((B, N), dtype=bool)
    is_leaf = np.zeros((B, N), dtype=bool)
    is_leaf[:, R:] = True
    slot_of = np.arange(N - R) % L + 1
    node_slot = np.zeros((B, N), dtype=np.int64)
    node_slot[:, R:] = slot_of
    node_root = np.zeros((B, N), dtype=np.int64)
    node_root[:, :R] = np.arange(R)
    if layout == "fixed":
        node_root[:, R:] = np.arange(N - R) // L
    relation = np.zeros((B, N), dtype=np.int64)
    head_len = np.zeros((B, N), dtype=np.int64)
    labels = np.full((B, N), IGNORE, dtype=np.int64)
    sbo_left = np.full((B, N), -1, dtype=np.int64)
    sbo_right = np.full((B, N), -1, dtype=np.int64)
    sbo_offset = np.zeros((B, N), dtype=np.int64)
    for b, p in enumerate(plans):
        n = len(p.inputs)
        input_ids[b, :n] = p.inputs
        valid[b, :n] = True
        labels[b, :n] = p.labels
        for s, e in p.spans:
            # Spans never hold [CLS]/[SEP], so both boundaries exist; as in the authors' collator ([Co], docs/model.md §0), every root span gets SBO.
            sbo_left[b, s : e + 1] = s - 1
            sbo_right[b, s : e + 1] = e + 1
            sbo_offset[b, s : e + 1] = np.arange(e - s + 1)
        assert len(p.groups) <= (R if layout == "fixed" else cfg.max_groups), "too many leaf groups"
        for g, grp in enumerate(p.groups):
            base = R + (grp.anchor if layout == "fixed" else g) * L
            k = len(grp.inputs)
            sl = slice(base, base + k)
            node_root[b, base : base + L] = grp.anchor
            input_ids[b, sl] = grp.inputs
            valid[b, sl] = True
            relation[b, sl] = grp.relation
            head_len[b, sl] = grp.head_len
            labels[b, sl] = grp.labels
    t = torch.from_numpy
    return Batch(t(input_ids), t(valid), t(is_leaf), t(node_root), t(node_slot), t(relation), t(head_len),
                 t(labels), t(sbo_left), t(sbo_right), t(sbo_offset))


def make_batch(samples: Sequence[Sample], cfg: EncoderConfig, tokenizer: Tokenizer, rng: np.random.Generator,
               layout: str = "compact", mlm_prob: float = 0.15, mnm_prob: float = 0.3, inject_prob: float = 0.7,
               relation_counts: Sequence[int] | None = None, copy_cap: float | None = None) -> tuple[Batch, BatchStats]:
    """A training batch: triples drawn and injected, roots span-masked, leaf groups masked.

    relation_counts: train triples per relation id (KGCorpus.relation_counts) for the
    count(r)^-0.5 draw; when None they are counted over `samples`.
    copy_cap: if set (docs/model.md §8.5: 0.1), groups whose tail occurs verbatim in the roots are
    dropped at random until they are at most this share of the batch's injected groups.
    """
    if (tokenizer.pad_id, tokenizer.mask_id) != (cfg.pad_id, cfg.mask_id) or tokenizer.vocab_size > cfg.vocab_size:
        raise ValueError(f"{tokenizer} does not match the encoder config (pad/mask ids, vocab_size {cfg.vocab_size})")
    if relation_counts is None:
        c = Counter(r for s in samples for h in s.heads for r, _ in h.triples)
        relation_counts = [c[r] for r in range(len(RELATIONS))]
    allowed = np.setdiff1d(np.arange(tokenizer.vocab_size), tokenizer.special_ids())
    stats = BatchStats()
    spaceless = tokenizer.spaceless_ids()
    chosen = [_choose(s, cfg, relation_counts, rng, inject_prob, stats) for s in samples]
    copies = [[is_copy(t, s.ids, spaceless) for _, _, t in ch] for s, ch in zip(samples, chosen)]
    if copy_cap is not None:
        _cap_copies(chosen, copies, copy_cap, rng, stats)
    plans = [_mask(s, ch, cp, cfg, tokenizer, rng, allowed, mlm_prob, mnm_prob, stats)
             for s, ch, cp in zip(samples, chosen, copies)]
    return _assemble(plans, cfg, cfg.pad_id, layout), stats


def link_query(sample: Sample, head: Head, relation: int, n_masked: int, cfg: EncoderConfig,
               layout: str = "compact") -> tuple[Batch, torch.Tensor]:
    """One graph with only `head` injected: its first n_masked leaf slots [MASK], nothing else masked.

    Returns the batch (B=1, labels all IGNORE) and the node indices of the masked slots,
    in slot order, for scoring candidate tails of n_masked tokens (docs/model.md §8.8).
    """
    if not 1 <= n_masked <= cfg.leaves:
        raise ValueError(f"n_masked must be in 1..{cfg.leaves}, got {n_masked}")
    if not 0 < relation < cfg.num_relations:
        raise ValueError(f"relation id {relation} is not in 1..{cfg.num_relations - 1}")
    ids = np.array(sample.ids, dtype=np.int64)
    group = _Group(head.pos, relation, head.length, [cfg.mask_id] * n_masked, [IGNORE] * n_masked)
    batch = _assemble([_Plan(ids, np.full(len(ids), IGNORE), [], [group])], cfg, cfg.pad_id, layout)
    base = cfg.roots + (head.pos if layout == "fixed" else 0) * cfg.leaves
    return batch, torch.arange(base, base + n_masked)
