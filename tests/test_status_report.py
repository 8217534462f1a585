"""index_status keeps its database report while the index's files are unchanged (a server asks
often), and never serves it once an index run has changed them."""
from __future__ import annotations

from graphmer.index.indexer import build_index
from graphmer.index.status import index_status
from graphmer.index.store import INDEX_DIRNAME


def test_the_report_follows_each_index_run_in_one_process(sample_repo):
    build_index(sample_repo)
    index_dir = sample_repo / INDEX_DIRNAME
    first = index_status(index_dir, integrity=False)
    assert first["integrity"] == "not checked" and index_status(index_dir)["integrity"] == "ok"
    assert index_status(index_dir, integrity=False)["symbols"] == first["symbols"]
    (sample_repo / "app" / "extra.py").write_text("def added():\n    return 1\n\n\ndef another():\n    return added()\n")
    stale = index_status(index_dir, integrity=False)
    assert stale["stale"] and stale["new_files"] == 1 and stale["symbols"] == first["symbols"]
    build_index(sample_repo)
    after = index_status(index_dir, integrity=False)  # the new module and its two functions
    assert after["symbols"] == first["symbols"] + 3 and after["files"] == first["files"] + 1
    assert after["edges_by_relation"]["calls"] == first["edges_by_relation"]["calls"] + 1 and not after["stale"]
