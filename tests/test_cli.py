"""The CLI as a user runs it: JSON contracts, batch search, graph, status, errors."""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

import graphmer.cli.main as cli_main
from graphmer.cli.main import cli


@pytest.fixture(autouse=True)
def _no_model(monkeypatch):
    """These tests are about the lexical index: no model is loaded (tests/test_dense.py has the dense ones)."""
    monkeypatch.setattr(cli_main, "_embedder", lambda model_path, dense, propagation=True: None)


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def test_index_then_search_json(sample_repo):
    r = run("index", sample_repo, "--json", "--jobs", "1")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["files"] == 4 and rep["files_parsed"] == 4
    assert rep["edges_by_relation"]["inherits_from"] == 2

    r = run("search", "store backed by a json file", "--repo", sample_repo / "app", "--json")
    assert r.exit_code == 0, r.output
    hits = json.loads(r.output)["hits"]
    top = hits[0]
    assert {k: top[k] for k in ("path", "start_line", "end_line", "name", "qualname", "kind", "language")} == {
        "path": "app/store.py", "start_line": 11, "end_line": 22, "name": "Store",
        "qualname": "app.store.Store", "kind": "class", "language": "python",
    }
    assert isinstance(top["score"], float) and top["score"] > 0
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_search_filters_and_table(sample_repo):
    run("index", sample_repo, "--jobs", "1")
    r = run("search", "save", "--repo", sample_repo, "--kind", "method", "--json")
    hits = json.loads(r.output)["hits"]
    assert {h["qualname"] for h in hits} == {"app.base.Base.save", "app.store.Store.save"}
    r = run("search", "save", "--repo", sample_repo, "--path", "app/base.py", "--json")
    assert {h["path"] for h in json.loads(r.output)["hits"]} == {"app/base.py"}
    r = run("search", "save", "--repo", sample_repo, "--lang", "go", "--json")
    assert json.loads(r.output)["hits"] == []
    r = run("search", "save the store", "--repo", sample_repo)
    assert r.exit_code == 0 and "app/store.py:14" in r.output


def test_batch_search(sample_repo, tmp_path):
    run("index", sample_repo, "--jobs", "1")
    lines = '{"id": 1, "query": "parse the config file"}\n{"id": "b", "query": "write the object to disk"}\nnot json\n'
    r = run("search", "--queries", "-", "--repo", sample_repo, "-k", "2", input=lines)
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.stdout.splitlines()]  # notes (e.g. "lexical results only") go to stderr
    assert [o["id"] for o in out] == [1, "b", None]
    assert out[0]["hits"][0]["qualname"] == "app.cli.main"
    assert out[1]["hits"][0]["qualname"] == "app.base.Base.save"
    assert len(out[1]["hits"]) <= 2
    assert out[2]["error"].startswith("line 3:")


def test_graph_command(sample_repo):
    run("index", sample_repo, "--jobs", "1")
    r = run("graph", "Store.save", "--repo", sample_repo, "--json")
    assert r.exit_code == 0, r.output
    view = json.loads(r.output)["symbols"][0]
    assert view["symbol"]["qualname"] == "app.store.Store.save"
    nb = {k: sorted(x["qualname"] for x in v) for k, v in view["neighbours"].items()}
    assert nb == {
        "callees": ["app.base.Base.save", "app.base.Base.serialize", "json.dumps", "requests.post"],
        "instantiates": ["app.store.StoreError"],
        "overrides": ["app.base.Base.save"],
        "raises": ["app.store.StoreError"],
        "container": ["app.store.Store"],
    }
    r = run("graph", "Base", "--repo", sample_repo, "--json")
    nb = json.loads(r.output)["symbols"][0]["neighbours"]
    assert [x["qualname"] for x in nb["subclasses"]] == ["app.store.Store"]
    assert run("graph", "Base", "--repo", sample_repo).exit_code == 0
    r = run("graph", "NoSuchThing", "--repo", sample_repo)
    assert r.exit_code == 1 and "no symbol named 'NoSuchThing'" in r.output


def test_status_reports_staleness(sample_repo):
    run("index", sample_repo, "--jobs", "1")
    st = json.loads(run("status", "--repo", sample_repo, "--json").output)
    assert (st["stale"], st["files"], st["integrity"], st["complete"]) == (False, 4, "ok", True)
    (sample_repo / "app" / "new.py").write_text("x = 1\n")
    (sample_repo / "app" / "cli.py").write_text("y = 2\n")
    st = json.loads(run("status", "--repo", sample_repo, "--json").output)
    assert (st["stale"], st["new_files"], st["changed_files"], st["deleted_files"]) == (True, 1, 1, 0)
    assert st["stale_sample"] == ["app/cli.py", "app/new.py"]
    assert "Stale" in run("status", "--repo", sample_repo).output


def test_errors_are_one_clear_line(tmp_path):
    r = run("index", tmp_path / "missing")
    assert r.exit_code == 1 and "does not exist" in r.output and "Traceback" not in r.output
    r = run("search", "x", "--repo", tmp_path)
    assert r.exit_code == 1 and "no graphmer index" in r.output and "graphmer index PATH" in r.output
    r = run("status", "--repo", tmp_path)
    assert r.exit_code == 1 and "no graphmer index" in r.output
    r = run("search", "--repo", tmp_path)
    assert r.exit_code == 2 and "either a QUERY or --queries" in r.output


def test_newer_index_refused_by_cli(sample_repo):
    run("index", sample_repo, "--jobs", "1")
    meta = sample_repo / ".graphmer" / "meta.json"
    m = json.loads(meta.read_text())
    meta.write_text(json.dumps({**m, "version": 7}))
    for args in (("index", sample_repo), ("search", "x", "--repo", sample_repo), ("status", "--repo", sample_repo)):
        r = run(*args)
        assert r.exit_code == 1 and "newer graphmer" in r.output, args


def test_bench_index_json(sample_repo):
    r = run("bench", "index", sample_repo, "--jobs", "1", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert (rep["files"], rep["touch_files_parsed"]) == (4, 1)
    assert rep["edges_by_relation"]["overrides"] == 1
    assert 0 < rep["noop_ratio"] < 1
    assert not (sample_repo / ".graphmer").exists()  # it measures a scratch copy


def test_bench_index_copies_no_named_pipe(sample_repo):
    os.mkfifo(sample_repo / "app" / "pipe.py")  # copying would block on it, or fail
    r = run("bench", "index", sample_repo, "--jobs", "1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["files"] == 4
