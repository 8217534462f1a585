"""The index store: SQLite (through sqlite-utils) under <root>/.graphmer/, plus meta.json.

Every write that must stay consistent runs in one transaction, so an interrupted run
(Ctrl-C, kill -9) leaves the last committed state; `state.edges_dirty` records that files
changed since the edges were last rebuilt. The format, migrations and meta.json:
graphmer/index/store_schema.py. Store's reads for the other modules live beside it, by topic:
graphmer/index/store_graph.py (symbols and edges), store_search.py (search), store_vectors.py
(dense vectors); no module outside graphmer/index/store*.py runs SQL.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from graphmer.index.graph import FileGraph
from graphmer.index.lock import IndexLock
from graphmer.index.records import Edge, ParsedFile, Ref
from graphmer.index.store_graph import GraphQueries
from graphmer.index.store_schema import (  # the names importers read from graphmer.index.store
    DB_NAME,
    FORMAT_NAME,
    FORMAT_VERSION,
    INDEX_DIRNAME,
    META_NAME,
    StoreError,
    damaged_message,
    find_index_dir,
    migrations,
    read_meta,
    rebuild_hint,
    with_tx,
    write_json_atomic,
)
from graphmer.index.store_search import SearchQueries
from graphmer.index.store_vectors import VectorTable
from graphmer.index.text import identifier_terms, split_code


@dataclass(frozen=True, slots=True)
class FileState:
    id: int
    hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One parsed file ready to store."""

    path: str
    language: str
    hash: str
    size: int
    mtime_ns: int
    parsed: ParsedFile
    module: str
    is_package: bool
    fts: list[tuple[str, str, str, str]]  # per symbol: name words, signature, doc, body (see fts_rows)
    graph_json: str  # the resolver's view of the file (see graph_json)


def fts_rows(pf: ParsedFile) -> list[tuple[str, str, str, str]]:
    """The text each symbol contributes to full-text search, identifiers opened up."""
    return [(identifier_terms(s.qualname), split_code(s.signature), s.doc, split_code(s.body)) for s in pf.symbols]


def graph_json(pf: ParsedFile, module: str, is_package: bool) -> str:
    """What resolution needs of a file, as stored in files.graph."""
    return json.dumps(
        {
            "module": module,
            "is_package": is_package,
            "symbols": [[s.name, s.qualname, s.kind, s.parent] for s in pf.symbols],
            "refs": [[x.source, x.kind, x.target, x.line, x.alias] for x in pf.refs],
        },
        separators=(",", ":"),
    )


def file_graph(pf: ParsedFile, module: str, is_package: bool) -> FileGraph:
    """The resolver's view of a freshly parsed file (same content as graph_json)."""
    return FileGraph(module, pf.language, [(s.name, s.qualname, s.kind, s.parent) for s in pf.symbols], pf.refs, is_package)


def _file_id(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


class Store(GraphQueries, SearchQueries, VectorTable):
    """Open the index under index_dir; create=True (build_index, which holds the writers'
    lock of graphmer/index/lock.py) creates or upgrades it as well."""

    def __init__(self, index_dir: str | os.PathLike, create: bool = False) -> None:
        self.dir = Path(index_dir)
        if create and not (self.dir / META_NAME).exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(
                self.dir / META_NAME,
                {"format": FORMAT_NAME, "version": FORMAT_VERSION, "created": _now()},
            )
        self.meta = read_meta(self.dir)
        db_path = self.dir / DB_NAME
        if not create and not db_path.exists():
            raise StoreError(f"{db_path} is missing: run `graphmer index {self.dir.parent}` to rebuild the index")
        if self.meta.get("indexed_at") and db_path.exists() and db_path.stat().st_size == 0:
            # SQLite would take an empty file for a new database and report a healthy index of 0 files.
            raise StoreError(f"{db_path} is empty (0 bytes) although {META_NAME} records an index made "
                             f"{self.meta['indexed_at']}: {rebuild_hint(self.dir)}")
        try:
            conn = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=10000")  # a writer's transaction is short: wait for it
            if migrations.pending(self.db):
                # Under the writers' lock, checked again: two processes opening one index must not
                # both run a migration ("table files already exists"). A creating caller holds it.
                with contextlib.nullcontext() if create else IndexLock(self.dir):
                    if migrations.pending(self.db):
                        migrations.apply(self.db)
            if self.meta["version"] < FORMAT_VERSION:
                self.update_meta(version=FORMAT_VERSION)
            self._identity = (_file_id(db_path), conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.DatabaseError as e:
            raise StoreError(damaged_message(db_path, e)) from None
        self.conn = conn

    def changed_underneath(self) -> bool:
        """Whether, since this store was opened, another connection committed a change to
        index.db or the file was replaced (`graphmer index --rebuild`): a cheap stat and pragma."""
        db_path = self.dir / DB_NAME
        try:
            now = (_file_id(db_path), self.conn.execute("PRAGMA data_version").fetchone()[0])
        except (OSError, sqlite3.Error):
            return True
        return now != self._identity

    def integrity(self) -> str:
        """SQLite's quick_check: "ok", or what is wrong (reads the whole database)."""
        try:
            rows = self.conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as e:
            return str(e)
        return "; ".join(str(r[0]) for r in rows[:3])

    @property
    def root(self) -> Path:
        """The indexed source folder (recorded at index time; an index may live elsewhere)."""
        return Path(self.meta["root"]) if self.meta.get("root") else self.dir.parent

    # -- meta --------------------------------------------------------------------------
    def update_meta(self, **fields) -> None:
        self.meta.update(fields)
        write_json_atomic(self.dir / META_NAME, self.meta)

    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set_state(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO state(key, value) VALUES (?, ?)", (key, value))

    # -- files -------------------------------------------------------------------------
    def file_states(self) -> dict[str, FileState]:
        rows = self.conn.execute("SELECT path, id, hash, size, mtime_ns FROM files")
        return {p: FileState(i, h, s, m) for p, i, h, s, m in rows}

    def _file_ids(self, paths: list[str]) -> list[int]:
        """Ids of the stored files among `paths` (only those rows are read)."""
        rows = self.conn.execute("SELECT id FROM files WHERE path IN (SELECT value FROM json_each(?))", (json.dumps(paths),))
        return [i for (i,) in rows]

    def _next_id(self, table: str) -> int:
        return (self.conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0) + 1

    def _delete_file_ids(self, ids: list[int]) -> None:
        c = self.conn
        vectors_gone = 0
        for i in ids:
            c.execute("DELETE FROM symbols_fts WHERE rowid IN (SELECT id FROM symbols WHERE file_id = ?)", (i,))
            vectors_gone += c.execute("DELETE FROM vectors WHERE symbol_id IN (SELECT id FROM symbols WHERE file_id = ?)", (i,)).rowcount
            c.execute("DELETE FROM symbols WHERE file_id = ?", (i,))
            c.execute("DELETE FROM attributes WHERE file_id = ?", (i,))
            c.execute("DELETE FROM attr_uses WHERE file_id = ?", (i,))
            c.execute("DELETE FROM self_uses WHERE file_id = ?", (i,))
            c.execute("DELETE FROM files WHERE id = ?", (i,))
        if vectors_gone:
            self._bump_vectors_gen()

    def replace_files(self, records: list[FileRecord]) -> None:
        """Store a batch of parsed files, replacing earlier versions, in one transaction."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            self._delete_file_ids(self._file_ids([r.path for r in records]))
            fid = self._next_id("files")
            sid = self._next_id("symbols")
            file_rows, sym_rows, fts_rows, attr_rows, use_rows, self_rows = [], [], [], [], [], []
            for r in records:
                pf = r.parsed
                file_rows.append((fid, r.path, r.language, r.hash, r.size, r.mtime_ns, pf.lines, pf.syntax_errors, r.graph_json))
                attr_rows += [(fid, pf.symbols[a.owner].qualname, a.name, a.line, a.value) for a in pf.attributes]
                use_rows += [(fid, u.receiver, u.name, u.count, u.ctx) for u in pf.attr_uses]
                self_rows += [(fid, pf.symbols[u.owner].qualname, u.name, u.count) for u in pf.self_uses]
                base = sid
                for s, text in zip(pf.symbols, r.fts):
                    parent = base + s.parent if s.parent >= 0 else None
                    sym_rows.append((sid, fid, s.name, s.qualname, s.kind, pf.language, s.start_line, s.end_line, parent, s.signature, s.doc))
                    fts_rows.append((sid, *text))
                    sid += 1
                fid += 1
            c.executemany("INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?)", file_rows)
            c.executemany("INSERT INTO symbols VALUES (?,?,?,?,?,?,?,?,?,?,?)", sym_rows)
            c.executemany("INSERT INTO symbols_fts(rowid, names, signature, doc, body) VALUES (?,?,?,?,?)", fts_rows)
            c.executemany("INSERT INTO attributes VALUES (?,?,?,?,?)", attr_rows)
            c.executemany("INSERT INTO attr_uses(file_id, receiver, name, count, ctx) VALUES (?,?,?,?,?)", use_rows)
            c.executemany("INSERT INTO self_uses VALUES (?,?,?,?)", self_rows)
            self._set_state("edges_dirty", "1")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def touch_files(self, updates: list[tuple[str, int, int]]) -> None:
        """Record new (size, mtime) for files whose content hash did not change."""
        with_tx(self.conn, lambda c: c.executemany("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", [(s, m, p) for p, s, m in updates]))

    def delete_files(self, paths: Iterable[str]) -> None:
        ids = self._file_ids(list(paths))
        if ids:
            def run(c):
                self._delete_file_ids(ids)
                self._set_state("edges_dirty", "1")

            with_tx(self.conn, run)

    # -- graph -------------------------------------------------------------------------
    def graph_inputs(self, known: dict[str, FileGraph] | None = None) -> list[FileGraph]:
        """Every stored file's FileGraph, in id order; `known` ones (by path) are not re-read."""
        known = known or {}
        out = []
        rows = self.conn.execute("SELECT path, language, CASE WHEN path IN (SELECT value FROM json_each(?)) THEN NULL ELSE graph END FROM files ORDER BY id", (json.dumps(list(known)),))
        for path, language, graph in rows:
            if graph is None:
                out.append(known[path])
                continue
            g = json.loads(graph)
            out.append(
                FileGraph(
                    module=g["module"],
                    language=language,
                    symbols=[tuple(s) for s in g["symbols"]],
                    refs=[Ref(*r) for r in g["refs"]],
                    is_package=g["is_package"],
                )
            )
        return out

    def set_skipped(self, skipped: list[tuple[str, str]], stats: dict[str, tuple[int, int]] | None = None) -> None:
        """Record the files the last run skipped, with reasons, and the (size, mtime_ns) each
        had when it was skipped (`stats`; unknown ones are stored as -1)."""
        stats = stats or {}
        rows = [(p, r, *stats.get(p, (-1, -1))) for p, r in skipped]
        if set(rows) == set(self.conn.execute("SELECT path, reason, size, mtime_ns FROM skipped")):
            return  # no commit: a run that changed nothing leaves data_version (changed_underneath) alone

        def run(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM skipped")
            c.executemany("INSERT OR REPLACE INTO skipped(path, reason, size, mtime_ns) VALUES (?,?,?,?)", rows)

        with_tx(self.conn, run)

    def replace_edges(self, edges: list[Edge]) -> None:
        """Replace all edges (and the external symbols they need) in one transaction."""
        c = self.conn

        def run(c: sqlite3.Connection) -> None:
            ids: dict[str, int] = {}
            for i, q in c.execute("SELECT id, qualname FROM symbols WHERE file_id IS NOT NULL ORDER BY id DESC"):
                ids[q] = i  # the first definition of a name wins
            externals = dict(c.execute("SELECT qualname, id FROM symbols WHERE file_id IS NULL"))
            needed = {e.dst for e in edges if e.dst not in ids}
            gone = [i for q, i in externals.items() if q not in needed]
            c.executemany("DELETE FROM symbols WHERE id = ?", [(i,) for i in gone])
            c.executemany("DELETE FROM symbols_fts WHERE rowid = ?", [(i,) for i in gone])
            sid = self._next_id("symbols")
            new_rows = []
            for q in sorted(needed - externals.keys()):
                name = q.rsplit(".", 1)[-1].lstrip("?")
                new_rows.append((sid, None, name, q, "external", "", 0, 0, None, "", ""))
                externals[q] = sid
                sid += 1
            c.executemany("INSERT INTO symbols VALUES (?,?,?,?,?,?,?,?,?,?,?)", new_rows)
            ids.update({q: externals[q] for q in needed})
            c.execute("DELETE FROM edges")
            c.executemany(
                "INSERT INTO edges(src, dst, relation, line) VALUES (?,?,?,?)",
                [(ids[e.src], ids[e.dst], e.relation, e.line) for e in edges if e.src in ids],
            )
            self._set_state("edges_dirty", "0")
            if self.propagation_weights():
                self._bump_vectors_gen()  # vectors.faiss mixes in neighbours: new edges make it stale

        with_tx(c, run)

    # -- reading -----------------------------------------------------------------------
    def counts(self) -> dict:
        c = self.conn
        rel = dict(c.execute("SELECT relation, count(*) FROM edges GROUP BY relation ORDER BY relation"))
        return {
            "files": c.execute("SELECT count(*) FROM files").fetchone()[0],
            "lines": c.execute("SELECT coalesce(sum(lines), 0) FROM files").fetchone()[0],
            "symbols": c.execute("SELECT count(*) FROM symbols WHERE file_id IS NOT NULL").fetchone()[0],
            "external_symbols": c.execute("SELECT count(*) FROM symbols WHERE file_id IS NULL").fetchone()[0],
            "edges": sum(rel.values()),
            "vectors": self.vector_count(),
            "edges_by_relation": rel,
        }

    def file_paths(self) -> list[str]:
        """Every stored file's path, in id order (the order of graph_inputs)."""
        return [p for (p,) in self.conn.execute("SELECT path FROM files ORDER BY id")]

    def file_paths_in_language(self, language: str) -> list[str]:
        """The paths of the stored files in this language, sorted."""
        return [p for (p,) in self.conn.execute("SELECT path FROM files WHERE language = ? ORDER BY path", (language,))]

    def largest_file_path(self) -> str | None:
        """The path of the stored file with the most lines (None: no files)."""
        row = self.conn.execute("SELECT path FROM files ORDER BY lines DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def skipped(self) -> list[tuple[str, str]]:
        return list(self.conn.execute("SELECT path, reason FROM skipped ORDER BY path"))

    def skipped_states(self) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) of each skipped file when it was skipped ((-1, -1): not recorded)."""
        return {p: (s, m) for p, s, m in self.conn.execute("SELECT path, size, mtime_ns FROM skipped")}

    def close(self) -> None:
        self.conn.close()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")