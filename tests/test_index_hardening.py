"""What a hostile repository, a damaged index and two writers at once must not break:
bad names, links out of the root, named pipes, a damaged or emptied index.db, a damaged
vectors.faiss, the writers' lock (two real processes), stopping a run, and the summary's rates."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import graphmer.cli.main as cli_main
from conftest import write_tree
from fake_embedder import HashEmbedder
from graphmer.index.indexer import IndexConfig, IndexStopped, build_index
from graphmer.index.lock import IndexLock
from graphmer.index.search import Searcher
from graphmer.index.status import index_status
from graphmer.index.store import Store, StoreError
from graphmer.index.vectors import FAISS_NAME
from test_index import _synthetic_repo, snapshot

ONE = IndexConfig(jobs=1)
GRAPHMER = [sys.executable, "-m", "graphmer.cli.main"]


def run(*args, **kw):
    return CliRunner().invoke(cli_main.cli, [str(a) for a in args], catch_exceptions=False, **kw)


def one_line_error(result) -> str:
    """The CLI's error for a failed command: exactly one line, no traceback."""
    assert result.exit_code == 1, result.output
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def hostile_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with one valid file and every kind of bad entry, and a folder outside it."""
    outside = write_tree(tmp_path / "outside", {"secret.py": "def leaked_secret():\n    pass\n", "lib/leak.py": "def leaked(): pass\n"})
    root = write_tree(tmp_path / "repo", {
        "fine.py": "def valid_function():\n    \"\"\"Return the answer.\"\"\"\n    return 42\n",
        "broken.py": "def half(:\n    return\n\ndef after_the_error():\n    pass\n",
        "binary.py": b"\x00\x01\x02" * 100,
        "latin1.py": "caf\xe9 = 1\n".encode("latin-1"),
        "huge.py": "x = 1\n" * 300_000,
    })
    with open(os.fsencode(root) + b"/caf\xe9.py", "wb") as fh:
        fh.write(b"def named_badly():\n    pass\n")
    os.mkfifo(root / "x.py")
    os.symlink(outside / "lib", root / "linked_dir")
    os.symlink(outside / "secret.py", root / "secret.py")
    os.symlink("/etc", root / "etc")
    return root, outside


def test_hostile_folder_indexes_lists_every_skip_and_finds_the_valid_file(tmp_path):
    root, outside = hostile_repo(tmp_path)
    proc = subprocess.run([*GRAPHMER, "index", str(root), "--no-dense", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    link = "outside the indexed folder (not followed; --follow-links follows it)"
    assert reasons == {
        "binary.py": "binary file",
        "caf\\xe9.py": "file name is not valid UTF-8",
        "etc": f"symbolic link to {os.path.realpath('/etc')}, {link}",
        "huge.py": "too large (1800000 bytes > 1000000)",
        "latin1.py": "not valid UTF-8 (byte 3)",
        "linked_dir": f"symbolic link to {outside / 'lib'}, {link}",
        "secret.py": f"symbolic link to {outside / 'secret.py'}, {link}",
        "x.py": "a named pipe, not a regular file",
    }
    assert (report["files"], report["files_with_syntax_errors"]) == (2, 1)  # fine.py, and broken.py as far as it parses
    s = Searcher.open(root)
    found = {h.qualname for q in ("valid function answer", "after the error", "leaked secret", "named badly") for h in s.search(q)}
    s.close()
    assert {"fine.valid_function", "broken.after_the_error"} <= found
    assert not {q for q in found if "leak" in q or "badly" in q}  # nothing from outside, nothing under a bad name
    st = index_status(root / ".graphmer")
    assert (st["stale"], st["new_files"]) == (False, 0)  # skipped files are not "new"


def test_a_bad_name_does_not_cost_the_rest_of_its_batch(tmp_path):
    root = write_tree(tmp_path, {"fine.py": "def fine_function():\n    pass\n", "other.py": "def other(): pass\n"})
    with open(os.fsencode(root) + b"/\xff\xfe.py", "wb") as fh:
        fh.write(b"x = 1\n")
    report = build_index(root, ONE)
    assert report.files_parsed == 2 and report.skipped == [("\\xff\\xfe.py", "file name is not valid UTF-8")]
    s = Searcher.open(root)
    assert s.search("fine_function")[0].qualname == "fine.fine_function"
    s.close()


def test_a_skipped_file_is_stale_again_once_it_changes(tmp_path):
    root = write_tree(tmp_path, {"a.py": "x = 1\n", "bin.py": b"\x00" * 10})
    build_index(root, ONE)
    assert index_status(root / ".graphmer")["stale"] is False
    (root / "bin.py").write_text("def now_text():\n    pass\n")
    st = index_status(root / ".graphmer")
    assert (st["stale"], st["new_files"], st["stale_sample"]) == (True, 1, ["bin.py"])


# -- a damaged index ----------------------------------------------------------------------------
def _damage_middle_page(db: Path) -> None:
    """Overwrite one whole page in the middle of the database with garbage."""
    page = 4096
    pages = db.stat().st_size // page
    with open(db, "r+b") as fh:
        fh.seek((pages // 2) * page)
        fh.write(b"\xab" * page)


def test_damaged_database_gives_one_line_and_rebuild_keeps_it_aside(tmp_path):
    root = _synthetic_repo(tmp_path / "repo", 40)
    build_index(root, ONE)
    clean = snapshot(root)
    db = root / ".graphmer" / "index.db"
    _damage_middle_page(db)
    damaged = db.read_bytes()
    msg = one_line_error(run("status", "--repo", root))
    assert "is damaged" in msg and f"graphmer index --rebuild {root}" in msg
    assert db.read_bytes() == damaged  # nothing touched

    r = run("index", root, "--rebuild", "--no-dense", "--jobs", "1", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    (aside,) = (root / ".graphmer").glob("previous-*")
    assert (aside / "index.db").read_bytes() == damaged
    assert report["notes"] == [f"the previous index files were moved to {aside}; delete it when you no longer need it"]
    assert snapshot(root) == clean
    assert index_status(root / ".graphmer")["integrity"] == "ok"


def test_emptied_database_is_not_a_healthy_empty_index(sample_repo):
    build_index(sample_repo, ONE)
    (sample_repo / ".graphmer" / "index.db").write_bytes(b"")
    for args in (("status",), ("search", "save"), ("search", "save", "--mode", "lexical")):
        msg = one_line_error(run(*args, "--repo", sample_repo))
        assert "index.db is empty (0 bytes)" in msg and "--rebuild" in msg
    with pytest.raises(StoreError, match="is empty"):
        build_index(sample_repo, ONE)
    assert build_index(sample_repo, IndexConfig(jobs=1, rebuild=True)).counts["files"] == 4


def test_damaged_vectors_file_is_caught_by_status_and_rebuilt_by_index(sample_repo):
    emb = HashEmbedder()
    build_index(sample_repo, IndexConfig(jobs=1, embedder=emb))
    path = sample_repo / ".graphmer" / FAISS_NAME
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the vectors: FAISS still reads the file
    path.write_bytes(bytes(data))
    st = index_status(sample_repo / ".graphmer")
    assert st["vectors_file"].startswith("damaged")
    assert "graphmer index` rebuilds it" in run("status", "--repo", sample_repo).output
    report = build_index(sample_repo, IndexConfig(jobs=1, embedder=emb))
    assert report.symbols_embedded == 0 and len(report.notes) == 1 and report.notes[0].startswith(f"{FAISS_NAME} was damaged")
    assert index_status(sample_repo / ".graphmer")["vectors_file"] == "ok"


# -- one writer at a time ----------------------------------------------------------------------
def test_a_second_writer_waits_for_the_lock_and_reports_its_own_work(tmp_path):
    root = _synthetic_repo(tmp_path / "repo", 20)
    lock = IndexLock(root / ".graphmer")
    lock.__enter__()
    try:
        proc = subprocess.Popen([*GRAPHMER, "index", str(root), "--no-dense", "--json", "--jobs", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stderr.readline()  # blocks until the waiting message
        assert f"(pid {os.getpid()})" in first and "waiting" in first
        time.sleep(0.5)
        assert proc.poll() is None and not (root / ".graphmer" / "index.db").exists()
    finally:
        lock.__exit__(None, None, None)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["files_parsed"] == 21


def test_two_real_writers_at_once_both_succeed(tmp_path):
    for round_ in range(3):
        root = _synthetic_repo(tmp_path / f"r{round_}", 30)
        cmd = [*GRAPHMER, "index", str(root), "--no-dense", "--json", "--jobs", "1", "--batch-files", "5"]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
        reports = [json.loads(o) for o, _ in outs]
        # one parsed everything; the other, after waiting, found it all unchanged
        assert sorted(r["files_parsed"] for r in reports) == [0, 31]
        assert sorted(r["files_unchanged"] for r in reports) == [0, 31]
        c = sqlite3.connect(root / ".graphmer" / "index.db")
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert c.execute("SELECT count(*) FROM files").fetchone() == (31,)
        c.close()


def test_stop_leaves_the_last_committed_state_and_the_next_run_completes(tmp_path):
    root = _synthetic_repo(tmp_path / "a", 60)
    clean = _synthetic_repo(tmp_path / "b", 60)
    build_index(clean, ONE)
    seen = []
    with pytest.raises(IndexStopped):
        build_index(root, IndexConfig(jobs=1, batch_files=10), progress=lambda *a: seen.append(a), stop=lambda: len(seen) >= 25)
    c = sqlite3.connect(root / ".graphmer" / "index.db")
    assert c.execute("SELECT count(*) FROM files").fetchone() == (20,)  # two batches of 10 were committed
    c.close()
    assert build_index(root, ONE).files_parsed == 41
    assert snapshot(root) == snapshot(clean)


def test_stop_while_waiting_for_the_lock(tmp_path):
    root = write_tree(tmp_path, {"a.py": ""})
    stop = threading.Event()
    with IndexLock(root / ".graphmer"):
        threading.Timer(0.3, stop.set).start()
        with pytest.raises(IndexStopped, match="waiting"):
            build_index(root, ONE, stop=stop.is_set)


def test_an_open_store_notices_a_change_made_underneath(sample_repo):
    build_index(sample_repo, ONE)
    store = Store(sample_repo / ".graphmer")
    assert not store.changed_underneath()
    (sample_repo / "app" / "new.py").write_text("def brand_new():\n    pass\n")
    build_index(sample_repo, ONE)
    assert store.changed_underneath()
    store.close()
    store = Store(sample_repo / ".graphmer")
    build_index(sample_repo, IndexConfig(jobs=1, rebuild=True))  # a new file, not a commit to the old one
    assert store.changed_underneath()
    store.close()


def test_summary_reports_parsing_and_embedding_rates_apart(sample_repo):
    r = run("index", sample_repo, "--no-dense", "--jobs", "1", "--json")
    report = json.loads(r.stdout)
    lines, parse_s = report["lines_parsed"], report["parse_s"]  # parse_s is rounded to the millisecond
    assert lines / (parse_s + 0.0005) <= report["lines_per_second"] <= lines / max(parse_s - 0.0005, 1e-9)
    assert report["parse_s"] <= report["seconds"]
    text = run("index", sample_repo, "--no-dense", "--jobs", "1").output
    assert "parsing 0 lines took" in text  # a run that parsed nothing says so, whatever else took time


def test_a_run_that_changes_nothing_commits_nothing(tmp_path):
    root = write_tree(tmp_path, {"a.py": "def f():\n    pass\n", "bin.py": b"\x00" * 10})
    build_index(root, ONE)
    store = Store(root / ".graphmer")
    build_index(root, ONE)  # the language server re-indexes on every save: its open store must not reload for nothing
    assert not store.changed_underneath()
    store.close()


def test_another_writer_is_a_live_process_holding_the_lock(tmp_path):
    from graphmer.index.lock import LOCK_NAME, another_writer

    with IndexLock(tmp_path):
        assert not another_writer(tmp_path)  # this process's own run
    lock = tmp_path / LOCK_NAME
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(done.stdout)  # a holder that has exited (killed with the lock held)
    assert not another_writer(tmp_path)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(f"{live.pid}\n")
        assert another_writer(tmp_path)
    finally:
        live.kill()
        live.wait()
