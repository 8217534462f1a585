"""`graphmer graph` and `graphmer status`: a symbol's neighbours, and the index's health."""
from __future__ import annotations

import click

from graphmer.cli.options import json_option, repo_option
from graphmer.index.store import Store, find_index_dir


def _open_store(repo: str):
    index_dir = find_index_dir(repo)
    if index_dir is None:
        raise click.ClickException(f"no graphmer index at or above {repo!r}: run `graphmer index PATH` first")
    return Store(index_dir)


_GRAPH_SYMBOLS = 5  # matching symbols `graphmer graph` shows


@click.command()
@click.argument("symbol")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Neighbours per relation.")
@repo_option
@json_option
def graph(symbol, limit, repo, as_json):
    """Show SYMBOL's neighbours by relation (callers, callees, bases, subclasses, overrides, ...).

    SYMBOL is a qualified name (pkg.mod.Class.method), a dotted suffix of one (Class.method)
    or a plain name.
    """
    from graphmer.index.neighbours import find_symbols, neighbourhood  # lazy: loaded when the command runs (fast start-up)

    store = _open_store(repo)
    try:
        found = find_symbols(store, symbol, limit=_GRAPH_SYMBOLS)
        if not found.total:
            raise click.ClickException(f"no symbol named {symbol!r} in the index; try `graphmer search {symbol}`")
        views = [neighbourhood(store, s.id, limit) for s in found.symbols]
    finally:
        store.close()
    if as_json:
        from graphmer.cli.render import echo_json  # lazy: loaded when the command runs (fast start-up)

        echo_json({"matches": found.total, "symbols": [v.to_json() for v in views]})
        return
    from rich.markup import escape  # lazy: loaded when the command runs (fast start-up)

    from graphmer.cli.render import out_console  # lazy: loaded when the command runs (fast start-up)

    if found.total > 1:
        more = found.total - len(views)
        out_console.print(
            f"{found.total} symbols match {symbol!r}" + (f"; showing {len(views)} (+{more} more: give a longer qualified name)" if more else ""),
            markup=False, highlight=False,
        )
    for v in views:
        s = v.symbol
        where = f"{s.path}:{s.start_line}-{s.end_line}" if s.path else "external"
        out_console.print(f"\n[bold]{escape(s.qualname)}[/] ({s.kind}, {escape(where)})")
        if s.signature:
            out_console.print(f"  {s.signature}", markup=False)
        for label, items in v.groups.items():
            out_console.print(f"  [cyan]{label}[/] ({v.totals[label]})")
            for n, line in items:
                loc = f"{n.path}:{n.start_line}" if n.path else "external"
                out_console.print(f"    {escape(n.qualname)}  [dim]{escape(loc)}{f' (line {line})' if line else ''}[/]")
            if v.totals[label] > len(items):
                out_console.print(f"    [dim]+{v.totals[label] - len(items)} more (--limit N shows more)[/]")


@click.command()
@repo_option
@json_option
def status(repo, as_json):
    """Show index health: counts, format, integrity, and files changed since indexing."""
    from graphmer.index.status import index_status  # lazy: loaded when the command runs (fast start-up)

    index_dir = find_index_dir(repo)
    if index_dir is None:
        raise click.ClickException(f"no graphmer index at or above {repo!r}: run `graphmer index PATH` first")
    st = index_status(index_dir)
    if as_json:
        from graphmer.cli.render import echo_json  # lazy: loaded when the command runs (fast start-up)

        echo_json(st)
        return
    from graphmer.cli.render import out_console  # lazy: loaded when the command runs (fast start-up)

    out_console.print(f"[bold]{st['root']}[/] (index format {st['format_version']}, indexed {st['indexed_at']})")
    out_console.print(
        f"{st['files']} files, {st['lines']} lines, {st['symbols']} symbols, {st['edges']} edges, "
        f"{st['db_bytes'] / 1e6:.1f} MB; integrity {st['integrity']}"
    )
    if st["vectors"]:
        out_console.print(
            f"Dense: {st['vectors']} vectors by {st['model_id']} (dim {st['dim']}); "
            f"{st['symbols_without_vectors']} symbol(s) without a vector; vectors.faiss {st['vectors_file']}"
            + ("" if st["vectors_file"] == "ok" else " (`graphmer index` rebuilds it)")
        )
        if st["graph_vectors"]:
            mix = ", ".join(f"{k} {v:g}" for k, v in st["graph_vectors"].items())
            out_console.print(f"Graph vectors: each symbol's vector mixed with its neighbours' ({mix})")
    else:
        out_console.print("Dense: no vectors (lexical + graph search only)")
    if not st["complete"]:
        out_console.print("[red]The last run was interrupted before the graph was rebuilt: run `graphmer index` again[/]")
    if st["stale"]:
        out_console.print(
            f"[yellow]Stale:[/] {st['new_files']} new, {st['changed_files']} changed, {st['deleted_files']} deleted "
            "file(s) since indexing; run `graphmer index` to update"
        )
        for p in st["stale_sample"]:
            out_console.print(f"  {p}", markup=False)
    else:
        out_console.print("Up to date.")
    if st["skipped"]:
        out_console.print(f"{len(st['skipped'])} file(s) skipped by the last run (see --json for reasons)")
