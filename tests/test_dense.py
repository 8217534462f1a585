"""Dense vectors in the index and hybrid search, with a hashing fake embedder: vectors follow
incremental updates, model switches re-embed, vectors.faiss is rebuilt when bad, HNSW
agrees with flat, --no-dense stays lexical, fusion maths, and the CLI's modes."""
from __future__ import annotations

import json
import sqlite3
import sys
import types

import numpy as np
import pytest
from click.testing import CliRunner

import graphmer.cli.main as cli_main
from fake_embedder import HashEmbedder
from graphmer.index.embedder import EmbedError, Embedder
from graphmer.index.fusion import HybridConfig, fuse, graph_boost, normalised
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.records import EMBED_KINDS
from graphmer.index.search import Searcher, SearchError
from graphmer.index.store import Store
from graphmer.index.vectors import FAISS_NAME, VectorConfig, build_faiss, load_vectors, write_index_file


def dense_index(repo, emb=None, **kw):
    return build_index(repo, IndexConfig(jobs=1, embedder=emb, **kw))


def vector_table(repo) -> dict[str, bytes]:
    """qualname -> vector bytes, read straight from SQLite."""
    c = sqlite3.connect(repo / ".graphmer" / "index.db")
    rows = dict(c.execute("SELECT s.qualname, v.vector FROM vectors v JOIN symbols s ON s.id = v.symbol_id"))
    c.close()
    return rows


def qualnames(repo, ids) -> set[str]:
    c = sqlite3.connect(repo / ".graphmer" / "index.db")
    out = {q for i in ids for (q,) in c.execute("SELECT qualname FROM symbols WHERE id = ?", (i,))}
    c.close()
    return out


def test_fake_embedder_meets_the_protocol():
    assert isinstance(HashEmbedder(), Embedder)


def test_every_embeddable_symbol_gets_one_unit_vector(sample_repo):
    emb = HashEmbedder()
    report = dense_index(sample_repo, emb)
    store = Store(sample_repo / ".graphmer")
    kinds = dict(store.conn.execute("SELECT s.qualname, s.kind FROM symbols s"))
    ids, vecs = store.read_vectors()
    assert {q for q, k in kinds.items() if k in EMBED_KINDS} == set(vector_table(sample_repo))
    assert report.symbols_embedded == len(ids) == report.counts["vectors"] == 9
    assert vecs.shape == (9, 64) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert (store.meta["model_id"], store.meta["model_hash"], store.meta["dim"]) == ("hash-v1", emb.model_hash, 64)
    assert load_vectors(store).index.ntotal == 9 and not load_vectors(store).rebuilt  # written, consistent
    store.close()
    # The batch sizes follow embed_batch; shortest bodies first.
    emb2 = HashEmbedder(version="v2")
    dense_index(sample_repo, emb2, embed_batch=4)
    assert [len(c) for c in emb2.calls] == [4, 4, 1]


def test_incremental_updates_keep_vectors_and_faiss_consistent(sample_repo):
    emb = HashEmbedder()
    dense_index(sample_repo, emb)
    before = vector_table(sample_repo)

    again = dense_index(sample_repo, emb)  # nothing changed: nothing embedded
    assert again.symbols_embedded == 0 and len(emb.calls) == 1

    (sample_repo / "app/cli.py").write_text('def main():\n    """Entry point of the tool."""\n    return 1\n')
    emb.calls.clear()
    changed = dense_index(sample_repo, emb)
    assert qualnames(sample_repo, emb.embedded) == {"app.cli.main"}  # only the changed file's symbols
    assert changed.symbols_embedded == 1
    after = vector_table(sample_repo)
    assert "app.cli.helper" not in after and after["app.cli.main"] != before["app.cli.main"]
    assert {q: v for q, v in after.items() if not q.startswith("app.cli")} == {
        q: v for q, v in before.items() if not q.startswith("app.cli")
    }  # unchanged files kept their vectors (and symbol ids)

    (sample_repo / "app/cli.py").unlink()
    emb.calls.clear()
    deleted = dense_index(sample_repo, emb)
    assert deleted.files_deleted == 1 and emb.calls == []
    s = Searcher.open(sample_repo, embedder=emb)
    for mode in ("dense", "hybrid"):
        hits = s.search("entry point of the tool", top_k=20, mode=mode)
        assert hits and all(h.path != "app/cli.py" for h in hits), mode
    assert s.notes == []  # vectors.faiss was current
    s.close()
    store = Store(sample_repo / ".graphmer")
    assert store.conn.execute("SELECT count(*) FROM vectors WHERE symbol_id NOT IN (SELECT id FROM symbols)").fetchone() == (0,)
    assert load_vectors(store).index.ntotal == store.vector_count() == 7
    store.close()


def test_model_switch_reembeds_everything(sample_repo):
    old, new = HashEmbedder(), HashEmbedder(version="v2")
    dense_index(sample_repo, old)
    report = dense_index(sample_repo, new)
    assert report.symbols_embedded == report.counts["vectors"] == 9 and report.model_id == "hash-v2"
    assert len(new.embedded) == 9
    s = Searcher.open(sample_repo, embedder=old)  # the index's vectors are now v2's
    hits = s.search("save", mode="hybrid")
    assert s.mode_used == "lexical" and hits
    assert any("made by model 'hash-v2'" in n and "'hash-v1'" in n for n in s.notes)
    with pytest.raises(SearchError, match="dense search is unavailable: .*made by model 'hash-v2'"):
        s.search("save", mode="dense")
    s.close()


@pytest.mark.parametrize("damage", ["missing", "garbage", "foreign"])
def test_bad_vectors_file_is_rebuilt_with_a_note(sample_repo, damage):
    emb = HashEmbedder()
    dense_index(sample_repo, emb)
    path = sample_repo / ".graphmer" / FAISS_NAME
    if damage == "missing":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"\x00garbage\xff" * 50)
    else:  # a valid FAISS file that does not match the store
        rng = np.random.default_rng(0)
        write_index_file(build_faiss(np.arange(3), rng.standard_normal((3, 8)).astype(np.float32)), path)
    reason = {"missing": "was missing", "garbage": "was unreadable", "foreign": "was inconsistent with the index database"}[damage]
    s = Searcher.open(sample_repo, embedder=emb)
    hits = s.search("write the object to disk", mode="dense")
    assert hits[0].qualname == "app.base.Base.save"
    assert len(s.notes) == 1 and reason in s.notes[0] and "rebuilt it from the 9 vectors" in s.notes[0]
    s.close()
    store = Store(sample_repo / ".graphmer")
    assert not load_vectors(store).rebuilt  # the rebuilt file was saved
    store.close()
    path.unlink()  # the indexer rebuilds a missing file even when nothing else changed
    report = dense_index(sample_repo, emb)
    assert report.symbols_embedded == 0 and report.notes == [f"{FAISS_NAME} was missing; rebuilt it from the 9 vectors in the index database"]
    assert path.exists()


def test_stale_file_after_an_interrupted_write_is_rebuilt(sample_repo):
    emb = HashEmbedder()
    dense_index(sample_repo, emb)
    store = Store(sample_repo / ".graphmer")
    ids, vecs = store.read_vectors()
    store.put_vectors(ids[:1].tolist(), vecs[:1])  # as a run stopped before writing vectors.faiss leaves it
    loaded = load_vectors(store)
    assert loaded.rebuilt and loaded.reason == "out of date"
    store.close()


def test_version_1_index_is_upgraded(sample_repo):
    dense_index(sample_repo, None)
    db = sample_repo / ".graphmer" / "index.db"
    c = sqlite3.connect(db)
    c.execute("DROP TABLE vectors")
    c.execute("DELETE FROM _sqlite_migrations WHERE name = 'm002_vectors'")
    c.commit()
    c.close()
    meta = sample_repo / ".graphmer" / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "version": 1}))
    report = dense_index(sample_repo, HashEmbedder())
    from graphmer.index.store import FORMAT_VERSION

    assert report.counts["vectors"] == 9 and json.loads(meta.read_text())["version"] == FORMAT_VERSION  # upgraded to the current


def test_hnsw_agrees_with_flat():
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((400, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1000, 1400)
    from graphmer.index.vectors import VectorIndex

    flat = VectorIndex(build_faiss(ids, vecs, VectorConfig()))
    hnsw = VectorIndex(build_faiss(ids, vecs, VectorConfig(hnsw_threshold=100)))
    assert (flat.kind, hnsw.kind) == ("flat", "hnsw")
    queries = vecs[:20] + 0.05 * rng.standard_normal((20, 32)).astype(np.float32)
    for q in queries:
        assert hnsw.search(q, 5)[0][0] == flat.search(q, 5)[0][0]


def test_hnsw_through_the_index(sample_repo):
    emb = HashEmbedder()
    dense_index(sample_repo, emb, vectors=VectorConfig(hnsw_threshold=1))
    store = Store(sample_repo / ".graphmer")
    assert load_vectors(store).index.kind == "hnsw"
    store.close()
    s = Searcher.open(sample_repo, embedder=emb)
    top = s.search("write the object to disk", mode="dense", top_k=3)
    s.close()
    assert top[0].qualname == "app.base.Base.save"


def test_no_dense_index_searches_lexically(sample_repo):
    report = dense_index(sample_repo, None)
    assert report.counts["vectors"] == 0 and report.model_id is None and report.symbols_embedded == 0
    assert not (sample_repo / ".graphmer" / FAISS_NAME).exists()
    s = Searcher.open(sample_repo, embedder=HashEmbedder())
    hits = s.search("write the object to disk")
    assert s.mode_used == "lexical" and hits[0].qualname == "app.base.Base.save"
    assert len(s.notes) == 1 and "no vectors" in s.notes[0]
    with pytest.raises(SearchError, match="no vectors"):
        s.search("x", mode="dense")
    s.close()


def test_embedder_failure_keeps_finished_batches_and_rerun_completes(sample_repo):
    bad = HashEmbedder(fail_on_call=2)
    with pytest.raises(EmbedError, match=r"failed \(RuntimeError: out of memory .*the 4 vectors this run made before are kept"):
        dense_index(sample_repo, bad, embed_batch=4)
    assert len(vector_table(sample_repo)) == 4
    s = Searcher.open(sample_repo, embedder=HashEmbedder())
    assert s.search("save", mode="lexical")  # the lexical index is complete
    assert s.search("write the object to disk", mode="hybrid") and s.mode_used == "hybrid"
    assert any("5 symbol(s) have no vector yet" in n for n in s.notes)
    s.close()
    good = HashEmbedder()
    report = dense_index(sample_repo, good, embed_batch=4)
    assert report.symbols_embedded == 5 and set(good.embedded).isdisjoint(bad.calls[0])
    assert report.counts["vectors"] == 9


def test_dense_filters_over_fetch(sample_repo):
    emb = HashEmbedder()
    dense_index(sample_repo, emb)
    s = Searcher.open(sample_repo, embedder=emb, hybrid=HybridConfig(candidates=1))
    classes = s.search("write the object to disk", top_k=3, kinds=("class",), mode="dense")
    assert [h.kind for h in classes] == ["class"] * 3
    assert {h.path for h in s.search("save", top_k=5, path="app/base.py", mode="hybrid")} == {"app/base.py"}
    s.close()


def test_hybrid_explain_and_graph_signal(sample_repo):
    emb = HashEmbedder()
    dense_index(sample_repo, emb)
    s = Searcher.open(sample_repo, embedder=emb, hybrid=HybridConfig(w_graph=0.5))
    top = s.search("write the object to disk", mode="hybrid", explain=True)[0]
    assert top.qualname == "app.base.Base.save"
    assert set(top.why) == {"lexical", "dense", "fused", "graph"} and top.why["lexical"]["rank"] == 1
    assert top.score == pytest.approx(top.why["fused"] + top.why["graph"]["score"], abs=1e-5)
    assert top.why["graph"]["via"] in {"app.base.Base", "app.base.Base.serialize"}
    assert s.search("write the object to disk", mode="hybrid")[0].why == {}  # explain off
    s.close()
    s = Searcher.open(sample_repo, embedder=emb, hybrid=HybridConfig(w_graph=0.0))
    assert all("graph" not in h.why for h in s.search("save", mode="hybrid", explain=True))
    s.close()


def test_fusion_worked_examples():
    assert fuse({"lexical": [(1, 9.0), (2, 3.0)], "dense": [(2, 0.8)]}, {"lexical": 1, "dense": 1}, "rrf", 60) == pytest.approx(
        {1: 1 / 61, 2: 1 / 62 + 1 / 61}
    )
    assert normalised([(7, 4.0), (8, 3.0), (9, 2.0)]) == {7: 1.0, 8: 0.5, 9: 0.0}
    assert fuse({"a": [(1, 5.0), (2, 1.0)], "b": [(2, 0.9)]}, {"a": 2.0, "b": 1.0}, "score") == {1: 2.0, 2: 1.0}
    boost = graph_boost({1: 0.5, 2: 0.2, 3: 0.1}, {1: {2}, 2: {1, 3}, 3: {9}}, 0.1)
    assert {i: (round(b, 9), via) for i, (b, via) in boost.items()} == {1: (0.02, 2), 2: (0.05, 1)}
    assert graph_boost({1: 0.5, 2: 0.2}, {1: {2}}, 0.0) == {}
    with pytest.raises(ValueError, match="fusion must be one of"):
        HybridConfig(fusion="max")


# -- CLI ----------------------------------------------------------------------------------


@pytest.fixture
def fake_model(monkeypatch):
    """The CLI's model loader, answering with the fake (and recording what it was asked)."""
    asked = []

    def fake(model_path, dense, propagation=True):
        asked.append((model_path, dense))
        return HashEmbedder(version=model_path or "v1") if dense else None

    monkeypatch.setattr(cli_main, "_embedder", fake)
    return asked


def run(*args, input=None):
    return CliRunner().invoke(cli_main.cli, [str(a) for a in args], input=input, catch_exceptions=False)


def test_cli_index_search_modes_explain_and_status(sample_repo, fake_model):
    r = run("index", sample_repo, "--jobs", "1", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert (rep["symbols_embedded"], rep["vectors"], rep["model_id"]) == (9, 9, "hash-v1")
    for mode in ("hybrid", "dense", "lexical"):
        r = run("search", "write the object to disk", "--repo", sample_repo, "--mode", mode, "--explain", "--json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["mode"] == mode and out["notes"] == []
        top = out["hits"][0]
        assert top["qualname"] == "app.base.Base.save"
        expected = {"hybrid": {"lexical", "dense", "fused", "graph"}, "dense": {"dense"}, "lexical": {"lexical"}}[mode]
        assert set(top["why"]) == expected
    assert fake_model[-1] == (None, True)
    n_loads = len(fake_model)
    run("search", "save", "--repo", sample_repo, "--mode", "lexical")
    assert len(fake_model) == n_loads  # lexical search loads no model
    r = run("search", "write the object to disk", "--repo", sample_repo, "--explain")
    assert r.exit_code == 0 and "lexical #1" in r.output and "dense #1" in r.output
    r = run("search", "--queries", "-", "--repo", sample_repo, "--mode", "dense", "--explain", input='{"id": 1, "query": "disk"}\n')
    line = json.loads(r.stdout.splitlines()[0])
    assert line["mode"] == "dense" and set(line["hits"][0]["why"]) == {"dense"}
    st = json.loads(run("status", "--repo", sample_repo, "--json").output)
    assert (st["vectors"], st["model_id"], st["symbols_without_vectors"], st["vectors_file"]) == (9, "hash-v1", 0, "ok")
    assert "Dense: 9 vectors by hash-v1" in run("status", "--repo", sample_repo).output


def test_cli_no_dense_and_mismatched_model(sample_repo, fake_model):
    r = run("index", sample_repo, "--jobs", "1", "--no-dense", "--json")
    assert json.loads(r.output)["vectors"] == 0 and fake_model == [(None, False)]
    r = run("search", "save", "--repo", sample_repo, "--json")
    out = json.loads(r.output)
    assert out["mode"] == "lexical" and "no vectors" in out["notes"][0] and out["hits"]
    r = run("search", "save", "--repo", sample_repo, "--mode", "dense")
    assert r.exit_code == 1 and "dense search is unavailable" in r.output and "Traceback" not in r.output
    assert run("index", sample_repo, "--no-dense", "--model", "m").exit_code == 2

    run("index", sample_repo, "--jobs", "1", "--model", "v2")
    r = run("search", "save", "--repo", sample_repo)  # default model, but the index holds v2's vectors
    assert r.exit_code == 0 and "note: lexical results only" in r.output and "'hash-v2'" in r.output
    r = run("search", "save", "--repo", sample_repo, "--model", "v2", "--json")
    assert json.loads(r.output)["mode"] == "hybrid"


@pytest.mark.parametrize(
    "error",
    [ImportError("No module named 'torch'"), FileNotFoundError("no model at /x"), ValueError("bad config"), "CheckpointError"],
)
def test_cli_model_load_errors_are_one_line(sample_repo, monkeypatch, error):
    if error == "CheckpointError":
        from graphmer.model.checkpoint import CheckpointError

        error = CheckpointError("the default model is missing: reinstall graphmer")

    def load_embedder(path, **kw):
        raise error

    monkeypatch.setitem(sys.modules, "graphmer.model.embedder", types.SimpleNamespace(load_embedder=load_embedder))
    r = run("index", sample_repo, "--jobs", "1", "--model", "/x")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"cannot load the embedding model '/x': {error}" in r.output and "--no-dense" in r.output
    assert not (sample_repo / ".graphmer").exists()  # failed before touching anything


def test_snippets_follow_a_file_changed_since_the_last_search(tmp_path):
    from conftest import write_tree

    root = write_tree(tmp_path / "repo", {"conf.py": "def parse_config(path):\n    return open(path).read()\n"})
    build_index(root, IndexConfig(jobs=1))
    s = Searcher.open(root)
    try:
        assert s.search("parse config", mode="lexical")[0].snippet == "def parse_config(path):"
        assert s.search("parse config", mode="lexical")[0].snippet == "def parse_config(path):"  # from the cache
        (root / "conf.py").write_text("def parse_config(path):  # reads the whole config\n    return open(path).read()\n")
        assert s.search("parse config", mode="lexical")[0].snippet == "def parse_config(path):  # reads the whole config"
    finally:
        s.close()
