"""The vectors table of the store (a part of Store, kept in its own file for size).

Dense vectors live in the `vectors` table: it is the source of truth, and vectors.faiss is
derived from it (graphmer/index/vectors.py). A symbol's vector is deleted in the same transaction
as the symbol (Store._delete_file_ids), and `state.vectors_gen` counts the committed
transactions that changed any vector, so a vectors.faiss built from an older generation
is known to be stale.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from graphmer.index.records import EMBED_KINDS
from graphmer.index.store_schema import StoreError, with_tx


class VectorTable:
    """Store's methods over the vectors table; Store provides conn, dir, get_state, _set_state."""

    conn: sqlite3.Connection
    dir: Path

    def _bump_vectors_gen(self) -> None:
        self.conn.execute(
            "INSERT INTO state(key, value) VALUES ('vectors_gen', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
        )

    def vectors_generation(self) -> int:
        """How many committed transactions have changed the vectors table."""
        return int(self.get_state("vectors_gen", "0"))

    def has_vectors(self) -> bool:
        """Whether the index holds any dense vectors (whatever model made them)."""
        return self.conn.execute("SELECT 1 FROM vectors LIMIT 1").fetchone() is not None

    def vector_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]

    def vector_dim(self) -> int | None:
        """The length of the stored vectors (None when there are none)."""
        row = self.conn.execute("SELECT length(vector) FROM vectors LIMIT 1").fetchone()
        return row[0] // 4 if row else None

    def symbols_without_vectors(self) -> list[int]:
        """Ids of the embeddable symbols (EMBED_KINDS, defined in a file) with no vector, shortest first."""
        kinds = sorted(EMBED_KINDS)
        rows = self.conn.execute(
            f"SELECT s.id FROM symbols s WHERE s.file_id IS NOT NULL AND s.kind IN ({','.join('?' * len(kinds))}) "
            "AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.symbol_id = s.id) ORDER BY s.end_line - s.start_line, s.id",
            kinds,
        )
        return [i for (i,) in rows]

    def put_vectors(self, ids: list[int], vectors: np.ndarray) -> None:
        """Store one batch of vectors (row i for ids[i]) in one transaction.

        A symbol deleted meanwhile (by another process) gets no vector.
        """
        vectors = np.asarray(vectors, dtype="<f4")
        assert vectors.ndim == 2 and len(vectors) == len(ids), f"{vectors.shape} vectors for {len(ids)} ids"

        def run(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT OR REPLACE INTO vectors(symbol_id, vector) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM symbols WHERE id = ?)",
                [(i, v.tobytes(), i) for i, v in zip(ids, vectors)],
            )
            self._bump_vectors_gen()

        with_tx(self.conn, run)

    def read_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """All vectors: ids (n,) int64 in id order, and vectors (n, dim) float32 (dim 0 when n is 0)."""
        ids, blobs = [], []
        for i, b in self.conn.execute("SELECT symbol_id, vector FROM vectors ORDER BY symbol_id"):
            ids.append(i)
            blobs.append(b)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        sizes = {len(b) for b in blobs}
        if len(sizes) != 1 or next(iter(sizes)) % 4:
            raise StoreError(f"the vectors in {self.dir} have mixed sizes {sorted(sizes)}; re-index with `graphmer index`")
        dim = next(iter(sizes)) // 4
        return np.array(ids, dtype=np.int64), np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32).reshape(-1, dim)

    def vector_symbols(self) -> list[tuple[int, str, int, str]]:
        """(id, path, start line, kind) of every symbol that has a vector, in id order."""
        return self.conn.execute(
            "SELECT s.id, f.path, s.start_line, s.kind FROM vectors v JOIN symbols s ON s.id = v.symbol_id "
            "JOIN files f ON f.id = s.file_id ORDER BY s.id").fetchall()

    def graph_edges(self, relations: tuple[str, ...]) -> list[tuple[int, int, str]]:
        """(src, dst, relation) of every resolved edge of these relations."""
        marks = ",".join("?" * len(relations))
        return self.conn.execute(f"SELECT src, dst, relation FROM edges WHERE relation IN ({marks})", relations).fetchall()

    def propagation_weights(self) -> dict[str, float]:
        """The graph propagation weights vectors.faiss is built with ({}: the model's own vectors)."""
        return json.loads(self.get_state("propagation", "{}") or "{}")

    def set_propagation(self, weights: dict[str, float]) -> None:
        """Record the propagation weights of the model that embeds this index; a change
        makes vectors.faiss out of date (it is rebuilt from the stored vectors, not re-embedded)."""
        value = json.dumps(dict(sorted(weights.items())))
        if value == json.dumps(self.propagation_weights()):
            return

        def run(c: sqlite3.Connection) -> None:
            self._set_state("propagation", value)
            self._bump_vectors_gen()

        with_tx(self.conn, run)

    def clear_vectors(self) -> None:
        """Delete every vector (a model switch re-embeds everything, it never mixes models)."""

        def run(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM vectors")
            self._bump_vectors_gen()

        with_tx(self.conn, run)

    def vector_file_generation(self) -> int | None:
        """The vectors generation that vectors.faiss was last written from (None: never)."""
        v = self.get_state("faiss_gen")
        return int(v) if v is not None else None

    def vector_file_hash(self) -> str | None:
        """The checksum of vectors.faiss as it was written (None: none recorded)."""
        return self.get_state("faiss_hash")

    def save_vector_file(self, generation: int, write: Callable[[], str | None]) -> bool:
        """Run write() (which writes vectors.faiss and returns its checksum, or None when it
        removed the file) and record that the file holds `generation`, with the checksum.

        Both happen under SQLite's write lock, and only while the vectors are still at
        `generation`, so two processes writing the file cannot leave a record that lies.
        Returns False (nothing written) when the vectors changed meanwhile.
        """
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if self.vectors_generation() != generation:
                c.execute("ROLLBACK")
                return False
            digest = write()
            self._set_state("faiss_gen", str(generation))
            self._set_state("faiss_hash", digest or "")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return True
