"""Index a repository: walk, parse in parallel, store in batches, resolve the graph.

Incremental: a file whose size and mtime match the store is not read; one whose content
hash matches is not parsed; deleted files are removed. Each batch of files is one
transaction, and the edges are rebuilt in one more, so a run stopped at any point leaves
a consistent index that the next run completes.

With an embedder, symbols without a vector are then embedded in batches (one transaction
each, so an interrupted run keeps what it finished), and vectors.faiss is rebuilt from the
store when the vectors changed. Unchanged files keep their symbol ids, hence their vectors.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from graphmer.index.embedder import EmbedError, Embedder, checked_vectors
from graphmer.index.graph import Resolver
from graphmer.index.parse import parse_source
from graphmer.index.lock import IndexLock, LockStopped
from graphmer.index.store import DB_NAME, INDEX_DIRNAME, META_NAME, FileRecord, Store, file_graph, fts_rows, graph_json
from graphmer.index.vectors import FAISS_NAME, VectorConfig, file_state, load_vectors
from graphmer.index.walk import WalkConfig, WalkResult, walk

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True, slots=True)
class IndexConfig:
    walk: WalkConfig = WalkConfig()
    jobs: int = 0  # parser processes; 0 = one per CPU
    batch_files: int = 256  # files per store transaction
    index_dir: str | None = None  # default: <root>/.graphmer
    embedder: object | None = None  # a graphmer.index.embedder.Embedder; None: lexical + graph only (--no-dense), vectors kept as they are
    embed_batch: int = 256  # symbol ids per embed_symbols call, and per vectors transaction
    vectors: VectorConfig = VectorConfig()  # vectors.faiss layout (flat or HNSW by size)
    rebuild: bool = False  # start afresh: the current index files are moved aside first (see set_aside)


@dataclass(slots=True)
class IndexReport:
    root: str
    files_seen: int = 0
    files_parsed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    lines_parsed: int = 0
    files_with_syntax_errors: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    edges_rebuilt: bool = False
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    symbols_embedded: int = 0
    embed_s: float = 0.0
    model_id: str | None = None  # the model whose vectors the index holds (None: no vectors)
    notes: list[str] = field(default_factory=list)  # things to tell the user (e.g. a rebuilt vectors.faiss)

    @property
    def parse_s(self) -> float:
        """Seconds spent reading, parsing and storing files (not walking, resolving or embedding)."""
        return self.timings.get("parse_store", 0.0)

    @property
    def lines_per_second(self) -> float:
        """Parsing speed: lines parsed per second of parse_s."""
        return self.lines_parsed / self.parse_s if self.parse_s > 0 else 0.0

    @property
    def symbols_per_second(self) -> float:
        """Embedding speed: symbols embedded per second of embed_s."""
        return self.symbols_embedded / self.embed_s if self.embed_s > 0 else 0.0

    def to_json(self) -> dict:
        return {
            "root": self.root,
            "files_seen": self.files_seen,
            "files_parsed": self.files_parsed,
            "files_unchanged": self.files_unchanged,
            "files_deleted": self.files_deleted,
            "lines_parsed": self.lines_parsed,
            "files_with_syntax_errors": self.files_with_syntax_errors,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "edges_rebuilt": self.edges_rebuilt,
            "symbols_embedded": self.symbols_embedded,
            "embed_s": round(self.embed_s, 3),
            "model_id": self.model_id,
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "parse_s": round(self.parse_s, 3),
            "lines_per_second": round(self.lines_per_second, 1),
            "symbols_per_second": round(self.symbols_per_second, 1),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            **self.counts,
        }


def module_names(paths: list[str], root_name: str) -> dict[str, tuple[str, bool]]:
    """Module name and is-package flag for each path.

    Python modules are named from the outermost package above them (a folder with an
    __init__.py), so `src/click/core.py` is `click.core`; a folder without one inside a
    package is a namespace package there, as Python imports it (`flask/sansio/app.py` is
    `flask.sansio.app`).
    module_names(["p/__init__.py", "p/m.py", "p/ns/n.py", "s.py"], "r") ->
        {"p/__init__.py": ("p", True), "p/m.py": ("p.m", False), "p/ns/n.py": ("p.ns.n", False), "s.py": ("s", False)}
    """
    pkg_dirs = {str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name in ("__init__.py", "__init__.pyi")}
    out: dict[str, tuple[str, bool]] = {}
    for p in paths:
        pp = PurePosixPath(p)
        stem = pp.name.split(".", 1)[0] if pp.suffix in (".py", ".pyi") else pp.stem.replace(".", "_")
        dirs = list(pp.parent.parts)
        if pp.suffix in (".py", ".pyi"):
            outer = next((k for k in range(1, len(dirs) + 1) if "/".join(dirs[:k]) in pkg_dirs), None)
            dirs = dirs[outer - 1 :] if outer is not None else []
        is_pkg = stem == "__init__"
        parts = dirs if is_pkg else [*dirs, stem]
        out[p] = (".".join(parts) or root_name, is_pkg)
    return out


def _parse_task(task: tuple[str, str, str, str, bool, str | None]):
    """Worker: read, check, hash and parse one file. Never raises."""
    abspath, rel, language, module, is_pkg, known_hash = task
    try:
        with open(abspath, "rb") as fh:
            data = fh.read()
        st = os.stat(abspath)
    except OSError as e:
        return ("skip", rel, f"unreadable: {e.strerror or e}")
    if b"\0" in data[:8192]:
        return ("skip", rel, "binary file")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return ("skip", rel, f"not valid UTF-8 (byte {e.start})")
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if digest == known_hash:
        return ("same", rel, st.st_size, st.st_mtime_ns)
    try:
        parsed = parse_source(data, rel, language, module)
    except Exception as e:  # a parser bug must not stop the run; report the file
        return ("skip", rel, f"parse failed: {type(e).__name__}: {e}")
    # Text prepared here, in the worker, to keep the storing process light.
    rec = FileRecord(rel, language, digest, st.st_size, st.st_mtime_ns, parsed, module, is_pkg, fts_rows(parsed), graph_json(parsed, module, is_pkg))
    return ("ok", rec)


def _results(tasks: list, jobs: int):
    if jobs <= 1 or len(tasks) < 16:
        yield from map(_parse_task, tasks)
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(jobs) as pool:
        yield from pool.imap(_parse_task, tasks, chunksize=4)


class IndexStopped(Exception):
    """The run was stopped by its caller's `stop()`; the index keeps its last committed state."""


def build_index(root: str | os.PathLike, cfg: IndexConfig = IndexConfig(), progress: Progress | None = None,
                stop: Callable[[], bool] | None = None, on_wait: Callable[[int | None], None] | None = None) -> IndexReport:
    """Index (or update the index of) the repository at root; returns what was done.

    One writer at a time: the run holds the index folder's lock (graphmer/index/lock.py); when another
    holds it, on_wait(its pid) is called and the run waits. `stop()` is polled between files,
    batches and embedding batches (and while waiting): when true, IndexStopped is raised and
    the index keeps its last committed state.
    """
    t0 = time.perf_counter()
    root_path = Path(root)
    if not root_path.exists():
        raise FileNotFoundError(f"{root} does not exist: give the path of a repository folder")
    if not root_path.is_dir():
        raise NotADirectoryError(f"{root} is not a folder: give the path of a repository folder")
    root_path = root_path.resolve()
    report = IndexReport(root=str(root_path))
    index_dir = Path(cfg.index_dir or root_path / INDEX_DIRNAME)
    try:
        with IndexLock(index_dir, on_wait=on_wait, stop=stop):
            report.timings["lock_wait"] = time.perf_counter() - t0
            if cfg.rebuild:
                aside = set_aside(index_dir)
                if aside is not None:
                    report.notes.append(f"the previous index files were moved to {aside}; delete it when you no longer need it")
            _build(root_path, index_dir, cfg, report, progress, stop or (lambda: False))
    except LockStopped:
        raise IndexStopped("stopped while waiting for another graphmer index run") from None
    report.seconds = time.perf_counter() - t0
    return report


def set_aside(index_dir: Path) -> Path | None:
    """Move the index's files (database, vectors, meta.json) into a new folder of index_dir,
    previous-<UTC time>/, so that a rebuild starts afresh and loses nothing; returns that folder
    (None when there was nothing to move). Call with the writers' lock held."""
    names = [n for n in (META_NAME, DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", FAISS_NAME) if (index_dir / n).exists()]
    if not names:
        return None
    aside = index_dir / ("previous-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(aside.name.split("~")[0] + f"~{n}")
    aside.mkdir()
    for name in names:
        os.replace(index_dir / name, aside / name)
    return aside


def _build(root_path: Path, index_dir: Path, cfg: IndexConfig, report: IndexReport, progress: Progress | None,
           stop: Callable[[], bool]) -> None:
    """build_index's work, with the lock held."""
    t0 = time.perf_counter()
    store = Store(index_dir, create=True)
    try:
        found = walk(str(root_path), cfg.walk)
        report.timings["walk"] = time.perf_counter() - t0
        report.files_seen = len(found.files)
        skipped = [(s.path, s.reason) for s in found.skipped]
        old = store.file_states()
        tasks = _changed_files(found, old, root_path, report)
        t1 = time.perf_counter()
        fresh, drop = _parse_and_store(store, tasks, cfg, report, progress, stop, skipped)
        report.timings["parse_store"] = time.perf_counter() - t1
        _forget_gone(store, found, old, skipped, drop, report)
        if store.get_state("edges_dirty", "0") == "1":
            _rebuild_edges(store, fresh, report, progress)
        w = cfg.walk
        store.update_meta(  # the lexical index is complete: record it before the (long) embedding
            root=str(root_path),
            indexed_at=_now(),
            walk={"include": list(w.include), "exclude": list(w.exclude), "max_bytes": w.max_bytes, "languages": list(w.languages),
                  "follow_links": w.follow_links},
        )
        _vectors(store, cfg, report, progress, stop)
        report.counts = store.counts()
    finally:
        store.close()


def _changed_files(found: WalkResult, old: dict, root_path: Path, report: IndexReport) -> list[tuple]:
    """Parse tasks (abspath, path, language, module, is_package, old hash) of the files whose size
    or modification time changed; the others are counted unchanged."""
    names = module_names([f.path for f in found.files], root_path.name)
    tasks = []
    for f in found.files:
        st = old.get(f.path)
        if st is not None and st.size == f.size and st.mtime_ns == f.mtime_ns:
            report.files_unchanged += 1
            continue
        module, is_pkg = names[f.path]
        tasks.append((f.abspath, f.path, f.language, module, is_pkg, st.hash if st else None))
    return tasks


def _parse_and_store(store: Store, tasks: list[tuple], cfg: IndexConfig, report: IndexReport, progress: Progress | None,
                     stop: Callable[[], bool], skipped: list[tuple[str, str]]) -> tuple[dict, list[str]]:
    """Parse the tasks (in parser processes) and store them, cfg.batch_files per transaction;
    files that could not be parsed are added to `skipped`. Returns ({path: FileGraph} of the
    files parsed, paths whose old entry must go)."""
    batch: list[FileRecord] = []
    touched: list[tuple[str, int, int]] = []
    drop: list[str] = []
    fresh = {}  # path -> FileGraph of files parsed in this run
    jobs = cfg.jobs or os.cpu_count() or 1
    results = _results(tasks, jobs)
    for done, res in enumerate(results, 1):
        if stop():
            results.close()  # ends the parser processes now
            raise IndexStopped("indexing stopped; the index keeps what was committed before")
        if res[0] == "ok":
            rec = res[1]
            batch.append(rec)
            fresh[rec.path] = file_graph(rec.parsed, rec.module, rec.is_package)
            report.lines_parsed += rec.parsed.lines
            report.files_with_syntax_errors += rec.parsed.syntax_errors > 0
            if len(batch) >= cfg.batch_files:
                store.replace_files(batch)
                report.files_parsed += len(batch)
                batch = []
        elif res[0] == "same":
            report.files_unchanged += 1
            touched.append(res[1:])
        else:
            skipped.append((res[1], res[2]))
            if not res[2].startswith("unreadable"):
                drop.append(res[1])  # its old entry no longer describes the file
        if progress:
            progress("parse", done, len(tasks))
    if batch:
        store.replace_files(batch)
        report.files_parsed += len(batch)
    if touched:
        store.touch_files(touched)
    return fresh, drop


def _forget_gone(store: Store, found: WalkResult, old: dict, skipped: list[tuple[str, str]], drop: list[str], report: IndexReport) -> None:
    """Delete the files no longer there (an unreadable one keeps its entry) and record the skipped ones."""
    stats = {f.path: (f.size, f.mtime_ns) for f in found.files}
    present = {f.path for f in found.files}
    kept_unreadable = {p for p, r in skipped if r.startswith("unreadable")}
    gone = [p for p in old if (p not in present and p not in kept_unreadable) or p in drop]
    if gone:
        store.delete_files(gone)
        report.files_deleted = len(gone)
    store.set_skipped(sorted(set(skipped)), stats)
    report.skipped = sorted(set(skipped))


def _rebuild_edges(store: Store, fresh: dict, report: IndexReport, progress: Progress | None) -> None:
    """Resolve the whole graph's edges again (some file changed)."""
    t2 = time.perf_counter()
    if progress:
        progress("graph", 0, 1)
    edges = Resolver(store.graph_inputs(fresh)).edges()
    store.replace_edges(edges)
    report.edges_rebuilt = True
    report.timings["graph"] = time.perf_counter() - t2
    if progress:
        progress("graph", 1, 1)


def _vectors(store: Store, cfg: IndexConfig, report: IndexReport, progress: Progress | None, stop: Callable[[], bool]) -> None:
    """Embed the symbols without a vector (when there is an embedder), then check vectors.faiss."""
    t3 = time.perf_counter()
    if cfg.embedder is not None:
        _embed(store, cfg.embedder, cfg.embed_batch, report, progress, stop)
    report.embed_s = time.perf_counter() - t3
    report.timings["embed"] = report.embed_s
    # vectors.faiss is checked whole here (its checksum), not only its generation: a damaged
    # file is rebuilt by the run that the user starts to mend things, not by the next search.
    if file_state(store, verify=True) != "ok":
        loaded = load_vectors(store, cfg.vectors, verify=True)
        if loaded.reason not in ("", "out of date"):  # out of date is this run's own doing
            report.notes.append(loaded.note)
    report.timings["vectors_file"] = time.perf_counter() - t3 - report.embed_s
    report.model_id = store.meta.get("model_id") if store.vector_count() else None


def _embed(store: Store, emb: Embedder, batch: int, report: IndexReport, progress: Progress | None,
           stop: Callable[[], bool]) -> None:
    """Give every embeddable symbol without a vector one from `emb`, a batch per transaction."""
    meta = store.meta
    if (meta.get("model_hash"), meta.get("dim")) != (emb.model_hash, emb.dim):
        # A model switch re-embeds everything, never mixes. Clear first, then record the new
        # model: a run stopped in between leaves no vectors under the old name, never old
        # vectors under the new one.
        if store.vector_count():
            store.clear_vectors()
        store.update_meta(model_id=emb.model_id, model_hash=emb.model_hash, dim=emb.dim)
    elif meta.get("model_id") != emb.model_id:
        store.update_meta(model_id=emb.model_id)
    store.set_propagation(dict(getattr(emb, "propagation", None) or {}))  # graphmer/index/graph_vectors.py
    todo = store.symbols_without_vectors()  # shortest first: a batch holds similar lengths
    if progress and todo:
        progress("embed", 0, len(todo))
    for start in range(0, len(todo), batch):
        if stop():
            raise IndexStopped(f"embedding stopped after {start} vectors; they are kept, and the next `graphmer index` finishes")
        ids = todo[start : start + batch]
        try:
            vectors = checked_vectors(emb.embed_symbols(store, ids), len(ids), emb.dim, "symbol vectors")
        except Exception as e:  # the model's failure: say what is kept and how to finish
            raise EmbedError(
                f"embedding with {emb.model_id!r} failed ({type(e).__name__}: {e}); the {start} vectors this run made "
                "before are kept and the lexical index is complete: run `graphmer index` again to finish, or use --no-dense"
            ) from e
        store.put_vectors(ids, vectors)
        report.symbols_embedded += len(ids)
        if progress:
            progress("embed", start + len(ids), len(todo))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
