"""The training corpus: lock file rules, unpacking, pair extraction, deduplication, the build (offline)."""
from __future__ import annotations

import ast
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphmer.cli.main import cli
from graphmer.model import corpus_build
from graphmer.model.corpus_build import build_corpus, read_corpus
from graphmer.model.corpus_dedup import Deduper
from graphmer.model.corpus_fetch import left_out, unpack
from graphmer.model.corpus_lock import CorpusError, LockEntry, read_list, read_lock, resolve, spdx_licence, write_lock
from graphmer.model.corpus_pairs import extract_source, leading_comment

SOURCE = '''\
# Copyright 2024 Someone. Licensed under the MIT licence.
def licensed():
    return 1


def documented(path):
    """Read the settings file at path.

    More words.
    """
    with open(path) as f:
        return f.read()


# Merge two sorted lists into one sorted list.
# (Keeps duplicates.)
@cache
def merge(a, b):
    return sorted(a + b)


# x = compute(y)
def commented_code():
    return 2


# noqa: E501 this is a pragma line
def pragma():
    return 3


def short():
    """Too short."""
    return 4
'''


def fake_pypi(name: str, version: str, licence_classifier: str) -> dict:
    return {"info": {"name": name, "version": version, "license_expression": None, "license": "",
                     "classifiers": [licence_classifier]},
            "urls": [{"filename": f"{name}-{version}.tar.gz", "packagetype": "sdist", "digests": {"sha256": "0" * 64}},
                     {"filename": f"{name}-{version}-py3-none-any.whl", "packagetype": "bdist_wheel",
                      "digests": {"sha256": "a" * 64}}]}


def wheel_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


# --- the lock: exclusion list and licences -------------------------------------------------

def test_resolve_picks_the_pure_wheel_and_maps_the_licence():
    e = resolve("toolbox", get_json=lambda url: fake_pypi("toolbox", "1.2", "License :: OSI Approved :: MIT License"))
    assert (e.name, e.version, e.licence, e.filename, e.sha256) == ("toolbox", "1.2", "MIT", "toolbox-1.2-py3-none-any.whl", "a" * 64)


@pytest.mark.parametrize("name", ["click", "Rich", "sqlite_utils", "sqlite-utils", "Jinja2", "more.itertools"])
def test_excluded_packages_are_refused_before_any_network(name):
    def no_network(url):
        raise AssertionError("asked PyPI about an excluded package")

    with pytest.raises(CorpusError, match="exclusion list"):
        resolve(name, get_json=no_network)


def test_a_licence_outside_the_permissive_list_is_refused():
    gpl = fake_pypi("gplthing", "1.0", "License :: OSI Approved :: GNU General Public License v3 (GPLv3)")
    with pytest.raises(CorpusError, match="not in the permissive list"):
        resolve("gplthing", get_json=lambda url: gpl)
    assert spdx_licence({"license_expression": "BSD-3-Clause"}) == "BSD-3-Clause"
    assert spdx_licence({"classifiers": [], "license": "MIT License"}) == "MIT"


def test_a_lock_file_naming_an_excluded_package_is_refused(tmp_path):
    lock = tmp_path / "corpus.lock"
    good = LockEntry("toolbox", "1.0", "MIT", "toolbox-1.0-py3-none-any.whl", "a" * 64)
    write_lock(lock, [good], "3.11")
    assert read_lock(lock) == ([good], "3.11")
    body = json.loads(lock.read_text())
    body["packages"].append({**body["packages"][0], "name": "Flask"})
    lock.write_text(json.dumps(body))
    with pytest.raises(CorpusError, match="refusing Flask"):
        read_lock(lock)
    with pytest.raises(CorpusError, match="refusing attrs"):
        write_lock(lock, [good, LockEntry("attrs", "1", "MIT", "attrs.whl", "b" * 64)], "3.11")
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(CorpusError, match="not a graphmer corpus lock file"):
        read_lock(tmp_path / "other.json")


def test_corpus_list_syntax(tmp_path):
    f = tmp_path / "corpus.in"
    f.write_text("# comment\nrequests==2.0 licence=Apache-2.0\n\nidna  # trailing\n")
    assert read_list(f) == [("requests==2.0", "Apache-2.0"), ("idna", None)]
    f.write_text("requests licence Apache\n")
    with pytest.raises(CorpusError, match="corpus.in:1"):
        read_list(f)


# --- unpacking: test and vendored folders never reach the corpus ---------------------------

def test_unpack_leaves_out_tests_vendored_folders_and_unsafe_paths(tmp_path):
    whl = tmp_path / "toolbox-1.0-py3-none-any.whl"
    whl.write_bytes(wheel_bytes({
        "toolbox/__init__.py": "", "toolbox/core.py": "def f():\n    pass\n",
        "toolbox/tests/test_core.py": "def test_f():\n    pass\n", "toolbox/test_util.py": "",
        "toolbox/_vendor/six.py": "", "toolbox/extern/attr/__init__.py": "", "toolbox/vendored/x.py": "",
        "../evil.py": "", "toolbox-1.0.dist-info/METADATA": "", "toolbox/data.json": "{}",
    }))
    counts = unpack(whl, tmp_path / "src")
    kept = sorted(p.relative_to(tmp_path / "src").as_posix() for p in (tmp_path / "src").rglob("*") if p.is_file())
    assert kept == ["toolbox/__init__.py", "toolbox/core.py"]
    assert counts == {"kept": 2, "test": 2, "vendored": 3, "unsafe path": 1}
    assert not (tmp_path / "evil.py").exists()


def test_left_out_names_the_reason():
    from pathlib import PurePosixPath as P

    assert left_out(P("pkg/_vendored/a.py")) == "vendored"
    assert left_out(P("pkg/testing/a.py")) == "test"
    assert left_out(P("pkg/conftest.py")) == "test"
    assert left_out(P("pkg/testament.py")) is None


# --- pairs ------------------------------------------------------------------------------------

def test_docstring_and_comment_pairs_and_the_stripped_copy():
    found = extract_source(SOURCE, "toolbox-1.0", "toolbox/io.py")
    pairs = {(p.qualname, p.source): p.query for p in found.pairs}
    assert pairs == {("documented", "docstring"): "Read the settings file at path.",
                     ("merge", "comment"): "Merge two sorted lists into one sorted list."}
    out = found.stripped.split("\n")
    assert len(out) == len(SOURCE.split("\n"))
    assert "Read the settings" not in found.stripped and "Merge two sorted" not in found.stripped
    assert "# x = compute(y)" in found.stripped and "noqa" in found.stripped  # not queries: kept
    merge_line = next(p.def_line for p in found.pairs if p.qualname == "merge")
    assert out[merge_line - 1].startswith("def merge")
    assert found.bodies[merge_line].startswith("def merge") and "sorted(a + b)" in found.bodies[merge_line]
    ast.parse(found.stripped)


def test_markers_are_not_queries():
    src = "x = 1\n# Copied from transformers.models.bert.modeling_bert.BertModel.forward with Bert->Roberta\ndef f():\n    pass\n"
    assert leading_comment(src.split("\n"), ast.parse(src).body[1]) is None
    src = "x = 1\n# TODO: make this faster when the cache is warm\ndef f():\n    pass\n"
    assert leading_comment(src.split("\n"), ast.parse(src).body[1]) is None


def test_a_comment_separated_by_a_blank_line_is_not_a_query():
    src = "x = 1\n# Build the index of all files.\n\ndef f():\n    pass\n"
    assert leading_comment(src.split("\n"), ast.parse(src).body[1]) is None
    assert extract_source(src, "p", "m.py", comments=True).pairs == []


# --- deduplication ----------------------------------------------------------------------------

BODY = ("def load(path, default=None):\n    if not exists(path):\n        return default\n"
        "    with open(path, 'rb') as f:\n        data = f.read()\n    return decode(data, strict=True)\n")


def test_exact_and_near_duplicates_are_found_and_different_code_is_not():
    d = Deduper()
    assert d.check_add(BODY, "a") is None
    assert d.check_add(BODY.replace("    ", "\t"), "b") == ("exact", "a")  # whitespace only
    near = BODY.replace("strict=True", "strict=False")
    assert d.check_add(near, "c") == ("near", "a")
    other = "def area(w, h):\n    total = 0\n    for i in range(w):\n        total += h * scale(i)\n    return round(total, 2) + offset(w, h)\n"
    assert d.check_add(other, "d") is None


# --- the build, offline -----------------------------------------------------------------------

def _lock_with_wheels(tmp_path: Path, wheels: dict[str, dict[str, str]]) -> tuple[Path, Path]:
    out = tmp_path / "corpus"
    (out / "downloads").mkdir(parents=True)
    entries = []
    for name, files in wheels.items():
        data = wheel_bytes(files)
        fn = f"{name}-1.0-py3-none-any.whl"
        (out / "downloads" / fn).write_bytes(data)
        entries.append(LockEntry(name, "1.0", "MIT", fn, hashlib.sha256(data).hexdigest()))
    lock = tmp_path / "corpus.lock"
    write_lock(lock, entries, "3.11")
    return lock, out


def test_build_corpus_dedups_across_packages_and_drops_copies_of_excluded_code(tmp_path, monkeypatch):
    copied = ("def render_table(rows, widths):\n    lines = []\n    for row in rows:\n"
              "        cells = [str(c).ljust(w) for c, w in zip(row, widths)]\n        lines.append(' | '.join(cells))\n"
              "    return '\\n'.join(lines)\n")
    excluded_pkg = tmp_path / "site" / "rich"
    excluded_pkg.mkdir(parents=True)
    (excluded_pkg / "__init__.py").write_text(copied.replace("def render_table(rows, widths):\n",
                                                             'def render_table(rows, widths):\n    """Docs differ."""\n'))
    monkeypatch.setattr(corpus_build, "excluded_sources", lambda names: {"rich": excluded_pkg})
    documented = 'def load(path, default=None):\n    """Load the cached value from a file."""\n' + BODY.split("\n", 1)[1]
    lock, out = _lock_with_wheels(tmp_path, {
        "alpha": {"alpha/io.py": SOURCE, "alpha/more.py": documented},
        "beta": {"beta/copy.py": documented.replace("Load the cached", "Load a cached"),  # same body as alpha's
                 "beta/table.py": 'import os\n\n\n# Render rows as an aligned text table.\n' + copied + "\n\ndef keep():\n    return 1\n",
                 "beta/quiet.py": copied,  # a copy with no pair: removed all the same
                 "beta/tests/test_x.py": 'def test_x():\n    """Check the whole thing works."""\n'},
    })
    manifest = build_corpus(lock, out, stdlib=False)
    _, pairs = read_corpus(out)
    got = sorted((p.package, p.path, p.qualname, p.source) for p in pairs)
    assert got == [("alpha-1.0", "alpha/io.py", "documented", "docstring"),
                   ("alpha-1.0", "alpha/io.py", "merge", "comment"),
                   ("alpha-1.0", "alpha/more.py", "load", "docstring")]
    beta = next(p for p in manifest["packages"] if p["name"] == "beta")
    assert beta["dropped"] == {"exact duplicate": 1, "file copies an excluded package": 1}
    assert beta["left_out_files"] == {"test": 1}
    assert beta["removed_files"] == ["beta/quiet.py", "beta/table.py"]
    assert not (out / "code" / "beta-1.0" / "beta" / "table.py").exists()  # never trained on, not even as context
    assert (out / "code" / "alpha-1.0" / "alpha" / "io.py").read_text().count('"""') == 0
    assert manifest["pairs"] == 3 and manifest["pairs_comment"] == 1 and manifest["excluded_matched"] == ["rich"]
    assert [p["licence"] for p in manifest["packages"]] == ["MIT", "MIT"]


def test_build_refuses_a_download_whose_hash_differs(tmp_path, monkeypatch):
    lock, out = _lock_with_wheels(tmp_path, {"alpha": {"alpha/a.py": "x = 1\n"}})
    (out / "downloads" / "alpha-1.0-py3-none-any.whl").write_bytes(b"tampered")
    monkeypatch.setattr("graphmer.model.corpus_fetch.subprocess.run",
                        lambda *a, **k: type("R", (), {"returncode": 1, "stderr": "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES"})())
    with pytest.raises(CorpusError, match="pip download failed"):
        build_corpus(lock, out, stdlib=False)


def test_cli_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.lock"
    bad.write_text("not json")
    r = CliRunner().invoke(cli, ["corpus", "build", "--lock", str(bad), "--out", str(tmp_path / "c")])
    assert r.exit_code == 1 and "not a corpus lock file" in r.output and "Traceback" not in r.output
    lst = tmp_path / "corpus.in"
    lst.write_text("rich\n")
    r = CliRunner().invoke(cli, ["corpus", "lock", "--list", str(lst), "--out", str(tmp_path / "x.lock")])
    assert r.exit_code == 1 and "exclusion list" in r.output
    assert not (tmp_path / "x.lock").exists()
    with pytest.raises(CorpusError, match="not a built corpus"):
        read_corpus(tmp_path)


def test_the_repository_lock_names_no_excluded_package():
    entries, python = read_lock(Path(__file__).resolve().parents[1] / "corpus.lock")
    assert len(entries) >= 40 and python
