"""The index's format: names and version, the numbered schema migrations, meta.json, and the
errors and transaction helper every part of the store shares (graphmer/index/store.py).

Schema changes are numbered migrations. Every write that must stay consistent runs in
one transaction (with_tx), so an interrupted run (Ctrl-C, kill -9) leaves the last committed state.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

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


def find_index_dir(start: str | os.PathLike) -> Path | None:
    """The nearest `.graphmer/` at or above `start`, as git finds `.git/`."""
    p = Path(start).resolve()
    for d in (p, *p.parents):
        if (d / INDEX_DIRNAME / META_NAME).is_file():
            return d / INDEX_DIRNAME
    return None


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def rebuild_hint(index_dir: Path) -> str:
    """What to do about a damaged index (the sources are the truth: rebuild from them)."""
    return f"run `graphmer index --rebuild {index_dir.parent}` to rebuild it from the sources (the current files are moved aside, not deleted)"


def damaged_message(db_path: Path, e: sqlite3.DatabaseError) -> str:
    """The one line for a database that SQLite cannot read."""
    return f"{db_path} is damaged or not a graphmer index ({e}): {rebuild_hint(db_path.parent)}"


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


def with_tx(conn: sqlite3.Connection, fn) -> None:
    """Run fn(conn) inside one IMMEDIATE transaction; roll back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
