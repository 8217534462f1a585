"""Indexing benchmark: a full index, a re-run with nothing changed, and one touched file.

The source folder is copied into a scratch folder first, so the benchmark never writes
into the tree it measures and always starts from an empty index.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from graphmer.index.indexer import INDEX_DIRNAME, IndexConfig, IndexReport, build_index


@dataclass(frozen=True, slots=True)
class IndexBenchResult:
    source: str
    cpus: int
    files: int
    lines: int
    symbols: int
    edges: int
    edges_by_relation: dict
    full_seconds: float
    full_lines_per_second: float
    full_timings: dict
    noop_seconds: float
    noop_ratio: float  # noop_seconds / full_seconds
    touch_seconds: float
    touch_files_parsed: int
    touch_ratio: float
    skipped: int

    def to_json(self) -> dict:
        return asdict(self)


def _copy_sources(src: Path, dst: Path) -> None:
    """Copy the tree, links as links (the walk judges them in the copy as in the source), and
    without named pipes, sockets and devices, which copying would read from or choke on."""
    by_name = shutil.ignore_patterns(INDEX_DIRNAME, "__pycache__", ".git")

    def ignore(folder: str, names: list[str]) -> set[str]:
        special = set()
        for name in names:
            try:
                mode = os.lstat(os.path.join(folder, name)).st_mode
            except OSError:
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                special.add(name)
        return by_name(folder, names) | special

    shutil.copytree(src, dst, symlinks=True, ignore=ignore)


def run_index_bench(source: str | os.PathLike, cfg: IndexConfig = IndexConfig(), work_dir: str | None = None) -> IndexBenchResult:
    """Index a scratch copy of `source` three ways and time each (wall clock, one process)."""
    src = Path(source)
    if not src.is_dir():
        raise NotADirectoryError(f"{source} is not a folder: give the path of a source tree to index")
    scratch = Path(tempfile.mkdtemp(prefix="graphmer-bench-", dir=work_dir))
    try:
        root = scratch / src.resolve().name
        _copy_sources(src, root)
        full: IndexReport = build_index(root, cfg)
        noop = build_index(root, cfg)
        target = _largest_file(root)
        time.sleep(0.01)  # a distinct mtime even on coarse clocks
        if target is not None:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write("\n")
        touch = build_index(root, cfg)
        c = full.counts
        return IndexBenchResult(
            source=str(src.resolve()),
            cpus=os.cpu_count() or 1,
            files=c["files"],
            lines=c["lines"],
            symbols=c["symbols"],
            edges=c["edges"],
            edges_by_relation=c["edges_by_relation"],
            full_seconds=full.seconds,
            full_lines_per_second=full.lines_per_second,
            full_timings=full.timings,
            noop_seconds=noop.seconds,
            noop_ratio=noop.seconds / full.seconds if full.seconds else 0.0,
            touch_seconds=touch.seconds,
            touch_files_parsed=touch.files_parsed,
            touch_ratio=touch.seconds / full.seconds if full.seconds else 0.0,
            skipped=len(full.skipped),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _largest_file(root: Path) -> Path | None:
    """The indexed file with the most lines (the one the benchmark touches)."""
    from graphmer.index.store import Store  # lazy: loaded only when this bench runs

    store = Store(root / INDEX_DIRNAME)
    try:
        path = store.largest_file_path()
    finally:
        store.close()
    return root / path if path else None
