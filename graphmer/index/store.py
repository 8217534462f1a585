"""The index store: SQLite (through sqlite-utils) under <root>/.graphmer/, plus meta.json.

Schema changes are numbered migrations. Every write that must stay consistent runs in
one transaction, so an interrupted run (Ctrl-C, kill -9) leaves the last committed state;
`state.edges_dirty` records that files changed since the edges were last rebuilt.
Dense vectors: see graphmer/index/store_vectors.py.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from graphmer.index.graph import FileGraph
from graphmer.index.lock import IndexLock
from graphmer.index.records import Edge, ParsedFile, Ref
from graphmer.index.store_vectors import VectorTable
from graphmer.index.text import identifier_terms, split_code

INDEX_DIRNAME = ".graphmer"
DB_NAME = "index.db"
META_NAME = "meta.json"
FORMAT_NAME = "graphmer-index"
# 2: the vectors table (m002). An older graphmer would delete symbols and leave their
# vectors behind, so it must refuse a version-2 index; this one upgrades version 1.
# 3: attributes and attr_uses (m003), what completion reads; an older graphmer would leave
# their rows behind for deleted files.
# 4: attr_uses.ctx (m004), counts per token before the receiver; an older graphmer would
# insert rows without it.
# 5: self_uses (m005), `self.x` counts per owning class; an older graphmer would leave their
# rows behind for deleted files.
FORMAT_VERSION = 5

migrations = Migrations("graphmer-index")


class StoreError(Exception):
    """An index that cannot be used as it is: missing, foreign, newer, or corrupt."""


@migrations()
def m001_create_tables(db: sqlite_utils.Database) -> None:
    for statement in _SCHEMA_V1.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m002_vectors(db: sqlite_utils.Database) -> None:
    # One float32 vector per embeddable symbol (little-endian, meta.json's `dim` long).
    db.execute("CREATE TABLE vectors (symbol_id INTEGER PRIMARY KEY, vector BLOB NOT NULL)")


@migrations()
def m003_attributes(db: sqlite_utils.Database) -> None:
    # Names set on classes and modules (`self.x = ...`, class-body and module-level
    # assignments) and per-file counts of `receiver.name` uses: see graphmer/index/pynames.py.
    db.execute(
        "CREATE TABLE attributes (file_id INTEGER NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL, "
        "line INTEGER NOT NULL, value TEXT NOT NULL DEFAULT '')"
    )
    db.execute("CREATE INDEX attributes_file ON attributes(file_id)")
    db.execute("CREATE TABLE attr_uses (file_id INTEGER NOT NULL, receiver TEXT NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL)")
    db.execute("CREATE INDEX attr_uses_file ON attr_uses(file_id)")
    # Files stored before have no rows here: make the next `graphmer index` re-read and
    # re-parse them (a size/mtime that never matches, a hash that never matches).
    db.execute("UPDATE files SET mtime_ns = -1, hash = ''")


@migrations()
def m004_attr_use_context(db: sqlite_utils.Database) -> None:
    # attr_uses rows split by the token before the receiver (graphmer/index/pynames.py context_token),
    # so completion can rank `return t.` apart from `x: t.`.
    db.execute("ALTER TABLE attr_uses ADD COLUMN ctx TEXT NOT NULL DEFAULT ''")
    db.execute("UPDATE files SET mtime_ns = -1, hash = ''")  # re-parse them to fill it, as m003 does


@migrations()
def m005_self_uses(db: sqlite_utils.Database) -> None:
    # `self.name` / `cls.name` counts per class qualname (graphmer/index/pynames.py self_uses), so
    # completing `self.` can count the uses in the class's bases and subclasses in other files.
    db.execute("CREATE TABLE self_uses (file_id INTEGER NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL)")
    db.execute("CREATE INDEX self_uses_file ON self_uses(file_id)")
    db.execute("UPDATE files SET mtime_ns = -1, hash = ''")  # re-parse them to fill it, as m003 does


@migrations()
def m006_reparse_attribute_values(db: sqlite_utils.Database) -> None:
    # attributes.value now records what `a or b`, `x[i]`, `await f()` and `a if c else b` give
    # (graphmer/index/pynames.py expr_value): re-parse the files so older rows get them. No format
    # change: an older graphmer reads these rows as it reads its own.
    db.execute("UPDATE files SET mtime_ns = -1, hash = ''")


@migrations()
def m007_reparse_unpacked_attributes(db: sqlite_utils.Database) -> None:
    # attributes now include `self.a, self.b = ...` targets, and a slice `x[1:]` has x's value
    # (graphmer/index/pynames.py): re-parse, as m006 does. No format change.
    db.execute("UPDATE files SET mtime_ns = -1, hash = ''")


@migrations()
def m008_skipped_stat(db: sqlite_utils.Database) -> None:
    # The size and mtime a skipped file had, so `graphmer status` tells a skipped file that is
    # unchanged (not stale) from one changed since (-1: unknown). No format change: an older
    # graphmer inserts (path, reason) and the defaults fill the rest.
    db.execute("ALTER TABLE skipped ADD COLUMN size INTEGER NOT NULL DEFAULT -1")
    db.execute("ALTER TABLE skipped ADD COLUMN mtime_ns INTEGER NOT NULL DEFAULT -1")


_SCHEMA_V1 = """
        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            language TEXT NOT NULL,
            hash TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            lines INTEGER NOT NULL,
            syntax_errors INTEGER NOT NULL DEFAULT 0,
            graph TEXT NOT NULL
        );
        CREATE TABLE symbols (
            id INTEGER PRIMARY KEY,
            file_id INTEGER REFERENCES files(id),  -- NULL for external symbols
            name TEXT NOT NULL,
            qualname TEXT NOT NULL,
            kind TEXT NOT NULL,
            language TEXT NOT NULL,
            start_line INTEGER NOT NULL,
            end_line INTEGER NOT NULL,
            parent_id INTEGER,
            signature TEXT NOT NULL DEFAULT '',
            doc TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX symbols_file ON symbols(file_id);
        CREATE INDEX symbols_qualname ON symbols(qualname);
        CREATE INDEX symbols_name ON symbols(name);
        CREATE TABLE edges (
            src INTEGER NOT NULL,
            dst INTEGER NOT NULL,
            relation TEXT NOT NULL,
            line INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX edges_src ON edges(src, relation);
        CREATE INDEX edges_dst ON edges(dst, relation);
        CREATE VIRTUAL TABLE symbols_fts USING fts5(
            names, signature, doc, body, tokenize = 'porter unicode61'
        );
        CREATE TABLE skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
        CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


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


def find_index_dir(start: str | os.PathLike) -> Path | None:
    """The nearest `.graphmer/` at or above `start`, as git finds `.git/`."""
    p = Path(start).resolve()
    for d in (p, *p.parents):
        if (d / INDEX_DIRNAME / META_NAME).is_file():
            return d / INDEX_DIRNAME
    return None


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def rebuild_hint(index_dir: Path) -> str:
    """What to do about a damaged index (the sources are the truth: rebuild from them)."""
    return f"run `graphmer index --rebuild {index_dir.parent}` to rebuild it from the sources (the current files are moved aside, not deleted)"


def damaged_message(db_path: Path, e: sqlite3.DatabaseError) -> str:
    """The one line for a database that SQLite cannot read."""
    return f"{db_path} is damaged or not a graphmer index ({e}): {rebuild_hint(db_path.parent)}"


def _file_id(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def read_meta(index_dir: Path) -> dict:
    """meta.json, checked: refuses foreign or newer indexes with a message saying what to do."""
    path = index_dir / META_NAME
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreError(f"no index at {index_dir.parent}: run `graphmer index {index_dir.parent}` first") from None
    except (OSError, ValueError) as e:
        raise StoreError(f"{path} is unreadable or corrupt ({e}): {rebuild_hint(index_dir)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise StoreError(f"{index_dir} is not a graphmer index (no '{FORMAT_NAME}' format in meta.json); move it away or delete it, then re-index")
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StoreError(
            f"{index_dir} was written by a newer graphmer (index format {version}, this graphmer reads up to "
            f"{FORMAT_VERSION}): upgrade graphmer, or delete {index_dir} and re-index"
        )
    return meta


class Store(VectorTable):
    """Open the index under index_dir; create=True (build_index, which holds the writers'
    lock of graphmer/index/lock.py) creates or upgrades it as well."""

    def __init__(self, index_dir: str | os.PathLike, create: bool = False) -> None:
        self.dir = Path(index_dir)
        if create and not (self.dir / META_NAME).exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            _write_json_atomic(
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
        _write_json_atomic(self.dir / META_NAME, self.meta)

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

    def skipped(self) -> list[tuple[str, str]]:
        return list(self.conn.execute("SELECT path, reason FROM skipped ORDER BY path"))

    def skipped_states(self) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) of each skipped file when it was skipped ((-1, -1): not recorded)."""
        return {p: (s, m) for p, s, m in self.conn.execute("SELECT path, size, mtime_ns FROM skipped")}

    def rows(self, sql: str, params: Iterable = ()) -> Iterator[sqlite3.Row]:
        cur = self.conn.execute(sql, tuple(params))
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row))

    def close(self) -> None:
        self.conn.close()


def with_tx(conn: sqlite3.Connection, fn) -> None:
    """Run fn(conn) inside one IMMEDIATE transaction; roll back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
