"""Indexing end to end: incremental updates, bad inputs, foreign/newer/corrupt indexes,
and an interrupted run (kill -9) that the next run completes."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_tree
from graphmer.index import indexer
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.search import Searcher
from graphmer.index.store import Store, StoreError

ONE = IndexConfig(jobs=1)


def snapshot(repo: Path) -> dict:
    """The index's content, independent of row ids."""
    c = sqlite3.connect(repo / ".graphmer" / "index.db")
    files = sorted(c.execute("SELECT path, hash, lines FROM files"))
    symbols = sorted(
        c.execute(
            "SELECT coalesce(f.path, ''), s.qualname, s.kind, s.start_line, s.end_line, s.signature, s.doc "
            "FROM symbols s LEFT JOIN files f ON f.id = s.file_id"
        )
    )
    edges = sorted(
        c.execute(
            "SELECT a.qualname, e.relation, b.qualname, e.line FROM edges e "
            "JOIN symbols a ON a.id = e.src JOIN symbols b ON b.id = e.dst"
        )
    )
    fts = c.execute("SELECT count(*) FROM symbols_fts").fetchone()[0]
    c.close()
    return {"files": files, "symbols": symbols, "edges": edges, "fts": fts}


def test_incremental_skips_unchanged_and_reparses_only_changed(sample_repo):
    first = build_index(sample_repo, ONE)
    assert (first.files_parsed, first.files_unchanged) == (4, 0)
    before = snapshot(sample_repo)

    again = build_index(sample_repo, ONE)
    assert (again.files_parsed, again.files_unchanged, again.edges_rebuilt) == (0, 4, False)
    assert snapshot(sample_repo) == before

    # Same content, new mtime: hashed, not parsed.
    os.utime(sample_repo / "app/base.py", ns=(1, 1))
    touched = build_index(sample_repo, ONE)
    assert (touched.files_parsed, touched.files_unchanged) == (0, 4)

    # A real change re-parses that file only, and its edges follow.
    (sample_repo / "app/cli.py").write_text("def main():\n    \"\"\"Entry.\"\"\"\n    return 1\n")
    changed = build_index(sample_repo, ONE)
    assert (changed.files_parsed, changed.files_unchanged) == (1, 3)
    after = snapshot(sample_repo)
    assert ("app/cli.py", "app.cli.helper", "function", 14, 15, "def helper()", "") not in after["symbols"]
    assert not any(e[0].startswith("app.cli.main") and e[1] == "instantiates" for e in after["edges"])

    # Deleting a file removes its symbols from search.
    (sample_repo / "app/cli.py").unlink()
    deleted = build_index(sample_repo, ONE)
    assert deleted.files_deleted == 1
    s = Searcher.open(sample_repo)
    assert all(h.path != "app/cli.py" for h in s.search("main entry"))
    s.close()


def test_index_equals_fresh_index_after_changes(sample_repo, tmp_path):
    build_index(sample_repo, ONE)
    (sample_repo / "app/extra.py").write_text("from app.base import Base\nclass E(Base):\n    def save(self): pass\n")
    (sample_repo / "app/cli.py").unlink()
    build_index(sample_repo, ONE)
    fresh = tmp_path / "fresh"
    import shutil

    shutil.copytree(sample_repo, fresh, ignore=shutil.ignore_patterns(".graphmer"))
    build_index(fresh, ONE)
    assert snapshot(sample_repo) == snapshot(fresh)


def test_bad_files_are_reported_and_the_run_completes(tmp_path, monkeypatch):
    repo = write_tree(
        tmp_path / "r",
        {
            "good.py": "def fine():\n    return 1\n",
            "binary.py": b"\x00\x01\x02ELF",
            "latin1.py": "name = 'caf\xe9'\n".encode("latin-1"),
            "broken.py": "def ok():\n    pass\n\ndef broken(:\n    pass\n",
            "big.py": "x = 1\n" * 50,
            "locked.py": "def secret(): pass\n",
        },
    )
    real_open = open

    def fake_open(path, *a, **kw):  # root can read any file, so unreadability is simulated
        if str(path).endswith("locked.py"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **kw)

    monkeypatch.setattr(indexer, "open", fake_open, raising=False)
    report = build_index(repo, IndexConfig(jobs=1, walk=indexer.WalkConfig(max_bytes=200)))
    assert dict(report.skipped) == {
        "big.py": "too large (300 bytes > 200)",
        "binary.py": "binary file",
        "latin1.py": "not valid UTF-8 (byte 11)",
        "locked.py": "unreadable: Permission denied",
    }
    assert report.files_with_syntax_errors == 1
    names = {q for _, q, *_ in snapshot(repo)["symbols"]}
    assert {"good.fine", "broken.ok"} <= names


def test_unreadable_file_keeps_its_previous_entry(tmp_path, monkeypatch):
    repo = write_tree(tmp_path / "r", {"a.py": "def alpha(): pass\n", "b.py": "def beta(): pass\n"})
    build_index(repo, ONE)
    (repo / "a.py").write_text("def alpha2(): pass\n")
    real_open = open
    monkeypatch.setattr(
        indexer, "open",
        lambda p, *a, **k: (_ for _ in ()).throw(PermissionError(13, "Permission denied")) if str(p).endswith("a.py") else real_open(p, *a, **k),
        raising=False,
    )
    report = build_index(repo, ONE)
    assert ("a.py", "unreadable: Permission denied") in report.skipped
    names = {q for _, q, *_ in snapshot(repo)["symbols"]}
    assert "a.alpha" in names and "b.beta" in names  # nothing already indexed is lost


def test_missing_path_and_file_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_index(tmp_path / "nope")
    f = tmp_path / "f.py"
    f.write_text("")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        build_index(f)


def test_empty_directory(tmp_path):
    report = build_index(tmp_path, ONE)
    assert report.counts["files"] == 0 and report.skipped == []
    s = Searcher.open(tmp_path)
    assert s.search("anything") == []
    s.close()


def test_newer_foreign_and_corrupt_indexes_are_refused(sample_repo):
    build_index(sample_repo, ONE)
    meta_path = sample_repo / ".graphmer" / "meta.json"
    meta = json.loads(meta_path.read_text())
    before = snapshot(sample_repo)

    meta_path.write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(StoreError, match="newer graphmer .*upgrade graphmer"):
        build_index(sample_repo, ONE)
    meta_path.write_text(json.dumps({"format": "something-else", "version": 1}))
    with pytest.raises(StoreError, match="not a graphmer index"):
        Searcher.open(sample_repo)
    meta_path.write_text("{not json")
    with pytest.raises(StoreError, match="corrupt"):
        Store(sample_repo / ".graphmer")
    meta_path.write_text(json.dumps(meta))
    assert snapshot(sample_repo) == before  # refusing touched nothing

    db = sample_repo / ".graphmer" / "index.db"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="damaged or not a graphmer index"):
        Store(sample_repo / ".graphmer")


def _synthetic_repo(root: Path, n_files: int = 300) -> Path:
    files = {}
    for i in range(n_files):
        prev = f"from pkg.m{i - 1} import C{i - 1}\n" if i else ""
        body = "".join(f"    def method_{j}(self, x):\n        return self.method_{(j + 1) % 40}(x) + {j}\n\n" for j in range(40))
        base = f"C{i - 1}" if i else "object"
        files[f"pkg/m{i}.py"] = f'{prev}\n\nclass C{i}({base}):\n    """Class {i}."""\n\n{body}'
    files["pkg/__init__.py"] = ""
    return write_tree(root, files)


def test_kill_9_mid_run_then_rerun_matches_uninterrupted(tmp_path):
    interrupted = _synthetic_repo(tmp_path / "a")
    clean = _synthetic_repo(tmp_path / "b")
    build_index(clean, IndexConfig(jobs=1, batch_files=10))

    cmd = [sys.executable, "-m", "graphmer.cli.main", "index", str(interrupted), "--jobs", "1", "--batch-files", "10", "--json", "--no-dense"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = interrupted / ".graphmer" / "index.db"
    deadline = time.monotonic() + 60
    killed_at = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
            n = c.execute("SELECT count(*) FROM files").fetchone()[0]
            c.close()
        except sqlite3.Error:
            n = 0
        if 20 <= n < 300:
            proc.send_signal(signal.SIGKILL)
            killed_at = n
            break
        time.sleep(0.005)
    proc.wait()
    assert killed_at is not None, "the run finished before it could be interrupted"
    c = sqlite3.connect(db)
    assert c.execute("SELECT value FROM state WHERE key = 'edges_dirty'").fetchone() == ("1",)
    assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    committed = c.execute("SELECT count(*) FROM files").fetchone()[0]
    c.close()

    report = build_index(interrupted, IndexConfig(jobs=1, batch_files=10))
    assert report.files_parsed == 301 - committed and report.edges_rebuilt
    assert snapshot(interrupted) == snapshot(clean)
