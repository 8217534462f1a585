"""The FAISS side of dense search: vectors.faiss, built from the store's vectors table.

The file is derived data: the stored vectors, or with a model that ships graph propagation
(graphmer/index/graph_vectors.py) each mixed with its neighbours'. Its ids are the store's symbol
ids (IndexIDMap2); it is exact inner product (IndexFlatIP) below a size threshold and HNSW
above it (docs/architecture.md §5). It is written to a temporary name, fsynced and renamed after the
SQLite commit, and the store records which vectors generation it holds, so a missing,
corrupt, stale or foreign file is detected on load and rebuilt from the store.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from graphmer.index.graph_vectors import EDGE_RELATIONS, propagated
from graphmer.index.store import Store

if TYPE_CHECKING:
    import faiss  # imported where used: lexical search and --no-dense indexing never load it

FAISS_NAME = "vectors.faiss"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VectorConfig:
    hnsw_threshold: int = 50_000  # this many vectors or more: HNSW (approximate); fewer: exact flat search
    hnsw_m: int = 32  # HNSW graph degree
    ef_construction: int = 80  # HNSW build beam (faiss default 40; wider is better recall for a one-off cost)
    ef_search: int = 64  # HNSW search beam (faiss widens it to k when k is larger)


class VectorIndex:
    """A loaded FAISS index over symbol ids; inner product of unit vectors = cosine."""

    def __init__(self, index: faiss.Index, cfg: VectorConfig = VectorConfig()) -> None:
        import faiss  # lazy: lexical search and --no-dense indexing never load faiss

        self.index = index
        base = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
        self.kind = "hnsw" if isinstance(base, faiss.IndexHNSW) else "flat"
        if self.kind == "hnsw":
            base.hnsw.efSearch = cfg.ef_search
        self._base = base  # keeps the wrapped index alive as long as the wrapper

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    @property
    def dim(self) -> int:
        return self.index.d

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest symbols to one unit query vector: [(symbol id, cosine)], best first."""
        k = min(k, self.ntotal)
        if k <= 0:
            return []
        import faiss  # lazy: lexical search and --no-dense indexing never load faiss

        # One query: OpenMP threads cost more to start than they save (1.4 ms against 3.3 ms
        # over the standard library's 19k vectors); the setting is this thread's own.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), k)
        finally:
            faiss.omp_set_num_threads(threads)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def build_faiss(ids: np.ndarray, vectors: np.ndarray, cfg: VectorConfig = VectorConfig()) -> faiss.Index:
    """An IndexIDMap2 over `vectors` (n, dim) with `ids`: flat below cfg.hnsw_threshold, HNSW from it."""
    import faiss  # lazy: lexical search and --no-dense indexing never load faiss

    n, dim = vectors.shape
    if n >= cfg.hnsw_threshold:
        base = faiss.IndexHNSWFlat(dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = cfg.ef_construction
        base.hnsw.efSearch = cfg.ef_search
    else:
        base = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(base)  # the python wrapper keeps `base` referenced
    if n:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))
    return index


def file_digest(data: bytes) -> str:
    """The checksum recorded for vectors.faiss (sha256: with the CPU's SHA instructions, 35 ms
    for 61 MB here, twice as fast as blake2b)."""
    return hashlib.sha256(data).hexdigest()


def write_index_file(index: faiss.Index, path: Path) -> str:
    """Write `index` to `path` atomically (a temporary file in the same folder, fsync, rename);
    returns the file's checksum (file_digest)."""
    import faiss  # lazy: lexical search and --no-dense indexing never load faiss

    data = faiss.serialize_index(index).tobytes()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return file_digest(data)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    return file_digest(data)


@dataclass(frozen=True, slots=True)
class VectorLoad:
    """What load_vectors found: the index (None when the store has no vectors), and whether
    vectors.faiss had to be rebuilt from the store, with why ("out of date", "missing", ...)."""

    index: VectorIndex | None
    rebuilt: bool = False
    reason: str = ""
    saved: bool = True  # False: rebuilt in memory only (the file could not be written)

    @property
    def note(self) -> str | None:
        """A sentence for the user when the file was rebuilt, else None."""
        if not self.rebuilt:
            return None
        n = self.index.ntotal if self.index is not None else 0
        tail = "" if self.saved else " (in memory only: the file could not be written)"
        return f"{FAISS_NAME} was {self.reason}; rebuilt it from the {n} vectors in the index database{tail}"


def file_state(store: Store, verify: bool = False) -> str:
    """"ok" when vectors.faiss was written from the store's current vectors, else why not
    ("out of date", "missing", and with verify, which reads the whole file: "damaged (...)").
    Cheap without verify: the file is not read, so a file damaged since it was written passes."""
    has = store.has_vectors()
    path = store.dir / FAISS_NAME
    if store.vector_file_generation() != store.vectors_generation():
        return "out of date"
    if not has:
        return "ok"
    if not path.is_file():
        return "missing"
    if verify:
        try:
            return _checksum_problem(store, path.read_bytes()) or "ok"
        except OSError as e:
            return f"unreadable ({e.strerror or e})"
    return "ok"


def _checksum_problem(store: Store, data: bytes) -> str:
    """Why the bytes of vectors.faiss are not what was written ("" when they are)."""
    recorded = store.vector_file_hash()
    if recorded is None:
        return "without a checksum (written by an older graphmer)"
    if file_digest(data) != recorded:
        return "damaged (its checksum does not match the one recorded when it was written)"
    return ""


def load_vectors(store: Store, cfg: VectorConfig = VectorConfig(), verify: bool = False) -> VectorLoad:
    """The store's vectors as a FAISS index, from vectors.faiss when that is consistent with
    the store (same generation, count and dimension, and with verify the checksum recorded
    when it was written), else rebuilt from the store and saved.

    Never raises for a bad file: the reason comes back in VectorLoad (callers show .note).
    """
    path = store.dir / FAISS_NAME
    gen = store.vectors_generation()  # read before the vectors: see Store.save_vector_file
    count = store.vector_count()
    dim = store.vector_dim()
    reason = ""
    if store.vector_file_generation() != gen:
        reason = "out of date"
    elif count and not path.exists():
        reason = "missing"
    if count and not reason:
        import faiss  # lazy: lexical search and --no-dense indexing never load faiss

        index = None
        try:
            if verify:
                data = path.read_bytes()
                reason = _checksum_problem(store, data)
                if not reason:
                    index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
            else:
                index = faiss.read_index(str(path))
        except (RuntimeError, MemoryError) as e:  # faiss raises RuntimeError for bad or truncated files
            index, reason = None, f"unreadable ({_faiss_message(e)})"
        except OSError as e:
            index, reason = None, f"unreadable ({e.strerror or e})"
        if index is not None and (index.ntotal != count or index.d != dim or not isinstance(index, faiss.IndexIDMap2)):
            reason = f"inconsistent with the index database ({index.ntotal} vectors of dimension {index.d}, expected {count} of {dim})"
        if not reason:
            return VectorLoad(VectorIndex(index, cfg))
    if not count:
        saved = _save(store, gen, None, path) if reason else True
        return VectorLoad(None, False, "", saved)
    ids, vectors = store.read_vectors()
    if weights := store.propagation_weights():
        vectors = propagated(ids, vectors, store.graph_edges(EDGE_RELATIONS), weights)
    index = build_faiss(ids, vectors, cfg)
    saved = _save(store, gen, index, path)
    log.info("%s was %s; rebuilt from %d vectors", path, reason, len(ids))
    return VectorLoad(VectorIndex(index, cfg), True, reason, saved)


def _save(store: Store, gen: int, index: faiss.Index | None, path: Path) -> bool:
    """Write (or, for no vectors, remove) vectors.faiss and record its generation; False if that failed."""

    def write() -> str | None:
        if index is None:
            path.unlink(missing_ok=True)
            return None
        return write_index_file(index, path)

    try:
        return store.save_vector_file(gen, write)
    except OSError as e:  # a read-only index folder: search still works from memory
        log.warning("could not write %s: %s", path, e)
        return False
    except sqlite3.OperationalError as e:  # another process held the write lock too long
        log.warning("could not record %s: %s", path, e)
        return False


def _faiss_message(e: Exception) -> str:
    """The message of a faiss error without its C++ location.

    "Error in f() at index_read.cpp:3251: Index type 0x6b6e756a ("junk") not recognized"
        -> 'Index type 0x6b6e756a ("junk") not recognized'
    """
    m = re.search(r"\.(?:cpp|h):\d+: (?:Error: )?(.*)", str(e), re.S)
    return (m.group(1) if m else str(e)).strip().splitlines()[0][:160]
