"""The graph tools: callers and callees (the LSP call hierarchy's Navigator, followed `depth`
levels, with call-site lines) and a symbol's neighbours by relation (what `graphmer graph` prints)."""
from __future__ import annotations

from graphmer.index.navigate import CALL_RELATIONS, Call
from graphmer.index.neighbours import INCOMING, OUTGOING, neighbourhood, symbols_by_ids
from graphmer.mcp.results import CallEntry, CallsResult, Neighbour, NeighboursResult, RelationGroup, ToolFailure
from graphmer.mcp.tools import MAX_LIMIT, check_range, line_at, ref, resolve_symbol

MAX_DEPTH = 5
SITES_LIMIT = 5  # call sites listed per caller or callee
RELATION_LABELS = tuple(dict.fromkeys([*OUTGOING.values(), *INCOMING.values()]))


def _walk(state, root_id: int, incoming: bool, depth: int) -> tuple[list[tuple[int, int, int]], int]:
    """Breadth-first over call edges from root_id: (symbol id, depth, parent id) for every
    indexed symbol within `depth`, each once at its smallest depth, in tree order (an entry
    after its parent, siblings by qualified name)."""
    store = state.store
    parent: dict[int, tuple[int, int]] = {root_id: (0, -1)}  # id -> (depth, parent)
    frontier = [root_id]
    children: dict[int, list[int]] = {}
    for level in range(1, depth + 1):
        nxt = []
        for node in frontier:
            pairs = store.edges_into(node, CALL_RELATIONS) if incoming else store.edges_out_of(node, CALL_RELATIONS)
            for other, _ in pairs:
                if other not in parent:
                    parent[other] = (level, node)
                    nxt.append(other)
                    children.setdefault(node, []).append(other)
        frontier = nxt
    infos = {s.id: s for s in symbols_by_ids(store, [i for i in parent if i != root_id])}
    located = {i for i, s in infos.items() if s.path is not None}  # external symbols have no location (as in the LSP)
    order: list[tuple[int, int, int]] = []
    stack = [(c, root_id) for c in sorted(children.get(root_id, []), key=lambda i: infos[i].qualname, reverse=True)]
    while stack:
        node, up = stack.pop()
        if node not in located:
            continue
        order.append((node, parent[node][0], up))
        stack += [(c, node) for c in sorted(children.get(node, []), key=lambda i: infos[i].qualname, reverse=True)]
    return order, len(order)


def calls(state, symbol: str, incoming: bool, depth: int = 1, limit: int = 50) -> CallsResult:
    """The symbol's callers (incoming) or callees, `depth` levels deep, with call-site lines."""
    check_range("depth", depth, 1, MAX_DEPTH)
    check_range("limit", limit, 1, MAX_LIMIT)
    sym, _ = resolve_symbol(state, symbol)
    order, total = _walk(state, sym.id, incoming, depth)
    nav = state.navigator
    hierarchy: dict[int, dict[int, Call]] = {}  # parent id -> {other id: Call}, asked once per parent
    names: dict[int, str] = {sym.id: sym.qualname}
    lines: dict[str, list[str]] = {}
    entries = []
    for node, level, up in order[:limit]:
        if up not in hierarchy:
            got = nav.incoming_calls(up) if incoming else nav.outgoing_calls(up)
            hierarchy[up] = {c.symbol.id: c for c in got}
        call = hierarchy[up].get(node)
        if call is None:  # an edge the navigator does not show (its other end has no location)
            total -= 1
            continue
        other = call.symbol
        names[node] = other.qualname
        sites = []
        for s in call.sites[:SITES_LIMIT]:
            if s.path not in lines:
                lines[s.path] = nav.lines_of(s.path) or []
            sites.append(line_at(lines[s.path], s.line + 1))
        entries.append(CallEntry(other.qualname, other.kind, other.path, other.start_line, other.end_line, level,
                                 names[up], sites, len(call.sites)))
    return CallsResult("callers" if incoming else "callees", ref(sym), depth, total, entries)


def callers(state, symbol: str, depth: int = 1, limit: int = 50) -> CallsResult:
    """Who calls (or instantiates) the symbol, `depth` levels up, with the call-site lines."""
    return calls(state, symbol, True, depth, limit)


def callees(state, symbol: str, depth: int = 1, limit: int = 50) -> CallsResult:
    """What the symbol calls (or instantiates) in the repository, `depth` levels down, with the call-site lines."""
    return calls(state, symbol, False, depth, limit)


def neighbours(state, symbol: str, relations: list[str] | None = None, limit: int = 50) -> NeighboursResult:
    """The symbol's neighbours in the code graph grouped by relation (callers, callees, bases,
    subclasses, overrides, overridden by, imports, raises, instantiates, ...)."""
    check_range("limit", limit, 1, MAX_LIMIT)
    wanted = None
    if relations:
        unknown = [r for r in relations if r not in RELATION_LABELS]
        if unknown:
            raise ToolFailure(f"unknown relation(s) {', '.join(map(repr, unknown))}: give some of {', '.join(RELATION_LABELS)}")
        wanted = set(relations)
    sym, _ = resolve_symbol(state, symbol)
    view = neighbourhood(state.store, sym.id, limit)
    groups = []
    for label, items in view.groups.items():
        if wanted is not None and label not in wanted:
            continue
        groups.append(RelationGroup(label, view.totals[label], [
            Neighbour(n.qualname, n.kind, n.path, n.start_line if n.path else 0, line or 0) for n, line in items
        ]))
    return NeighboursResult(ref(sym), groups)

