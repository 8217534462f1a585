"""Python name resolution: exact edges on a small project (imports with aliases,
relative imports, re-exports, self./super() through a base class, unresolved calls)."""
from __future__ import annotations

import sqlite3

import pytest

from graphmer.index.graph import FileGraph, Resolver, absolute_import
from graphmer.index.indexer import IndexConfig, build_index, module_names
from graphmer.index.parse import parse_source


def edges_of(repo):
    c = sqlite3.connect(repo / ".graphmer" / "index.db")
    rows = c.execute(
        "SELECT a.qualname, e.relation, b.qualname, e.line FROM edges e "
        "JOIN symbols a ON a.id = e.src JOIN symbols b ON b.id = e.dst"
    ).fetchall()
    c.close()
    return set(rows)


def test_sample_project_edges(sample_repo):
    build_index(sample_repo, IndexConfig(jobs=1))
    edges = {e for e in edges_of(sample_repo) if e[1] != "contains"}
    assert edges == {
        ("app", "imports", "app.store.Store", 2),  # re-export in the package
        ("app.base.Base.save", "calls", "app.base.Base.serialize", 6),
        ("app.cli", "imports", "app.store.Store", 1),  # through app/__init__.py
        ("app.cli", "imports", "app.store.Store", 2),
        ("app.cli.main", "calls", "?undefined_function", 10),  # unresolved: never guessed
        ("app.cli.main", "calls", "app.cli.helper", 9),
        ("app.cli.main", "instantiates", "app.store.Store", 7),
        ("app.cli.main", "instantiates", "app.store.Store", 8),  # alias S
        ("app.store", "imports", "app.base", 4),
        ("app.store", "imports", "app.base.Base", 3),
        ("app.store", "imports", "json", 1),
        ("app.store", "imports", "requests", 2),
        ("app.store.Store", "inherits_from", "app.base.Base", 11),
        ("app.store.Store.reload", "instantiates", "app.base.Base", 22),  # b.Base() via module alias
        ("app.store.Store.save", "calls", "app.base.Base.save", 16),  # super().save()
        ("app.store.Store.save", "calls", "app.base.Base.serialize", 17),  # self. through the base
        ("app.store.Store.save", "calls", "json.dumps", 18),  # external, through alias js
        ("app.store.Store.save", "calls", "requests.post", 18),  # external library call
        ("app.store.Store.save", "instantiates", "app.store.StoreError", 19),
        ("app.store.Store.save", "overrides", "app.base.Base.save", 0),
        ("app.store.Store.save", "raises", "app.store.StoreError", 19),
        ("app.store.StoreError", "inherits_from", "builtins.Exception", 7),
    }


def test_contains_edges(sample_repo):
    build_index(sample_repo, IndexConfig(jobs=1))
    contains = {(a, b) for a, rel, b, _ in edges_of(sample_repo) if rel == "contains"}
    assert ("app.store", "app.store.Store") in contains
    assert ("app.store.Store", "app.store.Store.save") in contains
    assert ("app.cli", "app.cli.main") in contains
    assert len(contains) == 9


def _resolver(files: dict[str, str]):
    names = module_names(list(files), "root")
    fgs = []
    for path, src in files.items():
        module, is_pkg = names[path]
        pf = parse_source(src.encode(), path, "python", module)
        fgs.append(FileGraph(module, "python", [(s.name, s.qualname, s.kind, s.parent) for s in pf.symbols], pf.refs, is_pkg))
    return Resolver(fgs)


def test_unresolved_attribute_on_local_variable_is_not_guessed():
    r = _resolver({"m.py": "class A:\n    def run(self): pass\n\ndef f(x):\n    x.run()\n"})
    calls = [e for e in r.edges() if e.relation == "calls"]
    assert [(e.src, e.dst, e.dst_external) for e in calls] == [("m.f", "?x.run", True)]


def test_self_call_through_external_base_names_the_base():
    r = _resolver({"t.py": "import unittest\nclass T(unittest.TestCase):\n    def test(self):\n        self.assertEqual(1, 1)\n"})
    calls = [(e.src, e.dst) for e in r.edges() if e.relation == "calls"]
    assert calls == [("t.T.test", "unittest.TestCase.assertEqual")]


def test_star_import_and_nested_scope():
    r = _resolver(
        {
            "p/__init__.py": "",
            "p/a.py": "def util(): pass\n",
            "p/b.py": "from .a import *\ndef outer():\n    def inner(): pass\n    inner()\n    util()\n",
        }
    )
    calls = {(e.src, e.dst) for e in r.edges() if e.relation == "calls"}
    assert calls == {("p.b.outer", "p.b.outer.inner"), ("p.b.outer", "p.a.util")}


@pytest.mark.parametrize(
    "target,module,is_pkg,expected",
    [
        ("..b.c", "p.q.m", False, "p.b.c"),
        (".x", "p", True, "p.x"),
        (".x", "p.m", False, "p.x"),
        ("os.path", "p.m", False, "os.path"),
        ("...x", "p.m", False, None),  # above the top package
    ],
)
def test_absolute_import_paths(target, module, is_pkg, expected):
    assert absolute_import(target, module, is_pkg) == expected


def test_module_names_follow_package_chains():
    assert module_names(["src/click/__init__.py", "src/click/core.py", "setup.py", "docs/conf.py"], "r") == {
        "src/click/__init__.py": ("click", True),
        "src/click/core.py": ("click.core", False),
        "setup.py": ("setup", False),
        "docs/conf.py": ("conf", False),
    }


def test_folder_without_init_inside_a_package_is_a_namespace_package():
    # flask/sansio has no __init__.py; Python imports flask/sansio/app.py as flask.sansio.app
    got = module_names(["flask/__init__.py", "flask/app.py", "flask/sansio/app.py", "flask/sansio/sub/__init__.py",
                        "flask/sansio/sub/m.py", "tools/x.py"], "r")
    assert got == {
        "flask/__init__.py": ("flask", True),
        "flask/app.py": ("flask.app", False),
        "flask/sansio/app.py": ("flask.sansio.app", False),
        "flask/sansio/sub/__init__.py": ("flask.sansio.sub", True),
        "flask/sansio/sub/m.py": ("flask.sansio.sub.m", False),
        "tools/x.py": ("x", False),
    }


def test_star_import_cycle_terminates():
    r = _resolver({"p/__init__.py": "", "p/a.py": "from .b import *\nb_thing()\n", "p/b.py": "from .a import *\nimport p.a\np.a.nothing()\n"})
    calls = {(e.src, e.dst) for e in r.edges() if e.relation == "calls"}
    assert calls == {("p.a", "?b_thing"), ("p.b", "?p.a.nothing")}


def test_many_modules_star_importing_each_other_resolve_in_linear_work(monkeypatch):
    # httpx's layout, worse: every module star-imports every other one (cycles everywhere).
    # Each miss used to walk every path of star imports up to depth 12: hours for this.
    n = 9
    files = {"p/__init__.py": "".join(f"from .m{i} import *\n" for i in range(n))}
    for i in range(n):
        stars = "".join(f"from .m{j} import *\n" for j in range(n) if j != i)
        files[f"p/m{i}.py"] = stars + f"def f{i}(): pass\n" + "".join(f"missing_{k}()\n" for k in range(3)) + f"f{(i + 1) % n}()\n"
    calls = {"n": 0}
    from graphmer.index.graph import Resolver

    real = Resolver.canonical

    def counted(self, path, depth=0):
        calls["n"] += 1
        return real(self, path, depth)

    monkeypatch.setattr(Resolver, "canonical", counted)
    r = _resolver(files)
    found = {(e.src, e.dst) for e in r.edges() if e.relation == "calls"}
    assert {(f"p.m{i}", f"p.m{(i + 1) % n}.f{(i + 1) % n}") for i in range(n)} <= found
    assert {(f"p.m{i}", f"?missing_{k}") for i in range(n) for k in range(3)} <= found
    assert calls["n"] < 20_000, calls["n"]
