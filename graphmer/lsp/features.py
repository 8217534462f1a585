"""LSP features of the graphmer server: each a short function over library code."""
from __future__ import annotations

import re

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams

from graphmer.index.navigate import is_callable, name_site, word_at
from graphmer.index.neighbours import SymbolInfo, symbols_by_ids
from graphmer.index.search import MODES, SearchError
from graphmer.lsp import convert
from graphmer.lsp.app import SEARCH_LIMIT, GraphmerServer, build_with_progress, server, wait_until

MODEL_WAIT = 120.0  # seconds graphmer.search waits for the search model to load

_WORDS = re.compile(r"[A-Za-z]{2,}(?:\s+\S+)+")


def looks_like_words(query: str) -> bool:
    """Whether a workspace/symbol query reads as natural language ("parse config file")."""
    return bool(_WORDS.fullmatch(query.strip()))


# -- workspace/symbol and search ----------------------------------------------------------
@server.feature(types.WORKSPACE_SYMBOL)
async def workspace_symbol(ls: GraphmerServer, params: types.WorkspaceSymbolParams) -> list[types.SymbolInformation] | None:
    loaded = await ls.ready()
    if loaded is None:
        return None
    query = params.query
    if not looks_like_words(query):
        matches = loaded.table.match(query, SEARCH_LIMIT)
        if matches or len(query.strip()) < 3:
            return [_symbol_information(ls, _info(m.row)) for m in matches]
    hits = loaded.searcher.search(query, top_k=SEARCH_LIMIT)  # words (or no name matched): search
    syms = {s.id: s for s in symbols_by_ids(loaded.store, [h.symbol_id for h in hits])}
    return [_symbol_information(ls, syms[h.symbol_id]) for h in hits if h.symbol_id in syms]


def _info(row) -> SymbolInfo:
    """A symbol-table row as the navigator's SymbolInfo (what a location needs)."""
    return SymbolInfo(row.id, row.name, row.qualname, row.kind, "", row.path, row.start_line, row.end_line)


def _symbol_information(ls: GraphmerServer, sym: SymbolInfo) -> types.SymbolInformation:
    lines = ls.lines_of(sym.path) or []
    container = sym.qualname.rsplit(".", 1)[0] if "." in sym.qualname else ""
    return types.SymbolInformation(name=sym.name, kind=convert.symbol_kind(sym.kind), container_name=container,
                                   location=ls.location(name_site(sym.path, lines, sym), lines))


@server.command("graphmer.search")
async def search_command(ls: GraphmerServer, *args) -> list[dict]:
    """["query", {"limit": n, "mode": "hybrid"|"dense"|"lexical"}] -> ranked hits with locations."""
    if not args or not isinstance(args[0], str) or not args[0].strip():
        raise JsonRpcInvalidParams("graphmer.search takes a non-empty query string, then optional {limit, mode}")
    opts = args[1] if len(args) > 1 and args[1] is not None else {}
    if not isinstance(opts, dict):
        raise JsonRpcInvalidParams("graphmer.search options must be an object {limit, mode}")
    limit, mode = opts.get("limit", 20), opts.get("mode", "hybrid")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000 or mode not in MODES:
        raise JsonRpcInvalidParams(f"graphmer.search: limit must be 1..1000 and mode one of {', '.join(MODES)}")
    idx = ls.index
    loaded = await ls.ready()
    if idx is None or loaded is None or idx.loaded is None:  # not from the buffers while the first index is built
        raise JsonRpcInternalError(idx.status() if idx else "graphmer has no workspace folder")
    if mode != "lexical":  # the model may still be loading: wait for it
        await wait_until(idx.model_settled.is_set, MODEL_WAIT)
    try:
        hits = loaded.searcher.search(args[0], top_k=limit, mode=mode)
    except SearchError as e:
        raise JsonRpcInternalError(str(e)) from None
    syms = {s.id: s for s in symbols_by_ids(loaded.store, [h.symbol_id for h in hits])}
    out = []
    for h in hits:
        sym = syms.get(h.symbol_id)
        if sym is None or sym.path is None:
            continue
        loc = ls.location(loaded.navigator.site_of(sym))
        out.append({"name": h.name, "qualname": h.qualname, "kind": h.kind, "path": h.path, "uri": loc.uri,
                    "range": {"start": {"line": loc.range.start.line, "character": loc.range.start.character},
                              "end": {"line": loc.range.end.line, "character": loc.range.end.character}},
                    "score": round(h.score, 6), "snippet": h.snippet})
    return out


@server.command("graphmer.reindex")
async def reindex_command(ls: GraphmerServer, *args) -> dict:
    """Re-index the workspace now (changed files only), with progress; returns counts."""
    if ls.index is None:
        raise JsonRpcInternalError("graphmer has no workspace folder to index")
    if ls.index.build.running:
        raise JsonRpcInternalError(ls.index.status() or "graphmer is already indexing")
    return await build_with_progress(ls, "graphmer: re-indexing")


# -- completion ---------------------------------------------------------------------------
@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."], resolve_provider=True))
async def completion(ls: GraphmerServer, params: types.CompletionParams) -> types.CompletionList | None:
    loaded = await ls.ready(completion=True)
    pos = ls.position(params)
    completer = loaded.completer if loaded is not None else None
    if pos is None or completer is None:
        return None
    path, source, line, col = pos
    result = completer.complete(path, source, line, col)
    items = [
        types.CompletionItem(
            label=it.label, kind=convert.completion_kind(it.kind), detail=it.detail, sort_text=f"{n:04d}",
            filter_text=it.label, data={"symbol_id": it.symbol_id} if it.symbol_id else None,
        )
        for n, it in enumerate(result.items)
    ]
    return types.CompletionList(is_incomplete=result.truncated, items=items)


@server.feature(types.COMPLETION_ITEM_RESOLVE)
async def completion_resolve(ls: GraphmerServer, item: types.CompletionItem) -> types.CompletionItem:
    loaded = await ls.ready(completion=True)
    completer = loaded.completer if loaded is not None else None
    data = item.data if isinstance(item.data, dict) else {}
    sid = data.get("symbol_id")
    if completer is None or not isinstance(sid, int):
        return item
    try:
        info = completer.resolve(sid)
    except KeyError:  # an item from before a re-index renumbered the symbols: nothing to add
        return item
    if info.signature:
        item.detail = info.signature
    if info.doc:
        item.documentation = types.MarkupContent(kind=types.MarkupKind.Markdown, value=info.doc)
    return item


# -- navigation ---------------------------------------------------------------------------
async def _symbol_at(ls: GraphmerServer, params):
    """(the loaded index, the symbol at the request's position), or None."""
    loaded = await ls.ready()
    pos = ls.position(params)
    if loaded is None or pos is None:
        return None
    sym = loaded.navigator.symbol_at(*pos)
    return (loaded, sym) if sym is not None else None


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def hover(ls: GraphmerServer, params: types.HoverParams) -> types.Hover | None:
    found = await _symbol_at(ls, params)
    if found is None:
        return None
    loaded, sym = found
    counts = loaded.navigator.counts(sym.id)
    lang = sym.language or ""
    parts = [f"```{lang}\n{sym.signature or sym.qualname}\n```", f"{sym.kind} `{sym.qualname}`"]
    if sym.doc:
        parts.append(sym.doc)
    parts.append(f"{counts['callers']} caller(s), {counts['callees']} callee(s) in the code graph")
    pos = ls.position(params)
    word = word_at(pos[1], pos[2], pos[3]) if pos else None
    rng = None
    if word is not None and pos is not None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        rng = convert.client_range(doc.position_codec, doc.lines, pos[2], word.start, pos[2], word.end)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n".join(parts)), range=rng)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
async def definition(ls: GraphmerServer, params: types.DefinitionParams) -> list[types.Location] | None:
    found = await _symbol_at(ls, params)
    site = found[0].navigator.site_of(found[1]) if found is not None else None
    return [ls.location(site)] if site is not None else None


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
async def references(ls: GraphmerServer, params: types.ReferenceParams) -> list[types.Location] | None:
    found = await _symbol_at(ls, params)
    if found is None:
        return None
    loaded, sym = found
    sites = loaded.navigator.references(sym.id, params.context.include_declaration)
    return [ls.location(s) for s in sites] or None


@server.feature(types.TEXT_DOCUMENT_PREPARE_CALL_HIERARCHY)
async def prepare_call_hierarchy(ls: GraphmerServer, params: types.CallHierarchyPrepareParams) -> list[types.CallHierarchyItem] | None:
    found = await _symbol_at(ls, params)
    sym = found[1] if found is not None else None
    if sym is None or sym.path is None or not is_callable(sym):
        return None
    return [ls.hierarchy_item(sym)]


def _item_id(item: types.CallHierarchyItem) -> int | None:
    data = item.data if isinstance(item.data, dict) else {}
    sid = data.get("id")
    return sid if isinstance(sid, int) else None


async def _calls(ls: GraphmerServer, item: types.CallHierarchyItem, incoming: bool):
    """(other symbol's item, call-site ranges) pairs on one side of the item, or None."""
    loaded = await ls.ready()
    sid = _item_id(item)
    if loaded is None or sid is None:
        return None
    nav = loaded.navigator
    calls = nav.incoming_calls(sid) if incoming else nav.outgoing_calls(sid)
    return [(ls.hierarchy_item(c.symbol), [ls.location(s).range for s in c.sites]) for c in calls]


@server.feature(types.CALL_HIERARCHY_INCOMING_CALLS)
async def incoming_calls(ls: GraphmerServer, params: types.CallHierarchyIncomingCallsParams) -> list[types.CallHierarchyIncomingCall] | None:
    pairs = await _calls(ls, params.item, incoming=True)
    return None if pairs is None else [types.CallHierarchyIncomingCall(from_=i, from_ranges=r) for i, r in pairs]


@server.feature(types.CALL_HIERARCHY_OUTGOING_CALLS)
async def outgoing_calls(ls: GraphmerServer, params: types.CallHierarchyOutgoingCallsParams) -> list[types.CallHierarchyOutgoingCall] | None:
    pairs = await _calls(ls, params.item, incoming=False)
    return None if pairs is None else [types.CallHierarchyOutgoingCall(to=i, from_ranges=r) for i, r in pairs]
