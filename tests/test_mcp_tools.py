"""The MCP tools as library functions (graphmer/mcp/tools.py, graph_tools.py, workspace.py) on
the sample project, indexed without a model: exact results for every tool, and the one-line
failures of bad arguments and unknown symbols."""
from __future__ import annotations

import pytest

from conftest import SAMPLE_PROJECT, write_tree
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.mcp import graph_tools, tools
from graphmer.mcp.results import ToolFailure, to_json
from graphmer.mcp.workspace import McpWorkspace

CHAIN = {"app/chain.py": '''
    def top():
        middle()


    def middle():
        bottom()
        bottom()


    def bottom():
        return 1
'''}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = write_tree(tmp_path_factory.mktemp("mcp") / "repo", {**SAMPLE_PROJECT, **CHAIN})
    build_index(root, IndexConfig(jobs=1))
    w = McpWorkspace(root, dense=False)
    w.start()
    w.state()  # waits for the open
    yield w
    w.stop()
    w.index.close()


@pytest.fixture
def st(ws):
    return ws.state()


def test_search_lists_hits_with_their_best_lines(st):
    r = tools.search(st, "save the store", k=3)
    assert to_json(r) == {
        "query": "save the store", "mode": "lexical",
        "hits": [
            {"path": "app/store.py", "start_line": 14, "end_line": 19, "qualname": "app.store.Store.save", "kind": "method",
             "score": r.hits[0].score, "lines": [{"line": 14, "text": "def save(self):"}, {"line": 15, "text": '"""Save the store, then push it."""'}]},
            {"path": "app/base.py", "start_line": 4, "end_line": 6, "qualname": "app.base.Base.save", "kind": "method",
             "score": r.hits[1].score, "lines": [{"line": 4, "text": "def save(self):"}]},
            {"path": "app/store.py", "start_line": 7, "end_line": 8, "qualname": "app.store.StoreError", "kind": "class",
             "score": r.hits[2].score, "lines": [{"line": 7, "text": "class StoreError(Exception):"}]},
        ],
        "notes": ["lexical results only: the index has no vectors (built with --no-dense or without a model); "
                  "run `graphmer index` with a model to add them"],
    }
    assert r.hits[0].score > r.hits[1].score > r.hits[2].score > 0
    assert r.text().splitlines()[:4] == [
        "3 hits for 'save the store' (lexical)",
        f"1. app/store.py:14-19  app.store.Store.save  method  {r.hits[0].score:.4g}",
        "   14: def save(self):",
        '   15: """Save the store, then push it."""',
    ]


def test_search_filters_by_kind_path_and_language(st):
    assert [h.qualname for h in tools.search(st, "save", kind="class", mode="lexical").hits] == []
    assert [h.qualname for h in tools.search(st, "save", path_glob="app/base.py", mode="lexical").hits] == ["app.base.Base.save"]
    assert tools.search(st, "save", language="go", mode="lexical").hits == []


@pytest.mark.parametrize("args, message", [
    (dict(query="x", k=0), "k must be an integer from 1 to 100, not 0"),
    (dict(query="x", k=-3), "k must be an integer from 1 to 100, not -3"),
    (dict(query="x", mode="fuzzy"), "mode must be one of hybrid, dense, lexical, not 'fuzzy'"),
    (dict(query="x", kind="table"), "kind must be one of class, enum, function, interface, method, module, struct, trait, not 'table'"),
    (dict(query="  "), "query is empty: give words or identifiers to search for"),
    (dict(query="x", mode="dense"), "dense search is unavailable: the index has no vectors (built with --no-dense or without a model); "
                                    "run `graphmer index` with a model to add them"),
])
def test_search_refuses_bad_arguments_in_one_line(st, args, message):
    with pytest.raises(ToolFailure) as e:
        tools.search(st, **args)
    assert str(e.value) == message


def test_find_symbol_matches_exact_suffix_and_fuzzy(st):
    assert to_json(tools.find_symbol(st, "save")) == {"name": "save", "total": 2, "symbols": [
        {"qualname": "app.base.Base.save", "kind": "method", "path": "app/base.py", "start_line": 4, "end_line": 6, "score": 100.0},
        {"qualname": "app.store.Store.save", "kind": "method", "path": "app/store.py", "start_line": 14, "end_line": 19, "score": 100.0},
    ]}
    assert [s.qualname for s in tools.find_symbol(st, "Store.save").symbols] == ["app.store.Store.save"]
    r = tools.find_symbol(st, "SE", limit=3)  # a prefix, initials, a substring
    assert [(s.qualname, s.score) for s in r.symbols] == [("app.base.Base.serialize", 69.91), ("app.store.StoreError", 54.9), ("app.base.Base", 44.96)]
    assert r.total == 8 and r.text().endswith("+5 more (raise limit)")
    assert [(s.qualname, s.score) for s in tools.find_symbol(st, "StErr").symbols] == [("app.store.StoreError", 24.6)]  # a subsequence


def test_symbol_context_gives_source_class_and_outline(st):
    r = tools.symbol_context(st, "Store.save", max_chars=120)
    assert to_json(r) == {
        "symbol": {"qualname": "app.store.Store.save", "kind": "method", "path": "app/store.py", "start_line": 14, "end_line": 19},
        "signature": "def save(self)", "doc": "Save the store, then push it.",
        "source": '14:     def save(self):\n15:         """Save the store, then push it."""\n16:         super().save()',
        "source_end_line": 16,
        "in_class": {"qualname": "app.store.Store", "path": "app/store.py", "start_line": 11, "end_line": 22,
                     "signature": "class Store(Base)", "doc": "A key-value store backed by a JSON file."},
        "outline": [
            {"qualname": "app.store.StoreError", "kind": "class", "start_line": 7, "end_line": 8},
            {"qualname": "app.store.Store", "kind": "class", "start_line": 11, "end_line": 22},
            {"qualname": "app.store.Store.save", "kind": "method", "start_line": 14, "end_line": 19},
            {"qualname": "app.store.Store.reload", "kind": "method", "start_line": 21, "end_line": 22},
        ],
        "outline_total": 4, "other_definitions": [],
    }
    assert "source (cut: lines 17-19 left out; raise max_chars):" in r.text()
    whole = tools.symbol_context(st, "app.store.Store.save")
    assert whole.source_end_line == 19 and whole.source.splitlines()[-1] == '19:         raise StoreError("read only")'
    assert tools.symbol_context(st, "requests.post").source == ""  # external: no source


def test_unknown_and_ambiguous_symbols_are_named(st):
    with pytest.raises(ToolFailure) as e:
        tools.symbol_context(st, "Stor")
    assert str(e.value) == ("no symbol named 'Stor' in the index; did you mean app.store.Store, app.store, app.store.StoreError? "
                            "(find_symbol matches names loosely, search by words)")
    with pytest.raises(ToolFailure) as e:
        graph_tools.callers(st, "save")
    assert str(e.value) == "'save' matches 2 symbols: app.base.Base.save, app.store.Store.save; give a qualified name"


def test_callers_follow_depth_with_call_sites(st):
    r = graph_tools.callers(st, "bottom", depth=2)
    assert to_json(r) == {
        "direction": "callers",
        "symbol": {"qualname": "app.chain.bottom", "kind": "function", "path": "app/chain.py", "start_line": 10, "end_line": 11},
        "depth": 2, "total": 2,
        "calls": [
            {"qualname": "app.chain.middle", "kind": "function", "path": "app/chain.py", "start_line": 5, "end_line": 7, "depth": 1,
             "via": "app.chain.bottom", "sites": [{"line": 6, "text": "bottom()"}, {"line": 7, "text": "bottom()"}], "sites_total": 2},
            {"qualname": "app.chain.top", "kind": "function", "path": "app/chain.py", "start_line": 1, "end_line": 2, "depth": 2,
             "via": "app.chain.middle", "sites": [{"line": 2, "text": "middle()"}], "sites_total": 1},
        ],
    }
    assert r.text() == ("callers of app.chain.bottom (function, app/chain.py:10-11), depth 2: 2\n"
                        "  app.chain.middle  app/chain.py:5-7\n    6: bottom()\n    7: bottom()\n"
                        "    app.chain.top  app/chain.py:1-2\n      2: middle()")
    assert graph_tools.callers(st, "bottom").total == 1
    short = graph_tools.callers(st, "bottom", depth=2, limit=1)
    assert short.total == 2 and len(short.calls) == 1 and short.text().endswith("+1 more (raise limit)")


def test_callees_leave_out_external_symbols(st):
    r = graph_tools.callees(st, "Store.save")
    assert [(c.qualname, [s.line for s in c.sites]) for c in r.calls] == [("app.base.Base.save", [16]), ("app.base.Base.serialize", [17]),
                                                                                   ("app.store.StoreError", [19])]  # raise StoreError(...)
    assert graph_tools.callees(st, "top", depth=3).total == 2


def test_neighbours_by_relation(st):
    r = graph_tools.neighbours(st, "Store.save", ["overrides", "callees", "raises"])
    assert to_json(r) == {
        "symbol": {"qualname": "app.store.Store.save", "kind": "method", "path": "app/store.py", "start_line": 14, "end_line": 19},
        "groups": [
            {"relation": "callees", "total": 4, "items": [
                {"qualname": "app.base.Base.save", "kind": "method", "path": "app/base.py", "start_line": 4, "line": 16},
                {"qualname": "app.base.Base.serialize", "kind": "method", "path": "app/base.py", "start_line": 8, "line": 17},
                {"qualname": "json.dumps", "kind": "external", "path": None, "start_line": 0, "line": 18},
                {"qualname": "requests.post", "kind": "external", "path": None, "start_line": 0, "line": 18}]},
            {"relation": "overrides", "total": 1, "items": [
                {"qualname": "app.base.Base.save", "kind": "method", "path": "app/base.py", "start_line": 4, "line": 0}]},
            {"relation": "raises", "total": 1, "items": [
                {"qualname": "app.store.StoreError", "kind": "class", "path": "app/store.py", "start_line": 7, "line": 19}]},
        ],
    }
    assert graph_tools.neighbours(st, "app.base.Base").text() == (
        "app.base.Base (class, app/base.py:1-9)\n"
        "  members (2)\n    app.base.Base.save  app/base.py:4\n    app.base.Base.serialize  app/base.py:8\n"
        "  instantiated by (1)\n    app.store.Store.reload  app/store.py:21 (line 22)\n"
        "  subclasses (1)\n    app.store.Store  app/store.py:11 (line 11)\n"
        "  container (1)\n    app.base  app/base.py:1\n"
        "  imported by (1)\n    app.store  app/store.py:1 (line 3)")
    assert "    +3 more (raise limit)" in graph_tools.neighbours(st, "Store.save", ["callees"], limit=1).text()
    with pytest.raises(ToolFailure) as e:
        graph_tools.neighbours(st, "Store.save", ["parents"])
    assert str(e.value).startswith("unknown relation(s) 'parents': give some of callees, instantiates, bases, ")


def test_references_and_definition_at_a_position(st):
    r = tools.references(st, "app/store.py", 11, 7, limit=3)
    assert to_json(r) == {
        "symbol": {"qualname": "app.store.Store", "kind": "class", "path": "app/store.py", "start_line": 11, "end_line": 22},
        "total": 6,
        "references": [
            {"path": "app/__init__.py", "line": 2, "column": 20, "text": "from .store import Store as Store"},
            {"path": "app/cli.py", "line": 1, "column": 17, "text": "from app import Store"},
            {"path": "app/cli.py", "line": 2, "column": 23, "text": "from app.store import Store as S"},
        ],
    }
    d = tools.definition(st, "app/cli.py", 7, 9)  # s = Store()
    assert to_json(d) == {
        "symbol": {"qualname": "app.store.Store", "kind": "class", "path": "app/store.py", "start_line": 11, "end_line": 22},
        "location": {"path": "app/store.py", "line": 11, "column": 7, "text": "class Store(Base):"},
        "signature": "class Store(Base)",
    }
    assert tools.definition(st, "app/store.py", 16, 17).symbol.qualname == "app.base.Base.save"  # super().save()


@pytest.mark.parametrize("path, line, column, message", [
    ("../outside.py", 1, 1, "../outside.py is outside the repository {root}: give a path relative to it"),
    ("app/cli.py", 99, 1, "line must be an integer from 1 to 14, not 99"),
    ("app/cli.py", 7, 40, "column must be an integer from 1 to 16, not 40"),
    ("app/missing.py", 1, 1, "app/missing.py is not in the index (not a source file graphmer indexes, or new: call reindex)"),
    ("app/cli.py", 4, 1, "no indexed symbol is named at app/cli.py:4:1 (''); put the column on a name"),
])
def test_positions_off_the_file_are_refused(st, ws, path, line, column, message):
    with pytest.raises(ToolFailure) as e:
        tools.definition(st, path, line, column)
    assert str(e.value) == message.format(root=ws.root)


def test_index_status_and_reindex(ws):
    s = ws.status()
    assert (s.root, s.state, s.message, s.build) == (str(ws.root), "ready", "", None)
    assert {k: s.index[k] for k in ("files", "symbols", "vectors", "stale")} == {"files": 5, "symbols": 17, "vectors": 0, "stale": False}
    started = ws.reindex()
    assert started.started and started.message.startswith(f"re-indexing {ws.root} in the background")
    assert ws.wait_build(60)
    assert ws.status().state == "ready"


def test_a_workspace_without_an_index_says_it_is_indexing(tmp_path):
    root = write_tree(tmp_path / "repo", SAMPLE_PROJECT)
    w = McpWorkspace(root, dense=False)
    w.index.expect_build()  # as start() does, before the build thread runs
    with pytest.raises(ToolFailure) as e:
        w.state()
    assert str(e.value) == f"graphmer is indexing {root}: 0% done (stage starting, 0/0); ask again shortly"
    assert w.status().state == "indexing"
    w.index.build.running = False
    with pytest.raises(ToolFailure) as e:
        w.state()
    assert str(e.value) == f"no graphmer index in {root}: call reindex (or run `graphmer index {root}`)"
    w.start()
    assert w.wait_build(60)
    assert [s.qualname for s in tools.find_symbol(w.state(), "Store.save").symbols] == ["app.store.Store.save"]
    w.stop()
    w.index.close()


def test_the_server_opens_the_index_without_building_a_completer(ws):
    # completion is the language server's; the MCP server's open ends without it (seconds on a large index)
    assert not ws.index.opening and ws.state().completer is None and ws.index.options.completion is False


def test_symbol_context_of_an_overloaded_function_is_its_implementation(tmp_path):
    root = write_tree(tmp_path / "repo", {"conv.py": '''
        from typing import overload


        @overload
        def convert(x: int) -> int: ...
        @overload
        def convert(x: str) -> str: ...
        def convert(x):
            """Convert x, whatever it is."""
            return str(x)


        def use():
            return convert(1)
    '''})
    build_index(root, IndexConfig(jobs=1))
    w = McpWorkspace(root, dense=False)
    w.start()
    try:
        got = tools.symbol_context(w.state(), "convert")
        assert (got.symbol.start_line, got.doc) == (8, "Convert x, whatever it is.")
        assert got.source.splitlines()[0] == "8: def convert(x):", got.source
        assert got.other_definitions == ["conv.py:5", "conv.py:7"], got.other_definitions  # the stubs
        # the graph's edges hang on the name's first definition: the graph tools still find them
        assert [c.qualname for c in graph_tools.calls(w.state(), "convert", incoming=True).calls] == ["conv.use"]
    finally:
        w.stop()
        w.index.close()
