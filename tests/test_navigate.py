"""Library parts of the language server, called without LSP: names at positions, the
navigator over the fixture project's graph, fuzzy symbol matching, server options."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from graphmer.index.indexer import build_index
from graphmer.index.navigate import Navigator, Site, Word, word_at
from graphmer.index.store import Store
from graphmer.index.symbol_match import EXACT, INITIALS, PREFIX, SymbolTable, name_score
from graphmer.lsp.state import Debouncer, ServerOptions

DATA = Path(__file__).parent / "data" / "lsp" / "proj"


@pytest.mark.parametrize(
    "source, line, col, want",
    [
        ("x = os.path.join(a)", 0, 9, Word("os.path", 7, 11)),
        ("x = os.path.join(a)", 0, 11, Word("os.path", 7, 11)),  # just after the name
        ("x = os.path.join(a)", 0, 13, Word("os.path.join", 12, 16)),
        ("        super().save(record)", 0, 17, Word("super().save", 16, 20)),
        ("        st.BaseStore().load()", 0, 24, Word("load", 23, 27)),  # a call's result: no static chain
        ("a = self . store", 0, 13, Word("self.store", 11, 16)),
        ("x = 1 + 2", 0, 6, None),
        ("", 3, 0, None),
    ],
)
def test_word_at(source, line, col, want):
    assert word_at(source, line, col) == want


def test_name_score_bands():
    assert name_score("save", "save") == EXACT
    assert name_score("gcf", "get_config_file") == pytest.approx(INITIALS - 0.15)
    assert name_score("HTTPC", "HTTPConnection") == pytest.approx(PREFIX - 0.14)
    assert name_score("cfg", "config") > 0  # a subsequence, the lowest band
    assert name_score("xyz", "config") == 0


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("nav") / "proj"
    shutil.copytree(DATA, root)
    build_index(root)
    s = Store(root / ".graphmer")
    yield root, s
    s.close()


def test_symbol_table_matches_members_and_nested_classes(store):
    _, s = store
    t = SymbolTable.from_store(s)
    assert [m.row.qualname for m in t.match("Opt")] == ["pkg.store.FileStore.Options"]
    assert [m.row.qualname for m in t.match("valid")] == ["pkg.store.FileStore.Options.validate"]
    assert [m.row.qualname for m in t.match("Store.sav")] == ["pkg.store.BaseStore.save", "pkg.store.FileStore.save"]
    assert [m.row.qualname for m in t.match("App.")] == ["pkg.app.App.run"]  # smart case: the class, not the module
    assert [m.row.qualname for m in t.match("fs")][:1] == ["pkg.store.FileStore"]  # initials
    assert t.match("") == [] and t.match("zzz") == []


def test_navigator_definitions_references_and_calls(store):
    root, s = store
    nav = Navigator(s, lambda p: (root / p).read_text().splitlines())
    app = (root / "pkg/app.py").read_text()
    assert nav.symbol_at("pkg/app.py", app, 7, 13).qualname == "pkg.store.FileStore"
    assert nav.symbol_at("pkg/app.py", app, 5, 6).qualname == "pkg.app.make_store"  # on its own definition
    assert nav.symbol_at("pkg/app.py", app, 13, 8) is None  # a local variable
    assert nav.symbol_at("missing.py", app, 7, 13) is None
    make = nav.by_qualname("pkg.app.make_store")
    assert nav.references(make.id, include_declaration=False) == [Site("pkg/app.py", 12, 12, 22), Site("pkg/app.py", 15, 21, 31)]
    (call,) = nav.incoming_calls(make.id)
    assert call.symbol.qualname == "pkg.app.App.run" and call.sites == (Site("pkg/app.py", 12, 12, 22), Site("pkg/app.py", 15, 21, 31))
    save = nav.by_qualname("pkg.store.FileStore.save")
    assert [(c.symbol.qualname, c.sites) for c in nav.outgoing_calls(save.id)] == [
        ("pkg.store.BaseStore.save", (Site("pkg/store.py", 25, 16, 20),)),
        ("pkg.store.FileStore.flush", (Site("pkg/store.py", 26, 13, 18),)),
    ]
    assert nav.counts(make.id) == {"callers": 1, "callees": 1}


def test_server_options_from_json():
    assert ServerOptions.from_json(None) == (ServerOptions(), [])
    opts, problems = ServerOptions.from_json({"model": "/m", "dense": False, "autoIndex": False, "reindexDelay": 2})
    assert (opts.model, opts.dense, opts.auto_index, opts.reindex_delay, problems) == ("/m", False, False, 2, [])
    opts, problems = ServerOptions.from_json({"dense": "no", "reindexDelay": -1, "x": 1})
    assert opts == ServerOptions()
    assert problems == [
        "initialization option 'dense' has a bad value 'no': using the default",
        "initialization option 'reindexDelay' has a bad value -1: using the default",
        "unknown initialization option 'x' ignored",
    ]
    assert ServerOptions.from_json([1])[1] == ["initializationOptions must be an object, not list: using defaults"]


def test_debouncer_runs_once_after_the_last_trigger():
    runs = []
    done = threading.Event()
    d = Debouncer(0.05, lambda: (runs.append(1), done.set()))
    for _ in range(5):
        d.trigger()
    assert done.wait(5)
    time.sleep(0.1)
    assert runs == [1]
    d.trigger()
    d.cancel()
    time.sleep(0.1)
    assert runs == [1]


def test_symbols_around_a_line_from_the_store_equal_a_parse(store, monkeypatch):
    """symbol_at reads the symbols around the cursor from the store when the text is the indexed
    one, and parses otherwise: both give the same answer on every line of every file."""
    root, store = store
    nav = Navigator(store, lambda p: None)
    parsed_calls = []
    import graphmer.index.navigate as navigate

    real_parse = navigate.parse_source
    monkeypatch.setattr(navigate, "parse_source", lambda *a, **k: parsed_calls.append(a[1]) or real_parse(*a, **k))
    checked = 0
    for path in store.file_paths():
        source = (root / path).read_text(encoding="utf-8")
        fg = nav.resolver.files[nav.file_index[path]]
        for line1 in range(1, source.count("\n") + 2):
            from_store = nav._around(path, source, fg.language, fg.module, line1)
            assert not parsed_calls  # the indexed text: no parse
            from_parse = nav._around(path, source + "\n", fg.language, fg.module, line1)  # another text: parsed
            assert parsed_calls.pop() == path and from_store == from_parse, (path, line1)
            checked += bool(from_store)
    assert checked > 10
