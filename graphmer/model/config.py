"""One config dataclass for the GraphMER encoder, its presets, and the relation table.

See docs/model.md §8 (the adaptation to code) for where each value comes from.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# Relation ids for leaves (docs/model.md §8.2; 0 = no relation / padding). The index's relations
# map onto them in graphmer/model/leafy.py; ids are part of the checkpoint format, never reorder.
RELATIONS = (
    "<none>",
    "calls",
    "callee_returns",
    "instantiates",
    "imported_from",
    "member_of",
    "overrides",
    "called_by",
    "tested_by",
    "inherits_from",
    "param_type",
    "returns_type",
    "raises",
    "catches",
    "decorated_by",
    "attr_type",
)
NUM_RELATIONS = len(RELATIONS)  # 16, as in the spec's configs


@dataclass(frozen=True)
class EncoderConfig:
    """Everything that shapes the network; the checkpoint carries it (config.json)."""

    vocab_size: int = 8192  # tokenizer vocabulary (BPE 8k for from-scratch CPU presets)
    hidden: int = 256  # model width H
    layers: int = 4  # transformer layers
    heads: int = 4  # attention heads
    ffn: int = 1024  # feed-forward inner width
    roots: int = 128  # R: root (code token) slots, [CLS] and [SEP] included
    leaves: int = 4  # L: leaf slots per root
    max_groups: int = 24  # G_max: leaf groups kept in the compact layout
    num_relations: int = NUM_RELATIONS
    max_positions: int = 512  # learned absolute positions (roots; a leaf uses its anchor's)
    type_vocab_size: int = 2  # BERT token types (only type 0 is used); kept for warm starts
    dropout: float = 0.1  # hidden and attention dropout
    relation_dropout: float = 0.3  # dropout on the entries of W_r and a_r (paper: 0.3)
    decay_lambda: float = 0.6  # λ of the attention decay mask (paper run: 0.6)
    decay_p_init: float = 1.0  # initial p_h (learnable, one per head, shared by layers)
    # f' = 1 + g_h (f - 1), g_h learnable per head: 1.0 is the paper's mask; a warm start
    # begins at 0.0, exactly neutral yet trainable (a large p would also be neutral but
    # would sit where GELU has no gradient).
    decay_gate_init: float = 1.0
    decay_mode: str = "multiply"  # "multiply": S ⊙ f (official); "additive": S + ln f (SDPA)
    use_hgat: bool = True  # False: leaves keep their plain token embeddings (ablation)
    use_positions: bool = True  # learned positions (a deviation from the paper; ablatable)
    layer_norm_eps: float = 1e-12
    sbo_max_offset: int = 8  # SBO offset embeddings (spans are ≤ 7 tokens)
    pad_id: int = 0  # token ids the model needs to know (set from the tokenizer)
    mask_id: int = 3
    tokenizer: str = "bpe"  # "bpe" (trained here) or "wordpiece" (a warm start's own)
    warm_start: str = ""  # "minilm": roots initialised from all-MiniLM-L6-v2

    @property
    def nodes_compact(self) -> int:
        """N of the compact layout: roots then max_groups leaf groups."""
        return self.roots + self.max_groups * self.leaves

    @property
    def nodes_fixed(self) -> int:
        """N of the fixed layout: every root with all its leaf slots, R(L+1)."""
        return self.roots * (self.leaves + 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown encoder config fields {unknown}: written by a newer graphmer?")
        return cls(**d)


PRESETS: dict[str, EncoderConfig] = {
    # For tests and smoke runs: seconds per hundred steps on a laptop.
    "tiny": EncoderConfig(vocab_size=512, hidden=64, layers=2, heads=2, ffn=128, roots=64, leaves=4, max_groups=8),
    # Spec CPU-S: 256/4/4/1024, R=128, L=4, G_max=24 (N=224 without the graph token).
    "cpu-s": EncoderConfig(),
    # Spec CPU-M.
    "cpu-m": EncoderConfig(hidden=320, layers=6, heads=5, ffn=1280),
    # Paper scale (spec GPU-B): 512/12/8/2048, 32k BPE, L=7, every leaf group.
    "gpu-b": EncoderConfig(vocab_size=32768, hidden=512, layers=12, heads=8, ffn=2048, leaves=7, max_groups=128),
    # Warm start from all-MiniLM-L6-v2 (BERT, 6 x 384, 12 heads, WordPiece 30,522).
    # The decay mask starts neutral (gate 0) so a leafless input gives MiniLM's outputs.
    "minilm-ws": EncoderConfig(
        vocab_size=30522, hidden=384, layers=6, heads=12, ffn=1536, dropout=0.1,
        decay_gate_init=0.0, tokenizer="wordpiece", warm_start="minilm", pad_id=0, mask_id=103,
    ),
}
# The search model's base: MiniLM's layers 0, 2, 4 (half the cost per token), 128 roots.
PRESETS["minilm-ws3"] = dataclasses.replace(PRESETS["minilm-ws"], layers=3)
