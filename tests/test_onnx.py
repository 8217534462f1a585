"""Torch-free inference (issue 18): the ONNX export equals the torch network, vectors do not
depend on the batch, incremental and clean indexes agree, and index, search and the
language server run where torch cannot be imported."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from graph_batches import small_config
from test_retrieval import doc_corpus

from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.store import Store
from graphmer.model.embedder import DEFAULT_MODEL, load_embedder
from graphmer.model.encoder import GraphMER
from graphmer.model.folder import CheckpointError, file_sha256
from graphmer.model.onnx_export import export_onnx
from graphmer.model.retrieval import Pooler
from graphmer.model.tokenizer import Tokenizer

REPO = Path(__file__).resolve().parent.parent


def _cli(*args):
    from graphmer.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return doc_corpus(tmp_path_factory.mktemp("onnx") / "src", copies=3)


@pytest.fixture(scope="module")
def leafy_folder(tmp_path_factory, corpus) -> Path:
    """A tiny untrained search model WITH leaves and a non-neutral decay mask, exported in float32."""
    from graphmer.model.retrieval_train import RetrievalConfig, save_embedder

    texts = [p.read_text() for p in corpus.rglob("*.py")]
    tok = Tokenizer.train_bpe(texts, vocab_size=400)
    torch.manual_seed(0)
    # hidden 48: unlike MAX_HEAD (32), so that a mixed-up head and hidden axis cannot pass
    model = GraphMER(small_config(vocab_size=tok.vocab_size, pad_id=tok.pad_id, mask_id=tok.mask_id, roots=48, hidden=48, ffn=96,
                                  max_positions=64, max_groups=8, decay_gate_init=1.0))
    pooler = Pooler(model.cfg.hidden)
    torch.nn.init.normal_(pooler.proj.weight, std=0.2)
    folder = save_embedder(tmp_path_factory.mktemp("leafy") / "model", model, pooler, tok,
                           RetrievalConfig(model_id="leafy", leaves=True), half=False)
    export_onnx(folder, quantize=False)
    return folder


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory, corpus):
    d = tmp_path_factory.mktemp("idx")
    build_index(corpus, IndexConfig(index_dir=str(d)))
    store = Store(d)
    ids = [r[0] for r in store.conn.execute("SELECT id FROM symbols WHERE kind IN ('function','method','class') ORDER BY id")]
    yield store, ids
    store.close()


def test_export_equals_the_torch_network_with_leaves(leafy_folder, corpus_index):
    store, ids = corpus_index
    ref = load_embedder(leafy_folder, quantize=False)  # torch, float32
    onnx = load_embedder(leafy_folder, backend="onnx")
    assert onnx.model_id == "leafy-onnx-float32" and onnx.leaves and ref.leaves
    noleaves = load_embedder(leafy_folder, quantize=False, leaves=False).embed_symbols(store, ids)
    want = ref.embed_symbols(store, ids)
    assert np.abs(noleaves - want).max() > 1e-2  # the symbols carry leaves, so H-GAT is exercised
    np.testing.assert_allclose(onnx.embed_symbols(store, ids), want, atol=2e-5)
    # the no-leaves ablation of the same model, on both backends
    np.testing.assert_allclose(load_embedder(leafy_folder, backend="onnx", leaves=False).embed_symbols(store, ids), noleaves, atol=2e-5)
    q = ["read the configuration file", "send an email", "x"]
    np.testing.assert_allclose(onnx.embed_queries(q), ref.embed_queries(q), atol=2e-5)


def test_default_export_equals_the_torch_network(tmp_path, corpus_index):
    store, ids = corpus_index
    fp32 = shutil.copytree(DEFAULT_MODEL, tmp_path / "m", ignore=shutil.ignore_patterns("model.onnx", "onnx.json"))
    export_onnx(fp32, quantize=False)  # the shipped weights, float32: the neutral-mask graph
    ref = load_embedder(fp32, quantize=False).embed_symbols(store, ids[:12])
    np.testing.assert_allclose(load_embedder(fp32).embed_symbols(store, ids[:12]), ref, atol=2e-5)
    shipped = load_embedder(None)  # the int8 model.onnx in the package
    assert shipped.model_id == "graphmer-default-onnx-int8"
    cos = (shipped.embed_symbols(store, ids[:12]) * ref).sum(1)
    assert cos.min() > 0.97 and cos.mean() > 0.985


def test_vectors_do_not_depend_on_the_batch(corpus_index):
    store, ids = corpus_index
    e = load_embedder(None, threads=2)
    together = e.embed_symbols(store, ids)
    alone = np.concatenate([e.embed_symbols(store, [i]) for i in ids])
    assert np.abs(together - alone).max() <= 1e-6
    single_thread = load_embedder(None, threads=1).embed_symbols(store, ids[::-1])[::-1]
    assert np.abs(together - single_thread).max() <= 1e-6


def _vectors_by_symbol(index_dir: Path) -> dict:
    store = Store(index_dir)
    try:
        ids, vecs = store.read_vectors()
        keys = {i: (p, line, kind) for i, p, line, kind in store.vector_symbols()}
        return {keys[i]: v for i, v in zip(ids.tolist(), vecs)}
    finally:
        store.close()


def test_incremental_index_equals_clean_index(tmp_path):
    from graphmer.index.search import Searcher

    inc, clean = tmp_path / "inc", tmp_path / "clean"
    doc_corpus(inc, copies=3)
    assert _cli("index", inc, "--jobs", "1").exit_code == 0
    mod = inc / "pkg" / "mod1.py"
    mod.write_text(mod.read_text() + "\n\ndef checksum_all(items):\n    return [task_1_2(x) for x in items]\n")
    (inc / "pkg" / "mod2.py").unlink()
    r = _cli("index", inc, "--jobs", "1")
    assert r.exit_code == 0, r.output
    shutil.copytree(inc, clean, ignore=shutil.ignore_patterns(".graphmer"))
    assert _cli("index", clean, "--jobs", "1").exit_code == 0
    a, b = _vectors_by_symbol(inc / ".graphmer"), _vectors_by_symbol(clean / ".graphmer")
    assert set(a) == set(b) and len(a) > 15
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) <= 1e-6
    embedder = load_embedder(None)
    for query in ("compute the checksum of a byte string", "send an email message", "sort records by date"):
        for mode in ("dense", "hybrid"):
            hits = []
            for root in (inc, clean):
                s = Searcher.open(root, embedder=embedder)
                try:
                    hits.append([(h.path, h.start_line) for h in s.search(query, top_k=10, mode=mode)])
                finally:
                    s.close()
            assert hits[0] == hits[1] and hits[0]


def test_export_command_and_its_errors(leafy_folder, corpus_index, tmp_path):
    bare = shutil.copytree(leafy_folder, tmp_path / "m", ignore=shutil.ignore_patterns("model.onnx", "onnx.json"))
    r = _cli("export", bare, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["quantization"] == "int8" and Path(info["onnx"]) == bare / "model.onnx"
    rec = json.loads((bare / "sha256.json").read_text())["files"]
    assert rec["model.onnx"] == file_sha256(bare / "model.onnx") and rec["onnx.json"] == file_sha256(bare / "onnx.json")
    int8 = load_embedder(bare)
    assert int8.model_id == "leafy-onnx-int8"
    store, ids = corpus_index  # the int8 graph with leaves loads, and stays near the float32 network
    cos = (int8.embed_symbols(store, ids) * load_embedder(bare, quantize=False).embed_symbols(store, ids)).sum(1)
    assert cos.min() > 0.9
    r = _cli("export", tmp_path / "nowhere")
    assert r.exit_code == 1 and r.output.startswith("Error: no model folder at") and r.output.count("\n") == 1
    r = _cli("export", tmp_path)
    assert r.exit_code == 1 and "is not a graphmer search model" in r.output and r.output.count("\n") == 1


def test_a_stale_or_missing_export_is_refused_in_one_line(leafy_folder, tmp_path):
    stale = shutil.copytree(leafy_folder, tmp_path / "stale")
    meta = json.loads((stale / "onnx.json").read_text())
    meta["source"]["model.safetensors"] = "0" * 64  # exported from other weights than the folder's
    (stale / "onnx.json").write_text(json.dumps(meta))
    subprocess.run([sys.executable, "-m", "graphmer.model.folder", "--replace", str(stale)], check=True, capture_output=True)
    with pytest.raises(CheckpointError, match=r"model.onnx was exported from another model.safetensors than the folder's; "
                                              r"run `graphmer export"):
        load_embedder(stale)
    missing = shutil.copytree(leafy_folder, tmp_path / "missing", ignore=shutil.ignore_patterns("onnx.json"))
    with pytest.raises(CheckpointError, match="lacks onnx.json: run `graphmer export"):
        load_embedder(missing)
    (missing / "model.onnx").unlink()
    assert load_embedder(missing).model_id == "leafy-int8"  # auto: no export yet, the torch weights


NO_TORCH = ("raise ModuleNotFoundError(\"No module named 'torch' (blocked by graphmer's tests)\", name='torch')\n")


@pytest.fixture
def no_torch_env(tmp_path) -> dict:
    """An environment whose Python cannot import torch (a shadow package that raises)."""
    shadow = tmp_path / "shadow" / "torch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(NO_TORCH)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "shadow"), str(REPO)]))
    check = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert check.returncode == 1 and "blocked by graphmer's tests" in check.stderr
    return env


def _graphmer(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "graphmer.cli.main", *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_index_and_search_run_without_torch(no_torch_env, tmp_path):
    root = doc_corpus(tmp_path / "repo", copies=2)
    r = _graphmer(no_torch_env, "index", root, "--jobs", "1", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["symbols_embedded"] > 10
    for mode in ("dense", "hybrid"):
        r = _graphmer(no_torch_env, "search", "read the configuration file", "--mode", mode, "--repo", root, "--json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["mode"] == mode and out["hits"][0]["name"].startswith("task_") and not out["notes"]
    r = _graphmer(no_torch_env, "train", root, "--out", tmp_path / "run")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("Error: `graphmer train` needs torch, which is not installed: pip install 'graphmer[train]'")


def test_a_search_imports_no_torch(tmp_path):
    root = doc_corpus(tmp_path / "repo", copies=1)
    assert _cli("index", root, "--jobs", "1").exit_code == 0
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "graphmer.cli.main", "search", "read the file",
                        "--repo", str(root)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "onnxruntime" in imported and "faiss" in imported
    assert not {m for m in imported if m == "torch" or m.startswith("torch.")}


@pytest.mark.asyncio
async def test_language_server_searches_without_torch(no_torch_env, tmp_path):
    from lsprotocol import types
    from pygls.uris import from_fs_path
    from pytest_lsp import ClientServerConfig, client_capabilities

    root = doc_corpus(tmp_path / "repo", copies=2)
    client = await ClientServerConfig(server_command=[sys.executable, "-m", "graphmer.cli.main", "lsp", "-v"],
                                      server_env=no_torch_env).start()
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"), root_uri=from_fs_path(str(root)),
            workspace_folders=[types.WorkspaceFolder(uri=from_fs_path(str(root)), name="repo")]))
        import asyncio

        got = None
        for _ in range(600):  # the index builds in the background; a dense search waits for the model
            try:
                got = await client.workspace_execute_command_async(types.ExecuteCommandParams(
                    command="graphmer.search", arguments=["send an email message to the server", {"mode": "dense"}]))
                break
            except Exception as e:  # "indexing ..." until the first index is built
                assert "dense search is unavailable" not in str(e), e
                await asyncio.sleep(0.1)
        assert got and got[0]["name"].startswith("task_")
    finally:
        await client.shutdown_session()


def test_bench_export_measures_each_quantization(leafy_folder, corpus):
    from graphmer.bench.export import compare_quantizations

    r = compare_quantizations(leafy_folder, corpus, threads=2, limit=20)
    assert r["symbols"] == 20 and list(r["schemes"]) == ["torch-int8", "onnx-float32", "onnx-int8-weights", "onnx-int8-dynamic"]
    f32, dyn = r["schemes"]["onnx-float32"], r["schemes"]["onnx-int8-dynamic"]
    assert f32["cos_min"] > 0.9999 and f32["batch_vs_alone_max"] < 1e-4  # the export is the network
    assert dyn["bytes"] < f32["bytes"] and 0.5 < dyn["cos_mean"] <= 1.0001
    # dynamic int8 scales a run's activations by the whole run: 32 symbols in one run move each other's vectors
    assert dyn["batch_vs_alone_max"] > 1e-4
    assert all(v["symbols_per_s_batch32"] > 0 for v in r["schemes"].values())


def test_language_server_takes_the_prefetched_shipped_model_only_when_no_other_is_asked_for(tmp_path, monkeypatch,
                                                                                              leafy_folder):
    from concurrent.futures import Future

    import graphmer.lsp.state as state
    from graphmer.lsp.state import ServerOptions, WorkspaceIndex

    prefetched = object()
    fut: Future = Future()
    fut.set_result(prefetched)
    monkeypatch.setattr(state, "_default_model", fut)
    assert WorkspaceIndex(tmp_path, ServerOptions()).embedder() is prefetched
    own = WorkspaceIndex(tmp_path, ServerOptions(model=str(leafy_folder))).embedder()
    assert own is not prefetched and own.model_id == "leafy-onnx-float32"
    assert WorkspaceIndex(tmp_path, ServerOptions(dense=False)).embedder() is None
    failed: Future = Future()
    failed.set_result(None)  # the prefetch failed: the model loads (and reports) when used
    monkeypatch.setattr(state, "_default_model", failed)
    assert WorkspaceIndex(tmp_path, ServerOptions()).embedder().model_id == "graphmer-default-onnx-int8"
