"""The standard library's reads of its modules' members: counting, files, and completion's use."""
from __future__ import annotations

import json
import textwrap
from collections import Counter

import pytest

from graphmer.complete.pipeline import Completer
from graphmer.complete.rank import RankWeights
from graphmer.complete.stdlib_usage import (
    USAGE_FILE,
    UsageError,
    count,
    load,
    module_uses,
    shipped,
    totals,
    write,
)
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.store import INDEX_DIRNAME, Store

SOURCE = textwrap.dedent('''
    import os
    import os.path as osp
    import xml.dom
    from ctypes import wintypes
    from os import sep
    from . import sibling


    def f(p):
        import sys
        os.getcwd()
        os.getcwd()
        osp.join(p, sep)
        os.path.exists(p)
        sys.stdout.write(p)
        xml.dom.minidom.parseString(p)
        wintypes.DWORD
        sep.join(p)
        sibling.go()
        f(p).x
        os.environ[p].strip()
    ''').encode()


def test_module_uses_follow_imports_to_dotted_paths():
    got = module_uses(SOURCE, "email.mod", False)
    assert got == Counter({
        ("os", "getcwd"): 2, ("os.path", "join"): 1, ("os", "path"): 1, ("os.path", "exists"): 1,
        ("sys", "stdout"): 1, ("sys.stdout", "write"): 1, ("xml", "dom"): 1, ("xml.dom", "minidom"): 1,
        ("xml.dom.minidom", "parseString"): 1, ("ctypes.wintypes", "DWORD"): 1, ("os", "environ"): 1,
    })  # `sep` is no module; `from . import sibling` is email.sibling, no module either; calls end a path
    assert module_uses(b"from . import utils\nutils.quote(x)\n", "email.mod", False) == Counter({("email.utils", "quote"): 1})
    assert module_uses(b"def broken(:\n    os.", "m", False) == Counter()  # broken syntax, nothing imported


def test_totals_leave_a_package_out_and_drop_rare_reads(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("import os\nos.getcwd()\nos.getcwd()\nos.sep\n")
    (tmp_path / "other.py").write_text("import os\nos.getcwd()\nos.getcwd()\nos.getcwd()\n")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test_x.py").write_text("import os\n" + "os.listdir()\n" * 5)  # tests are not counted
    groups = count(tmp_path)
    assert set(groups) == {"pkg", "other"}
    assert totals(groups, min_count=1) == {"os": {"getcwd": 5, "sep": 1}}
    assert totals(groups) == {"os": {"getcwd": 5}}  # read once: left out
    assert totals(groups, exclude="other") == {"os": {"getcwd": 2}}  # what pkg is fitted with


def test_usage_file_round_trip_and_foreign_files(tmp_path):
    write({"os": {"getcwd": 3}}, tmp_path / "u.json", {"python": "3.11"})
    assert load(tmp_path / "u.json") == {"os": {"getcwd": 3}}
    (tmp_path / "foreign.json").write_text('{"model_type": "bert"}')
    (tmp_path / "bad.json").write_text('{"uses": {"os": 3}}')
    for name in ("foreign.json", "bad.json", "absent.json"):
        with pytest.raises(UsageError, match="fit-usage"):
            load(tmp_path / name)


def test_the_shipped_counts_are_the_standard_librarys():
    uses = shipped()
    assert max(uses["os"], key=uses["os"].get) == "path"
    assert max(uses["os.path"], key=uses["os.path"].get) == "join"
    assert max(uses["re"], key=uses["re"].get) == "compile"
    assert json.loads(USAGE_FILE.read_text())["meta"]["min_count"] == 2


def test_completion_ranks_a_stdlib_modules_members_by_the_counts(tmp_path):
    src = "import os\n\n\ndef f():\n    return os.\n"
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        ranked = Completer(store, weights=RankWeights(), stdlib_uses={"os": {"getcwd": 40, "sep": 3}})
        ranked.feature_log = []
        got = ranked.complete("m.py", src, 4, 14)
        assert [it.label for it in got.items[:2]] == ["getcwd", "sep"]
        assert {n for n, f in ranked.feature_log if f["stdlib"] > 0} == {"getcwd", "sep"}
        plain = Completer(store, weights=RankWeights(), stdlib_uses={}).complete("m.py", src, 4, 14)
        assert plain.items[0].label != "getcwd"  # without counts, os's 300-odd names tie
        # a dotted path that is no module gets its read names as candidates (`sys.stdout.`: write)
        src2 = "import sys\nsys.stdout.\n"
        (tmp_path / "m.py").write_text(src2)
        got = Completer(store, weights=RankWeights(), stdlib_uses={"sys.stdout": {"write": 9}}).complete("m.py", src2, 1, 11)
        assert got.items[0].label == "write"
    finally:
        store.close()
