"""Index health and staleness: what `graphmer status` reports."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from graphmer.index.store import DB_NAME, META_NAME, Store, StoreError, damaged_message
from graphmer.index.vectors import FAISS_NAME, file_state
from graphmer.index.walk import WalkConfig, walk


def walk_config_from_meta(meta: dict) -> WalkConfig:
    """The walk settings the index was built with (recorded in meta.json)."""
    w = meta.get("walk") or {}
    return WalkConfig(
        include=tuple(w.get("include", ())),
        exclude=tuple(w.get("exclude", ())),
        max_bytes=int(w.get("max_bytes", WalkConfig().max_bytes)),
        languages=tuple(w.get("languages", ())),
        follow_links=bool(w.get("follow_links", False)),
    )


def _dense_status(store: Store) -> dict:
    """The vectors' model, coverage, and whether vectors.faiss is current (a cheap check)."""
    meta = store.meta
    has = store.vector_count() > 0
    return {
        "model_id": meta.get("model_id") if has else None,
        "model_hash": meta.get("model_hash") if has else None,
        "dim": meta.get("dim") if has else None,
        "symbols_without_vectors": len(store.symbols_without_vectors()),
        "graph_vectors": store.propagation_weights() if has else {},  # propagation weights ({}: the model's own vectors)
        "vectors_file": file_state(store, verify=True),  # "ok", or why not: the next `graphmer index` rebuilds it
    }


# index dir -> (the stats of the files the database report derives from, that report)
_db_reports: dict[str, tuple[tuple, dict]] = {}


def _db_report(store: Store, index_dir: Path) -> dict:
    """Counts and the dense status: they derive from the index's own files alone, so a report
    is kept while those files are unchanged (a server asks often; this costs ~100 ms on the
    standard library's index). Not the write-ahead log, which every connection's close
    rewrites: an index run ends by rewriting meta.json, which the key holds."""
    def stat(name: str):
        try:
            st = (index_dir / name).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    key = tuple(stat(n) for n in (DB_NAME, FAISS_NAME, META_NAME))
    kept = _db_reports.get(str(index_dir))
    if kept is None or kept[0] != key:
        kept = key, {**store.counts(), **_dense_status(store)}
        _db_reports[str(index_dir)] = kept
    return dict(kept[1])


def index_status(index_dir: str | Path, sample: int = 20, integrity: bool = True) -> dict:
    """Counts, format, and which files changed on disk since the last `graphmer index`.

    Raises StoreError when the database is damaged (SQLite's quick_check fails), with what to
    do. integrity=False skips that check ("integrity": "not checked"): for a server that has
    the index open already and asks often.
    """
    store = Store(index_dir)
    try:
        db_path = Path(index_dir) / DB_NAME
        quick = store.integrity() if integrity else "not checked"
        if quick not in ("ok", "not checked"):
            raise StoreError(damaged_message(db_path, sqlite3.DatabaseError(quick)))
        meta = store.meta
        root = Path(index_dir).resolve().parent
        indexed = store.file_states()
        skipped = store.skipped_states()
        found = walk(str(root), walk_config_from_meta(meta))
        new, changed = [], []
        for f in found.files:
            st = indexed.get(f.path)
            if st is None:
                if skipped.get(f.path) not in ((f.size, f.mtime_ns), (-1, -1)):  # a file skipped as it is is not new
                    new.append(f.path)
            elif st.size != f.size or st.mtime_ns != f.mtime_ns:
                changed.append(f.path)
        present = {f.path for f in found.files}
        deleted = [p for p in indexed if p not in present]
        complete = store.get_state("edges_dirty", "0") != "1"
        return {
            "root": str(root),
            "index_dir": str(Path(index_dir).resolve()),
            "format_version": meta.get("version"),
            "indexed_at": meta.get("indexed_at"),
            **_db_report(store, Path(index_dir).resolve()),
            "db_bytes": db_path.stat().st_size,
            "integrity": quick,
            "complete": complete,
            "stale": bool(new or changed or deleted) or not complete,
            "new_files": len(new),
            "changed_files": len(changed),
            "deleted_files": len(deleted),
            "stale_sample": sorted(new + changed + deleted)[:sample],
            "skipped": [{"path": p, "reason": r} for p, r in store.skipped()],
        }
    except sqlite3.DatabaseError as e:  # a damaged page that quick_check did not reach
        if type(e) is not sqlite3.DatabaseError:  # IntegrityError and the like: a bug, not damage
            raise
        raise StoreError(damaged_message(Path(index_dir) / DB_NAME, e)) from None
    finally:
        store.close()
