"""Symbol lookup and graph neighbourhoods (what `graphmer graph SYMBOL` shows)."""
from __future__ import annotations

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
    # the order of graphmer/index/store_graph.py SYMBOL_COLUMNS
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


def find_symbols(store: Store, name: str, limit: int = 20) -> Matches:
    """Symbols called `name`: an exact qualified name first, else a qualname suffix, else a name."""
    rows, total = store.symbols_named(name, limit)
    return Matches([SymbolInfo(*r) for r in rows], total)


def symbols_by_ids(store: Store, ids: list[int]) -> list[SymbolInfo]:
    """The symbols with these store ids, in id order (unknown ids are left out)."""
    if not ids:
        return []
    return [SymbolInfo(*r) for r in store.symbol_rows(ids)]


def neighbourhood(store: Store, symbol_id: int, limit: int = 50) -> Neighbourhood:
    """The symbol's neighbours grouped by relation, in both directions: the first `limit` of each, and its total."""
    row = store.symbol_row(symbol_id)
    if row is None:
        raise KeyError(symbol_id)
    out = Neighbourhood(SymbolInfo(*row))
    for outgoing, labels in ((True, OUTGOING), (False, INCOMING)):
        totals = store.edge_totals(symbol_id, outgoing)
        for rel, label in labels.items():
            if not totals.get(rel):
                continue
            rows = store.neighbour_rows(symbol_id, rel, outgoing, limit)
            out.groups[label] = [(SymbolInfo(*r[:-1]), r[-1]) for r in rows]
            out.totals[label] = totals[rel]
    return out


def adjacent(store: Store, ids: list[int], relations: tuple[str, ...]) -> dict[int, set[int]]:
    """Each of `ids`' neighbours along `relations`, edges taken in both directions."""
    out: dict[int, set[int]] = {i: set() for i in ids}
    if not ids or not relations:
        return out
    for src, dst in store.edges_touching(ids, relations):
        if src in out:
            out[src].add(dst)
        if dst in out:
            out[dst].add(src)
    return out
