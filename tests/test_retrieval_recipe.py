"""The contrastive recipe: hard-negative batch order, the memory, cached gradients, exact resume."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from graphmer.model.config import PRESETS
from graphmer.model.encoder import GraphMER
from graphmer.model.kg_samples import Sample
from graphmer.model.retrieval import Pooler
from graphmer.model.retrieval_batches import Memory, epoch_order
from graphmer.model.retrieval_pairs import Pair
from graphmer.model.retrieval_step import contrastive_loss, embed_pairs, step_loss
from graphmer.model.retrieval_train import RetrievalConfig, train_retrieval
from graphmer.model.tokenizer import Tokenizer
from test_retrieval import doc_corpus


def test_epoch_order_keeps_runs_of_one_file_and_is_a_permutation():
    groups = [f"f{i % 5}" for i in range(23)]
    order = epoch_order(groups, epoch=1, seed=0, group=3)
    assert sorted(order) == list(range(23))
    assert order == epoch_order(groups, epoch=1, seed=0, group=3)  # what a resumed run cuts again
    assert order != epoch_order(groups, epoch=2, seed=0, group=3)
    runs, i = [], 0
    while i < len(order):  # maximal runs of one file
        j = i
        while j + 1 < len(order) and groups[order[j + 1]] == groups[order[i]]:
            j += 1
        runs.append(j - i + 1)
        i = j + 1
    assert sum(runs) == 23 and max(runs) <= 6 and sum(r >= 2 for r in runs) >= 5
    assert sorted(epoch_order(groups, 1, 0, group=1)) == list(range(23))


def test_loss_masks_repeated_queries_and_uses_the_memory():
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    c = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    base = contrastive_loss(q, c, ["a", "b", "c"], None, 0.05)
    mem = Memory(4, 8)
    mem.push(torch.nn.functional.normalize(torch.randn(2, 8), dim=-1), ["x", "y"])
    with_mem = contrastive_loss(q, c, ["a", "b", "c"], mem, 0.05)
    assert with_mem > base  # more negatives, same positives
    same = Memory(4, 8)
    same.push(c[1:2] * 1.0, ["a"])  # a memory entry with query a's text: masked for a
    masked = contrastive_loss(q, c, ["a", "b", "c"], same, 0.05)
    logits = q @ torch.cat([c, c[1:2]]).T / 0.05
    logits[0, 3] = -1e4
    manual = (torch.nn.functional.cross_entropy(logits, torch.arange(3))
              + torch.nn.functional.cross_entropy(c @ q.T / 0.05, torch.arange(3))) / 2
    assert torch.allclose(masked, manual, atol=1e-5)
    mem.push(torch.zeros(3, 8), ["p", "q", "r"])
    assert len(mem.queries) == 4 and mem.queries == ["y", "p", "q", "r"]


def _tiny(dropout: float):
    torch.manual_seed(1)
    cfg = dataclasses.replace(PRESETS["minilm-ws"], layers=1, hidden=32, heads=2, ffn=64, dropout=dropout,
                              relation_dropout=dropout)
    return GraphMER(cfg), Pooler(32)


def _pairs(n: int) -> list[Pair]:
    return [Pair(f"query number {i} about files", Sample(ids=(101, 2000 + i, 3000 + 2 * i, 102), word_start=(False, True, True, False),
                                                          heads=(), symbol_id=i, path="m.py"), "m.py") for i in range(n)]


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_cached_gradients_equal_the_plain_large_batch(dropout):
    tok = Tokenizer.minilm()
    model, pooler = _tiny(dropout)
    cfg = model.cfg
    rc = RetrievalConfig(leaves=False, grad_cache=3)
    pairs = _pairs(8)
    model.train()
    pooler.train()
    torch.manual_seed(7)
    loss_cached, _ = step_loss(model, pooler, pairs, tok, cfg, rc, None)
    cached = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    pooler.zero_grad()
    # The reference: the same sub-batches under the same RNG states, one graph, one backward.
    torch.manual_seed(7)
    qs, cs = zip(*(embed_pairs(model, pooler, pairs[i : i + 3], tok, cfg, rc) for i in range(0, 8, 3)))
    loss = contrastive_loss(torch.cat(qs), torch.cat(cs), [p.query for p in pairs], None, rc.temperature)
    loss.backward()
    plain = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    assert torch.allclose(loss_cached, loss.detach(), atol=1e-5)
    assert len(cached) == len(plain) > 0
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(cached, plain))


def _weights(run) -> dict:
    return load_file(str(run / "model" / "model.safetensors"))


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    corpus = doc_corpus(tmp_path / "src", copies=6)
    cfg = RetrievalConfig(layers=1, epochs=2, batch_size=4, threads=1, valid_fraction=0.2, roots=48, memory=6,
                          grad_cache=2, hard_negatives=2, checkpoint_every=2, model_id="t")
    whole = train_retrieval(cfg, tmp_path / "whole", [str(corpus)])
    steps = whole["steps"]
    assert steps >= 6
    part = train_retrieval(cfg, tmp_path / "part", [str(corpus)], stop_at_step=steps // 2 + 1)
    assert part["stopped"] and not (tmp_path / "part" / "model").exists()
    with pytest.raises(Exception, match="--resume"):
        train_retrieval(cfg, tmp_path / "part", [str(corpus)])
    done = train_retrieval(RetrievalConfig(), tmp_path / "part", [], resume=True)  # the run's own config
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "part")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert done["epoch2"]["mrr@10"] == whole["epoch2"]["mrr@10"]
    recs = [json.loads(line) for line in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    losses = {r["step"]: r["loss"] for r in recs if r.get("kind") == "step"}
    straight = {r["step"]: r["loss"] for r in map(json.loads, (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines())
                if r.get("kind") == "step"}
    assert losses == straight and [r["kind"] for r in recs].count("resume") == 1


def test_report_reads_a_resumed_retrieval_run(tmp_path):
    from graphmer.model.run_log import load_run

    corpus = doc_corpus(tmp_path / "src", copies=4)
    cfg = RetrievalConfig(layers=1, epochs=1, batch_size=4, threads=1, valid_fraction=0.3, roots=48, checkpoint_every=1)
    train_retrieval(cfg, tmp_path / "run", [str(corpus)], stop_at_step=2)
    train_retrieval(cfg, tmp_path / "run", [], resume=True)
    log = load_run(tmp_path / "run")
    assert log.kind == "retrieval" and len(log.evals) == 2 and len(log.starts) == 2
    assert [s["step"] for s in log.steps] == list(range(1, len(log.steps) + 1))


def test_training_on_a_built_corpus_and_its_card(tmp_path, monkeypatch):
    from graphmer.model import corpus_build
    from graphmer.model.card import render_card
    from graphmer.model.corpus_build import build_corpus
    from test_corpus import _lock_with_wheels
    from test_retrieval import TOPICS

    monkeypatch.setattr(corpus_build, "excluded_sources", lambda names: {})
    files = {}
    for c in range(4):
        body = ""
        for i, (doc, code) in enumerate(TOPICS):
            first, rest = code.format(n=f"task_{c}_{i}").split("\n", 1)
            body += f'{first}\n    """{doc.capitalize()} ({c} way)."""\n    x{c} = {i}\n{rest}\n'
        files[f"toolbox/m{c}.py"] = body
    lock, corpus = _lock_with_wheels(tmp_path, {"toolbox": files})
    manifest = build_corpus(lock, corpus, stdlib=False)
    assert manifest["pairs"] == 24
    cfg = RetrievalConfig(layers=1, epochs=1, batch_size=4, threads=1, valid_fraction=0.25, roots=48, memory=8,
                          corpus=str(corpus), model_id="t")
    summary = train_retrieval(cfg, tmp_path / "run", [])
    assert summary["pairs_train"] + summary["pairs_valid"] == 24
    assert (corpus / "index" / "toolbox-1.0.graphmer" / "index.db").exists()
    card = render_card(tmp_path / "run")
    assert "| toolbox | 1.0 | MIT | 24 | toolbox-1.0-py3-none-any.whl |" in card
    assert "Licences: MIT (1)" in card and "--corpus" in card and "--memory 8" in card
    assert "plus the code embeddings of the last 8 pairs" in card
    assert "## Graph vectors" not in card
    (tmp_path / "run" / "model" / "graph_vectors.json").write_text(json.dumps(
        {"variant": "propagate", "weights": {"callees": 0.2, "container": 0.1}, "fit_mrr": 0.53, "fit_plain_mrr": 0.51,
         "fitted_on": ["requests"], "mode": "keep-other-docs", "folds": 5, "grid": [0.0, 0.1, 0.2]}))
    card = render_card(tmp_path / "run")
    assert "with weights callees 0.2, container 0.1" in card and "packages requests (keep-other-docs mode, 5 folds)" in card
    assert "MRR@10 0.51 with the model's own vectors, 0.53 with the mixed ones" in card


def test_resume_refuses_pairs_that_changed(tmp_path):
    corpus = doc_corpus(tmp_path / "src", copies=3)
    cfg = RetrievalConfig(layers=1, epochs=1, batch_size=4, threads=1, valid_fraction=0.2, roots=48, checkpoint_every=1)
    train_retrieval(cfg, tmp_path / "run", [str(corpus)], stop_at_step=1)
    (corpus / "pkg" / "mod0.py").write_text((corpus / "pkg" / "mod0.py").read_text().replace("(variant 0)", "(changed)"))
    with pytest.raises(Exception, match="training pairs .* changed"):
        train_retrieval(cfg, tmp_path / "run", [], resume=True)
