"""The store's queries for completion (graphmer/complete/): what the completer loads once
(file ids, symbols, attributes, `returns` and `decorated_by` edges, attribute-use and
`self.` totals) and the per-file rows it swaps for the open buffer's. Each function takes
the Store and returns plain rows, in the order the query gives them.
"""
from __future__ import annotations

from graphmer.index.store import Store


def file_paths(store: Store) -> list[str]:
    """Every indexed file's path, in file-id order."""
    return [p for (p,) in store.conn.execute("SELECT path FROM files ORDER BY id")]


def file_ids(store: Store) -> dict[str, int]:
    """path -> file id."""
    return dict(store.conn.execute("SELECT path, id FROM files"))


def symbol_rows(store: Store) -> list[tuple[int, str, str, str]]:
    """(id, qualname, kind, signature) of every symbol, highest id first."""
    return store.conn.execute("SELECT id, qualname, kind, signature FROM symbols ORDER BY id DESC").fetchall()


def attribute_rows(store: Store) -> list[tuple[str, str, str]]:
    """(owner, name, value encoding) of every stored attribute, by file and line."""
    return store.conn.execute("SELECT owner, name, value FROM attributes ORDER BY file_id, line").fetchall()


def return_edges(store: Store) -> list[tuple[str, str]]:
    """(function qualname, qualname of the type it returns) of the `returns` edges, in stored order."""
    return store.conn.execute(
        "SELECT s.qualname, d.qualname FROM edges e JOIN symbols s ON s.id = e.src JOIN symbols d ON d.id = e.dst "
        "WHERE e.relation = 'returns' ORDER BY e.rowid"
    ).fetchall()


def decorator_edges(store: Store) -> list[tuple[str, str]]:
    """(decorated symbol's qualname, decorator's qualname) of the `decorated_by` edges."""
    return store.conn.execute(
        "SELECT s.qualname, d.qualname FROM edges e JOIN symbols s ON s.id = e.src JOIN symbols d ON d.id = e.dst "
        "WHERE e.relation = 'decorated_by'"
    ).fetchall()


def method_attributes(store: Store) -> list[tuple[str, str]]:
    """(class qualname, name) of the attributes assigned inside one of the class's methods."""
    return store.conn.execute(
        "SELECT a.owner, a.name FROM attributes a JOIN symbols s ON s.file_id = a.file_id AND s.kind = 'method' "
        "AND a.line BETWEEN s.start_line AND s.end_line AND s.qualname = a.owner || '.' || s.name"
    ).fetchall()


def attr_use_totals(store: Store) -> list[tuple[str, str, int]]:
    """(receiver, name, uses) summed over the repository."""
    return store.conn.execute("SELECT receiver, name, sum(count) FROM attr_uses GROUP BY receiver, name").fetchall()


def attr_use_context_totals(store: Store) -> list[tuple[str, str, str, int]]:
    """(receiver, context token, name, uses) summed over the repository."""
    return store.conn.execute(
        "SELECT receiver, ctx, name, sum(count) FROM attr_uses GROUP BY receiver, ctx, name"
    ).fetchall()


def attr_use_rows(store: Store) -> list[tuple[int, str, str, int]]:
    """(file id, receiver, name, uses) of every stored attribute-use row."""
    return store.conn.execute("SELECT file_id, receiver, name, count FROM attr_uses").fetchall()


def file_attr_uses(store: Store, file_id: int) -> list[tuple[str, str, str, int]]:
    """(receiver, context token, name, uses) stored for one file."""
    return store.conn.execute("SELECT receiver, ctx, name, count FROM attr_uses WHERE file_id = ?", (file_id,)).fetchall()


def self_use_totals(store: Store) -> list[tuple[str, str, int]]:
    """(owning class, name, uses) of `self.name` / `cls.name`, summed over the repository."""
    return store.conn.execute("SELECT owner, name, sum(count) FROM self_uses GROUP BY owner, name").fetchall()


def file_self_uses(store: Store, file_id: int) -> list[tuple[str, str, int]]:
    """(owning class, name, uses) of `self.name` / `cls.name` stored for one file."""
    return store.conn.execute("SELECT owner, name, count FROM self_uses WHERE file_id = ?", (file_id,)).fetchall()


def symbol_info(store: Store, symbol_id: int) -> tuple[str, str, str, str, int] | None:
    """(signature, doc, qualname, file path, 1-based start line) of one symbol, or None."""
    return store.conn.execute(
        "SELECT s.signature, s.doc, s.qualname, f.path, s.start_line FROM symbols s LEFT JOIN files f ON f.id = s.file_id "
        "WHERE s.id = ?",
        (symbol_id,),
    ).fetchone()
