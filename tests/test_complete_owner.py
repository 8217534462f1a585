"""`self.` counts per owning class (graphmer/complete/owner.py, the self_uses table, m005)."""
import json
import textwrap
from collections import Counter

import pytest

from graphmer.complete.buffer import Buffer
from graphmer.complete.pipeline import Completer
from graphmer.complete.rank import RankWeights
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.store import FORMAT_VERSION, INDEX_DIRNAME, Store
from tests.conftest import as_older_index

# Tests of one ranking signal use the hand-set weights: known, stable, each signal visible.
# The fitted weights are tested in tests/test_complete_fit.py and measured by the bench.
HAND = RankWeights()

BASE = '''
class Base:
    def alpha(self):
        return 1

    def beta(self):
        return 2

    def gamma(self):
        return 3

    def run(self):
        return self.beta()
'''
SUB = '''
from pkg.base import Base


class Sub(Base):
    def go(self):
        self.gamma()
        self.gamma()
        self.alpha()

    @property
    def twice(self):
        def inner():
            return self.gamma()
        return inner


class Other:
    def f(self):
        self.beta()


def free(self):
    return self.alpha()
'''


def _write(root, files):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip("\n"))


@pytest.fixture(scope="module")
def completer(tmp_path_factory):
    root = tmp_path_factory.mktemp("owner")
    _write(root, {"pkg/__init__.py": "", "pkg/base.py": BASE, "pkg/sub.py": SUB})
    build_index(root, IndexConfig(jobs=1))
    store = Store(root / INDEX_DIRNAME)
    yield Completer(store, weights=HAND)
    store.close()


def _rows(store):
    return store.conn.execute(
        "SELECT f.path, u.owner, u.name, u.count FROM self_uses u JOIN files f ON f.id = u.file_id ORDER BY 1, 2, 3").fetchall()


def test_self_uses_are_stored_per_owning_class(completer):
    # closures inside a method count for its class; a module-level function's `self` does not
    assert _rows(completer.store) == [
        ("pkg/base.py", "pkg.base.Base", "beta", 1),
        ("pkg/sub.py", "pkg.sub.Other", "beta", 1),
        ("pkg/sub.py", "pkg.sub.Sub", "alpha", 1),
        ("pkg/sub.py", "pkg.sub.Sub", "gamma", 3),
    ]


def test_descendants_and_buffer_self_uses(completer):
    assert completer.owners.descendants("pkg.base.Base") == ["pkg.sub.Sub"]
    assert completer.owners.descendants("pkg.sub.Sub") == []
    src = textwrap.dedent(SUB).lstrip("\n")
    assert Buffer(src, 0, 0, "").self_uses("pkg.sub") == {
        "pkg.sub.Sub": Counter({"gamma": 3, "alpha": 1}), "pkg.sub.Other": Counter({"beta": 1})}


def _at_end(text: str) -> tuple[str, int, int]:
    lines = text.split("\n")
    return text, len(lines) - 1, len(lines[-1])


def test_self_completion_counts_the_subclass_uses_in_other_files(completer):
    src = textwrap.dedent(BASE).lstrip("\n") + "\n    def new(self):\n        self."
    got = completer.complete("pkg/base.py", *_at_end(src))
    assert [i.label for i in got.items] == ["beta", "gamma", "alpha", "new", "run"]
    plain = Completer(completer.store, weights=RankWeights(family=0.0, subclass=0.0))
    assert [i.label for i in plain.complete("pkg/base.py", *_at_end(src)).items] == ["beta", "new", "gamma", "alpha", "run"]


def test_self_counts_swap_the_current_file_for_the_buffer(completer):
    c = completer
    sub_idx = c.owners.indexed(c.file_ids["pkg/sub.py"])
    assert c.owners.counts(["pkg.base.Base"], ({}, {})) == (Counter({"beta": 1}), Counter({"gamma": 3, "alpha": 1}))
    assert c.owners.counts(["pkg.base.Base"], (sub_idx, {})) == (Counter({"beta": 1}), Counter())  # sub.py open, empty
    # sub.py open with two of Sub's gamma uses deleted: the index's 3 give way to the buffer's 1
    edited = textwrap.dedent(SUB).lstrip("\n").replace("        self.gamma()\n        self.gamma()\n", "")
    buf = Buffer(edited, 0, 0, "").self_uses("pkg.sub")
    assert c.owners.counts(["pkg.base.Base"], (sub_idx, buf)) == (Counter({"beta": 1}), Counter({"gamma": 1, "alpha": 1}))
    # completing in base.py: Base's own indexed use (beta in run) is the buffer's, not the family's
    base_idx = c.owners.indexed(c.file_ids["pkg/base.py"])
    assert c.owners.counts(["pkg.base.Base"], (base_idx, {})) == (Counter(), Counter({"gamma": 3, "alpha": 1}))
    # and the completion at the deleted site ranks by the buffer's counts: gamma's index uses are gone
    src = textwrap.dedent(SUB).lstrip("\n").replace("        self.gamma()\n        self.gamma()\n", "        self.\n")
    line = src.split("\n").index("        self.")
    got = c.complete("pkg/sub.py", src, line, len("        self."))
    assert [i.label for i in got.items] == ["alpha", "gamma", "beta", "go", "twice", "run"]


def test_version_4_index_is_upgraded_and_reparsed_for_self_uses(tmp_path):
    _write(tmp_path, {"m.py": "class A:\n    def f(self):\n        return self.g()\n"})
    build_index(tmp_path, IndexConfig(jobs=1))
    as_older_index(tmp_path / INDEX_DIRNAME, 4, "m005_self_uses", "DROP TABLE self_uses")  # as format 4 left it
    build_index(tmp_path, IndexConfig(jobs=1))  # m005 creates the table and marks the files for re-parsing
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        assert _rows(store) == [("m.py", "m.A", "g", 1)]
        assert json.loads((tmp_path / INDEX_DIRNAME / "meta.json").read_text())["version"] == FORMAT_VERSION == 5
    finally:
        store.close()
