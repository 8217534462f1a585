"""Store's reads for search (a part of Store, kept in its own file for size): FTS5 BM25 matches,
symbol rows by id, and the kind, language and path filters both apply (graphmer/index/search.py).
"""
from __future__ import annotations

import json
import sqlite3
from typing import NamedTuple


class SearchRow(NamedTuple):
    """What search reads of a symbol (the order of _ROW_COLS)."""

    id: int
    path: str
    start_line: int
    end_line: int
    name: str
    qualname: str
    kind: str
    language: str


# SQL conditions (each starting with AND) and their parameters: see search_filter.
SearchFilter = tuple[str, list]

_ROW_COLS = "s.id, f.path, s.start_line, s.end_line, s.name, s.qualname, s.kind, s.language"


def search_filter(kinds, languages, path) -> SearchFilter:
    """SQL conditions (each starting with AND) for the kind, language and path filters."""
    sql, params = [], []
    if kinds:
        sql.append(f"AND s.kind IN ({','.join('?' * len(kinds))})")
        params += kinds
    if languages:
        sql.append(f"AND s.language IN ({','.join('?' * len(languages))})")
        params += languages
    if path:
        sql.append("AND f.path GLOB ?")
        params.append(path if any(ch in path for ch in "*?[") else path.rstrip("/") + "*")
    return " ".join(sql), params


class SearchQueries:
    """Store's methods over symbols_fts, symbols and files for search; Store provides conn."""

    conn: sqlite3.Connection

    def lexical_matches(
        self, terms: list[str], weights: tuple[float, float, float, float], limit: int, filt: SearchFilter
    ) -> list[tuple[SearchRow, float]]:
        """The first `limit` FTS5 BM25 matches of any of `terms` that pass the filters, best first;
        weights are the BM25 column weights (names, signature, doc, body), and the score is
        -bm25 (higher is better)."""
        match = " OR ".join(f'"{t}"' for t in terms)
        if filt[0]:  # the filters need the symbols' and files' columns before the limit
            sql = (
                f"SELECT {_ROW_COLS}, bm25(symbols_fts, ?, ?, ?, ?) AS rank "
                "FROM symbols_fts JOIN symbols s ON s.id = symbols_fts.rowid JOIN files f ON f.id = s.file_id "
                f"WHERE symbols_fts MATCH ? {filt[0]} ORDER BY rank, s.id LIMIT ?"
            )
        else:  # rank the FTS rows alone, then join only the first `limit` (a third less time per query)
            sql = (
                f"SELECT {_ROW_COLS}, r.rank FROM (SELECT rowid, bm25(symbols_fts, ?, ?, ?, ?) AS rank FROM symbols_fts "
                "WHERE symbols_fts MATCH ? ORDER BY rank, rowid LIMIT ?) r "
                "JOIN symbols s ON s.id = r.rowid JOIN files f ON f.id = s.file_id ORDER BY r.rank, r.rowid"
            )
        params = [*weights, match, *filt[1], limit]
        return [(SearchRow(*r[:-1]), -r[-1]) for r in self.conn.execute(sql, params)]

    def search_rows(self, ids: list[int], filt: SearchFilter) -> dict[int, SearchRow]:
        """The rows of the symbols with these ids that pass the filters, by id."""
        sql = (
            f"SELECT {_ROW_COLS} FROM symbols s JOIN files f ON f.id = s.file_id "
            f"WHERE s.id IN (SELECT value FROM json_each(?)) {filt[0]}"
        )
        return {r[0]: SearchRow(*r) for r in self.conn.execute(sql, [json.dumps(ids), *filt[1]])}
