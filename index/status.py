"""Index health and staleness: what `graphmer status` reports."""
from __future__ import annotations

from pathlib import Path

from index.store import DB_NAME, Store
from index.vectors import file_is_current
from index.walk import WalkConfig, walk


def walk_config_from_meta(meta: dict) -> WalkConfig:
    """The walk settings the index was built with (recorded in meta.json)."""
    w = meta.get("walk") or {}
    return WalkConfig(
        include=tuple(w.get("include", ())),
        exclude=tuple(w.get("exclude", ())),
        max_bytes=int(w.get("max_bytes", WalkConfig().max_bytes)),
        languages=tuple(w.get("languages", ())),
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
        "vectors_file": "ok" if file_is_current(store) else "out of date",  # rebuilt by the next search or index run
    }


def index_status(index_dir: str | Path, sample: int = 20) -> dict:
    """Counts, format, and which files changed on disk since the last `graphmer index`."""
    store = Store(index_dir)
    try:
        meta = store.meta
        root = Path(index_dir).resolve().parent
        indexed = store.file_states()
        found = walk(str(root), walk_config_from_meta(meta))
        new, changed = [], []
        for f in found.files:
            st = indexed.get(f.path)
            if st is None:
                new.append(f.path)
            elif st.size != f.size or st.mtime_ns != f.mtime_ns:
                changed.append(f.path)
        present = {f.path for f in found.files}
        deleted = [p for p in indexed if p not in present]
        quick = store.conn.execute("PRAGMA quick_check").fetchone()[0]
        complete = store.get_state("edges_dirty", "0") != "1"
        return {
            "root": str(root),
            "index_dir": str(Path(index_dir).resolve()),
            "format_version": meta.get("version"),
            "indexed_at": meta.get("indexed_at"),
            **store.counts(),
            **_dense_status(store),
            "db_bytes": (Path(index_dir) / DB_NAME).stat().st_size,
            "integrity": quick,
            "complete": complete,
            "stale": bool(new or changed or deleted) or not complete,
            "new_files": len(new),
            "changed_files": len(changed),
            "deleted_files": len(deleted),
            "stale_sample": sorted(new + changed + deleted)[:sample],
            "skipped": [{"path": p, "reason": r} for p, r in store.skipped()],
        }
    finally:
        store.close()
