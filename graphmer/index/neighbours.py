"""Symbol lookup and graph neighbourhoods (what `graphmer graph SYMBOL` shows)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from graphmer.index.store import Store

# Names for each relation seen from its source (outgoing) and from its target (incoming).
OUTGOING = {
    "calls": "callees",
    "instantiates": "instantiates",
    "inherits_from": "bases",
    "implements": "implements",
    "overrides": "overrides",
    "contains": "members",
    "imports": "imports",
    "decorated_by": "decorators",
    "raises": "raises",
    "param_type": "parameter types",
    "returns": "return types",
}
INCOMING = {
    "calls": "callers",
    "instantiates": "instantiated by",
    "inherits_from": "subclasses",
    "implements": "implemented by",
    "overrides": "overridden by",
    "contains": "container",
    "imports": "imported by",
    "decorated_by": "decorates",
    "raises": "raised by",
    "param_type": "parameter of",
    "returns": "returned by",
}


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    id: int
    name: str
    qualname: str
    kind: str
    language: str
    path: str | None  # None for external symbols
    start_line: int
    end_line: int
    signature: str = ""
    doc: str = ""

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class Neighbourhood:
    symbol: SymbolInfo
    groups: dict[str, list[tuple[SymbolInfo, int]]] = field(default_factory=dict)  # label -> (symbol, line), at most `limit`
    totals: dict[str, int] = field(default_factory=dict)  # label -> edges in the index, listed or not

    def to_json(self) -> dict:
        return {
            "symbol": self.symbol.to_json(),
            "neighbours": {
                label: [{**s.to_json(), "edge_line": line} for s, line in items] for label, items in self.groups.items()
            },
            "totals": dict(self.totals),
        }


@dataclass(frozen=True, slots=True)
class Matches:
    symbols: list[SymbolInfo]  # the first `limit` of them
    total: int  # every symbol the name matches, listed or not


_COLS = "s.id, s.name, s.qualname, s.kind, s.language, f.path, s.start_line, s.end_line, s.signature, s.doc"
_FROM = "FROM symbols s LEFT JOIN files f ON f.id = s.file_id"


def find_symbols(store: Store, name: str, limit: int = 20) -> Matches:
    """Symbols called `name`: an exact qualified name first, else a qualname suffix, else a name."""
    c = store.conn
    for where, arg in (("s.qualname = ?", name), ("s.qualname GLOB ?", "*." + _glob_escape(name)), ("s.name = ?", name)):
        (total,) = c.execute(f"SELECT COUNT(*) FROM symbols s WHERE {where}", (arg,)).fetchone()
        if total:
            rows = c.execute(f"SELECT {_COLS} {_FROM} WHERE {where} ORDER BY s.file_id IS NULL, s.id LIMIT ?", (arg, limit)).fetchall()
            return Matches([SymbolInfo(*r) for r in rows], total)
    return Matches([], 0)


def symbols_by_ids(store: Store, ids: list[int]) -> list[SymbolInfo]:
    """The symbols with these store ids, in id order (unknown ids are left out)."""
    if not ids:
        return []
    rows = store.conn.execute(
        f"SELECT {_COLS} {_FROM} WHERE s.id IN (SELECT value FROM json_each(?)) ORDER BY s.id", (json.dumps(ids),)
    ).fetchall()
    return [SymbolInfo(*r) for r in rows]


def neighbourhood(store: Store, symbol_id: int, limit: int = 50) -> Neighbourhood:
    """The symbol's neighbours grouped by relation, in both directions: the first `limit` of each, and its total."""
    c = store.conn
    row = c.execute(f"SELECT {_COLS} {_FROM} WHERE s.id = ?", (symbol_id,)).fetchone()
    if row is None:
        raise KeyError(symbol_id)
    out = Neighbourhood(SymbolInfo(*row))
    for key, other, labels in (("src", "dst", OUTGOING), ("dst", "src", INCOMING)):
        totals = dict(c.execute(
            f"SELECT e.relation, COUNT(*) FROM edges e JOIN symbols s ON s.id = e.{other} WHERE e.{key} = ? GROUP BY e.relation",
            (symbol_id,),
        ).fetchall())
        for rel, label in labels.items():
            if not totals.get(rel):
                continue
            rows = c.execute(
                f"SELECT {_COLS}, e.line FROM edges e JOIN symbols s ON s.id = e.{other} "
                f"LEFT JOIN files f ON f.id = s.file_id WHERE e.{key} = ? AND e.relation = ? "
                f"ORDER BY s.qualname, e.line LIMIT ?",
                (symbol_id, rel, limit),
            ).fetchall()
            out.groups[label] = [(SymbolInfo(*r[:-1]), r[-1]) for r in rows]
            out.totals[label] = totals[rel]
    return out


def adjacent(store: Store, ids: list[int], relations: tuple[str, ...]) -> dict[int, set[int]]:
    """Each of `ids`' neighbours along `relations`, edges taken in both directions."""
    out: dict[int, set[int]] = {i: set() for i in ids}
    if not ids or not relations:
        return out
    rels = ",".join("?" * len(relations))
    sql = (
        f"SELECT src, dst FROM edges WHERE src IN (SELECT value FROM json_each(?)) AND relation IN ({rels}) "
        f"UNION SELECT src, dst FROM edges WHERE dst IN (SELECT value FROM json_each(?)) AND relation IN ({rels})"
    )
    js = json.dumps(ids)
    for src, dst in store.conn.execute(sql, (js, *relations, js, *relations)):
        if src in out:
            out[src].add(dst)
        if dst in out:
            out[dst].add(src)
    return out


def _glob_escape(s: str) -> str:
    """A literal for SQLite GLOB (case-sensitive, unlike LIKE): _glob_escape("a*") -> "a[*]"."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in s)
