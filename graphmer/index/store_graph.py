"""Store's reads over symbols and edges, the code graph (a part of Store, kept in its own file
for size): what `graphmer graph`, navigation, symbol matching, graph-neighbour search and
training samples ask of the index.

Rows come back as plain tuples; the caller gives them a type (SymbolInfo in
graphmer/index/neighbours.py for the SYMBOL_COLUMNS rows).
"""
from __future__ import annotations

import json
import sqlite3

# A symbol row in SymbolInfo's field order (graphmer/index/neighbours.py); path is NULL for externals.
SYMBOL_COLUMNS = "s.id, s.name, s.qualname, s.kind, s.language, f.path, s.start_line, s.end_line, s.signature, s.doc"
_FROM = "FROM symbols s LEFT JOIN files f ON f.id = s.file_id"


class GraphQueries:
    """Store's methods over the symbols and edges tables; Store provides conn."""

    conn: sqlite3.Connection

    # -- symbols (SYMBOL_COLUMNS rows) ---------------------------------------------------
    def symbols_named(self, name: str, limit: int) -> tuple[list[tuple], int]:
        """The first `limit` rows of the symbols called `name`, and how many there are: an exact
        qualified name first, else a qualname suffix, else a name ([], 0 when none)."""
        c = self.conn
        for where, arg in (("s.qualname = ?", name), ("s.qualname GLOB ?", "*." + _glob_escape(name)), ("s.name = ?", name)):
            (total,) = c.execute(f"SELECT COUNT(*) FROM symbols s WHERE {where}", (arg,)).fetchone()
            if total:
                rows = c.execute(f"SELECT {SYMBOL_COLUMNS} {_FROM} WHERE {where} ORDER BY s.file_id IS NULL, s.id LIMIT ?", (arg, limit)).fetchall()
                return rows, total
        return [], 0

    def symbol_rows(self, ids: list[int]) -> list[tuple]:
        """The rows of the symbols with these ids, in id order (unknown ids are left out)."""
        return self.conn.execute(
            f"SELECT {SYMBOL_COLUMNS} {_FROM} WHERE s.id IN (SELECT value FROM json_each(?)) ORDER BY s.id", (json.dumps(ids),)
        ).fetchall()

    def symbol_row(self, symbol_id: int) -> tuple | None:
        """The row of the symbol with this id (None: no such symbol)."""
        return self.conn.execute(f"SELECT {SYMBOL_COLUMNS} {_FROM} WHERE s.id = ?", (symbol_id,)).fetchone()

    def first_defined_symbol_id(self, qualname: str) -> int | None:
        """The id of the first indexed (non-external) symbol with this qualified name."""
        row = self.conn.execute(
            "SELECT id FROM symbols WHERE qualname = ? AND file_id IS NOT NULL ORDER BY id LIMIT 1", (qualname,)
        ).fetchone()
        return row[0] if row else None

    def defined_symbol_rows(self) -> list[tuple[int, str, str, str, str, int, int]]:
        """(id, name, qualname, kind, path, start line, end line) of every symbol defined in an
        indexed file, in id order."""
        return self.conn.execute(
            "SELECT s.id, s.name, s.qualname, s.kind, f.path, s.start_line, s.end_line "
            "FROM symbols s JOIN files f ON f.id = s.file_id ORDER BY s.id"
        ).fetchall()

    def sample_symbol_rows(self) -> list[tuple[int, str, str, str, int, int, int | None, str]]:
        """(id, name, qualname, kind, start line, end line, parent id, path) of every symbol
        defined in an indexed file, in id order: what training samples read."""
        return self.conn.execute(
            "SELECT s.id, s.name, s.qualname, s.kind, s.start_line, s.end_line, s.parent_id, f.path "
            "FROM symbols s JOIN files f ON f.id = s.file_id ORDER BY s.id").fetchall()

    def function_sites(self) -> list[tuple[int, str, int]]:
        """(id, path, start line) of every function and method defined in an indexed file."""
        return self.conn.execute(
            "SELECT s.id, f.path, s.start_line FROM symbols s JOIN files f ON f.id = s.file_id "
            "WHERE s.kind IN ('function', 'method')").fetchall()

    def symbol_ids_of_kinds(self, kinds: tuple[str, ...]) -> list[int]:
        """Ids of the symbols of these kinds, in id order."""
        rows = self.conn.execute(f"SELECT id FROM symbols WHERE kind IN ({','.join('?' * len(kinds))}) ORDER BY id", kinds)
        return [r[0] for r in rows]

    def graph_version(self) -> tuple[int, int | None, int | None]:
        """(edge count, largest edge rowid, largest symbol id): changes whenever the symbols or
        edges are rewritten, so a cache of the graph can tell it is stale."""
        return self.conn.execute(
            "SELECT (SELECT count(*) FROM edges), (SELECT max(rowid) FROM edges), (SELECT max(id) FROM symbols)").fetchone()

    # -- edges ---------------------------------------------------------------------------
    def edge_totals(self, symbol_id: int, outgoing: bool) -> dict[str, int]:
        """Relation -> how many edges leave (outgoing) or reach the symbol."""
        key, other = ("src", "dst") if outgoing else ("dst", "src")
        return dict(self.conn.execute(
            f"SELECT e.relation, COUNT(*) FROM edges e JOIN symbols s ON s.id = e.{other} WHERE e.{key} = ? GROUP BY e.relation",
            (symbol_id,),
        ).fetchall())

    def neighbour_rows(self, symbol_id: int, relation: str, outgoing: bool, limit: int) -> list[tuple]:
        """The first `limit` symbols at the other end of the symbol's `relation` edges leaving
        (outgoing) or reaching it, by qualname and line: SYMBOL_COLUMNS and the edge's line."""
        key, other = ("src", "dst") if outgoing else ("dst", "src")
        return self.conn.execute(
            f"SELECT {SYMBOL_COLUMNS}, e.line FROM edges e JOIN symbols s ON s.id = e.{other} "
            f"LEFT JOIN files f ON f.id = s.file_id WHERE e.{key} = ? AND e.relation = ? "
            f"ORDER BY s.qualname, e.line LIMIT ?",
            (symbol_id, relation, limit),
        ).fetchall()

    def edges_touching(self, ids: list[int], relations: tuple[str, ...]) -> list[tuple[int, int]]:
        """(src, dst) of every edge of these relations that leaves or reaches one of `ids`."""
        rels = ",".join("?" * len(relations))
        sql = (
            f"SELECT src, dst FROM edges WHERE src IN (SELECT value FROM json_each(?)) AND relation IN ({rels}) "
            f"UNION SELECT src, dst FROM edges WHERE dst IN (SELECT value FROM json_each(?)) AND relation IN ({rels})"
        )
        js = json.dumps(ids)
        return self.conn.execute(sql, (js, *relations, js, *relations)).fetchall()

    def edges_into(self, symbol_id: int, relations: tuple[str, ...]) -> list[tuple[int, int]]:
        """(source id, line) of the edges of these relations that reach the symbol (its callers,
        its users), by source and line."""
        return self._edge_ends("dst", symbol_id, relations)

    def edges_out_of(self, symbol_id: int, relations: tuple[str, ...]) -> list[tuple[int, int]]:
        """(target id, line) of the edges of these relations that leave the symbol (its callees),
        by target and line."""
        return self._edge_ends("src", symbol_id, relations)

    def _edge_ends(self, column: str, symbol_id: int, relations: tuple[str, ...]) -> list[tuple[int, int]]:
        other = "dst" if column == "src" else "src"
        rels = ",".join("?" * len(relations))
        rows = self.conn.execute(
            f"SELECT {other}, line FROM edges WHERE {column} = ? AND relation IN ({rels}) ORDER BY {other}, line",
            (symbol_id, *relations),
        ).fetchall()
        return [(a, b) for a, b in rows]

    def caller_count(self, symbol_id: int, relations: tuple[str, ...]) -> int:
        """How many distinct symbols reach the symbol by edges of these relations."""
        rels = ",".join("?" * len(relations))
        return self.conn.execute(f"SELECT count(DISTINCT src) FROM edges WHERE dst = ? AND relation IN ({rels})", (symbol_id, *relations)).fetchone()[0]

    def callee_count(self, symbol_id: int, relations: tuple[str, ...]) -> int:
        """How many distinct symbols the symbol reaches by edges of these relations."""
        rels = ",".join("?" * len(relations))
        return self.conn.execute(f"SELECT count(DISTINCT dst) FROM edges WHERE src = ? AND relation IN ({rels})", (symbol_id, *relations)).fetchone()[0]

    def named_edges(self, relations: tuple[str, ...]) -> list[tuple[int, str, int, str, int]]:
        """(source id, relation, line, target qualname, target id) of every edge of these
        relations whose target is resolved (its qualname does not start with '?'), in rowid order."""
        q = (f"SELECT e.src, e.relation, e.line, d.qualname, e.dst FROM edges e JOIN symbols d ON d.id = e.dst "
             f"WHERE e.relation IN ({','.join('?' * len(relations))}) AND substr(d.qualname, 1, 1) != '?' ORDER BY e.rowid")
        return self.conn.execute(q, relations).fetchall()

    def file_outline(self, path: str) -> tuple[str | None, list[tuple[str, str, int, int]]]:
        """The stored content hash of the file at `path` (None: not indexed) and its symbols
        other than the module, (name, qualname, start line, end line), outermost first."""
        row = self.conn.execute("SELECT id, hash FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            return None, []
        rows = self.conn.execute(
            "SELECT name, qualname, start_line, end_line FROM symbols WHERE file_id = ? AND kind != 'module' "
            "ORDER BY start_line, end_line DESC, id", (row[0],)
        ).fetchall()
        return row[1], rows


def _glob_escape(s: str) -> str:
    """A literal for SQLite GLOB (case-sensitive, unlike LIKE): _glob_escape("a*") -> "a[*]"."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in s)
