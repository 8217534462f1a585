"""Shipped graph propagation: a model's graph_vectors.json reaches vectors.faiss, follows
edge changes, and an incremental index agrees with a clean one."""
from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from graphmer.index.graph_vectors import EDGE_RELATIONS, GRAPH_FILE, GraphFileError, propagated, read_propagation
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.store import Store
from graphmer.index.vectors import FAISS_NAME
from tests.fake_embedder import HashEmbedder

WEIGHTS = {"callees": 0.5, "container": 0.2}


class PropagatingEmbedder(HashEmbedder):
    def __init__(self, propagation: dict | None = None) -> None:
        super().__init__()
        self.propagation = dict(propagation or {})


def write_repo(root, helper_body="return 'alpha beta gamma'"):
    root.mkdir(parents=True, exist_ok=True)
    (root / "util.py").write_text(f"def helper():\n    {helper_body}\n")
    (root / "app.py").write_text(
        "from util import helper\n\n\nclass Parser:\n    \"\"\"Parse configuration files.\"\"\"\n\n"
        "    def run(self):\n        return helper()\n\n    def close(self):\n        pass\n"
    )


def faiss_vectors(index_dir):
    """{symbol id: the vector vectors.faiss holds}, and the store's own vectors and edges."""
    store = Store(index_dir)
    try:
        ids, vecs = store.read_vectors()
        edges = store.graph_edges(EDGE_RELATIONS)
        names = dict(store.conn.execute("SELECT id, qualname FROM symbols"))
    finally:
        store.close()
    index = faiss.read_index(str(index_dir / FAISS_NAME))
    held = {int(i): index.reconstruct(int(i)) for i in ids}
    return held, ids, vecs, edges, names


def by_name(held, names):
    return {names[i]: v for i, v in held.items()}


def test_read_propagation_accepts_the_fitted_file_and_refuses_bad_ones(tmp_path):
    assert read_propagation(tmp_path) == {}
    (tmp_path / GRAPH_FILE).write_text(json.dumps({"variant": "propagate", "weights": {"callees": 0.2, "callers": 0.0}}))
    assert read_propagation(tmp_path) == {"callees": 0.2}
    for bad in ("not json", json.dumps({"variant": "rerank", "weights": {}}), json.dumps({"variant": "propagate"}),
                json.dumps({"variant": "propagate", "weights": {"friends": 0.3}}),
                json.dumps({"variant": "propagate", "weights": {"callees": -1}})):
        (tmp_path / GRAPH_FILE).write_text(bad)
        with pytest.raises(GraphFileError, match="fit-graph"):
            read_propagation(tmp_path)


def test_the_index_stores_own_vectors_and_faiss_holds_the_propagated_ones(tmp_path):
    root = tmp_path / "repo"
    write_repo(root)
    build_index(root, IndexConfig(embedder=PropagatingEmbedder(WEIGHTS)))
    held, ids, vecs, edges, names = faiss_vectors(root / ".graphmer")
    assert any(rel == "calls" for _, _, rel in edges)
    want = propagated(ids, vecs, edges, WEIGHTS)
    assert np.allclose(np.stack([held[int(i)] for i in ids]), want, atol=1e-6)
    own = dict(zip((names[int(i)] for i in ids), vecs))
    mixed = by_name(held, names)
    assert not np.allclose(mixed["app.Parser.run"], own["app.Parser.run"])  # calls helper, inside Parser
    assert np.allclose(mixed["util.helper"], own["util.helper"], atol=1e-6)  # no callees, no container


def test_without_weights_or_with_the_ablation_faiss_holds_the_model_vectors(tmp_path):
    root = tmp_path / "repo"
    write_repo(root)
    build_index(root, IndexConfig(embedder=PropagatingEmbedder({})))
    held, ids, vecs, *_ = faiss_vectors(root / ".graphmer")
    assert np.allclose(np.stack([held[int(i)] for i in ids]), vecs, atol=1e-6)
    # switching the model's propagation on is a vectors.faiss rebuild, not a re-embedding
    emb = PropagatingEmbedder(WEIGHTS)
    build_index(root, IndexConfig(embedder=emb))
    assert emb.embedded == []
    held2, ids2, vecs2, edges2, _ = faiss_vectors(root / ".graphmer")
    assert np.allclose(np.stack([held2[int(i)] for i in ids2]), propagated(ids2, vecs2, edges2, WEIGHTS), atol=1e-6)


def test_an_incremental_index_agrees_with_a_clean_one_when_a_neighbour_changes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_repo(a)
    build_index(a, IndexConfig(embedder=PropagatingEmbedder(WEIGHTS)))
    before = by_name(faiss_vectors(a / ".graphmer")[0], faiss_vectors(a / ".graphmer")[4])
    # the callee changes; the caller's file does not, so only its propagated vector can follow
    write_repo(a, helper_body="return 'tokenize the yaml document'")
    (a / "app.py").touch()
    build_index(a, IndexConfig(embedder=PropagatingEmbedder(WEIGHTS)))
    write_repo(b, helper_body="return 'tokenize the yaml document'")
    build_index(b, IndexConfig(embedder=PropagatingEmbedder(WEIGHTS)))
    held_a, *_, names_a = faiss_vectors(a / ".graphmer")
    held_b, *_, names_b = faiss_vectors(b / ".graphmer")
    got, want = by_name(held_a, names_a), by_name(held_b, names_b)
    assert got.keys() == want.keys()
    for name in want:
        assert np.allclose(got[name], want[name], atol=1e-6), name
    assert not np.allclose(got["app.Parser.run"], before["app.Parser.run"])


def test_new_edges_alone_make_vectors_faiss_stale(tmp_path):
    root = tmp_path / "repo"
    write_repo(root)
    build_index(root, IndexConfig(embedder=PropagatingEmbedder(WEIGHTS)))
    store = Store(root / ".graphmer")
    try:
        gen = store.vectors_generation()
        store.replace_edges([])
        assert store.vectors_generation() == gen + 1
        store.set_propagation({})
        gen = store.vectors_generation()
        store.replace_edges([])
        assert store.vectors_generation() == gen  # no propagation: edges do not touch the vectors
    finally:
        store.close()


def test_fit_graph_writes_the_weights_file_and_covers_it_in_the_hashes(tmp_path, monkeypatch):
    """fit_propagation with the fake embedder: the file it writes is what read_propagation reads."""
    import graphmer.model.graph_fit as graph_fit
    from graphmer.model.checkpoint import hash_problem, record_hashes
    from graphmer.model.graph_fit import fit_propagation

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    record_hashes(model_dir)
    monkeypatch.setattr(graph_fit, "load_embedder", lambda *a, **k: PropagatingEmbedder())
    pkg = tmp_path / "pkg"
    write_pkg(pkg)
    doc = fit_propagation(model_dir, [pkg], tmp_path / "work", realistic=False)
    assert doc["variant"] == "propagate" and doc["fitted_on"] == ["pkg"]
    assert read_propagation(model_dir) == {k: v for k, v in doc["weights"].items() if v}
    assert hash_problem(model_dir, ["config.json", GRAPH_FILE]) is None


def write_pkg(pkg):
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "core.py").write_text(
        "def load_config(path):\n    \"\"\"Read the settings file from disk.\"\"\"\n    return open(path).read()\n\n\n"
        "def save_config(path, text):\n    \"\"\"Write the settings back to disk.\"\"\"\n    open(path, 'w').write(text)\n\n\n"
        "class Cache:\n    \"\"\"An in-memory cache.\"\"\"\n\n    def get(self, key):\n        \"\"\"Return the cached value for a key.\"\"\"\n"
        "        return self.data.get(key)\n\n    def put(self, key, value):\n        \"\"\"Store a value under a key.\"\"\"\n"
        "        self.data[key] = value\n        load_config(key)\n"
    )


def test_cli_no_graph_vectors_is_the_ablation(tmp_path, monkeypatch):
    import sys
    import types

    from click.testing import CliRunner

    from graphmer.cli.main import cli

    def load_embedder(path=None, propagation=True, **kw):
        return PropagatingEmbedder(WEIGHTS if propagation else {})

    monkeypatch.setitem(sys.modules, "graphmer.model.embedder", types.SimpleNamespace(load_embedder=load_embedder))
    root = tmp_path / "repo"
    write_repo(root)
    for args, want in ((["--no-graph-vectors"], {}), ([], WEIGHTS)):
        r = CliRunner().invoke(cli, ["index", str(root), "--jobs", "1", *args])
        assert r.exit_code == 0, r.output
        store = Store(root / ".graphmer")
        try:
            assert store.propagation_weights() == dict(sorted(want.items()))
        finally:
            store.close()


def test_status_names_the_propagation_the_index_applies(tmp_path):
    from graphmer.index.status import index_status

    root = tmp_path / "repo"
    write_repo(root)
    build_index(root, IndexConfig(embedder=PropagatingEmbedder(WEIGHTS)))
    assert index_status(root / ".graphmer")["graph_vectors"] == dict(sorted(WEIGHTS.items()))
    build_index(root, IndexConfig(embedder=PropagatingEmbedder({})))
    assert index_status(root / ".graphmer")["graph_vectors"] == {}
