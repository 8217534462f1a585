"""The `graphmer` command: thin click wrappers over graphmer/index/ (and later graphmer/model/) functions."""
from __future__ import annotations

import json
import os
import select
import sqlite3
import sys
from pathlib import Path

import click

from graphmer.cli.options import json_option, repo_option
from graphmer.index.embedder import EmbedError
from graphmer.index.languages import LANGUAGES
from graphmer.index.records import SYMBOL_KINDS
from graphmer.index.search import MODES, SearchError
from graphmer.index.store import StoreError


class _Group(click.Group):
    """Turns the library's expected failures into one-line errors with a non-zero exit."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as e:
            if _reader_gone():
                _quiet_exit()
            raise click.ClickException(str(e)) from None  # a pipe to a subprocess, not our reader
        except (StoreError, SearchError, EmbedError) as e:
            raise click.ClickException(str(e)) from None
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] != "torch":
                raise
            raise click.ClickException(
                f"`graphmer {ctx.invoked_subcommand}` needs torch, which is not installed: pip install 'graphmer[train]' "
                "(on a machine without a GPU, first: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
            ) from None
        except sqlite3.OperationalError as e:
            hint = "another graphmer process is writing the index; wait for it" if "locked" in str(e) else "re-run `graphmer index`"
            raise click.ClickException(f"index database error: {e} ({hint})") from None
        except sqlite3.DatabaseError as e:  # a damaged page met after the index was opened
            if type(e) is not sqlite3.DatabaseError:  # IntegrityError and the like: a bug, not damage
                raise
            raise click.ClickException(
                f"the index database is damaged ({e}): run `graphmer index --rebuild` on the repository "
                "to rebuild it from the sources (the damaged files are moved aside)"
            ) from None
        except OSError as e:
            raise click.ClickException(str(e)) from None


def _reader_gone() -> bool:
    """Whether nothing reads stdout or stderr any more (a pipe whose reader exited reports an error when polled)."""
    try:
        poller = select.poll()
        for stream in (sys.stdout, sys.stderr):
            poller.register(stream.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), or a stream without a file descriptor
        return False


def _quiet_exit():
    """Stop without a word, and with exit status 0, because the reader went away (`graphmer graph X
    | head -1` has had its line). Not 141 as for SIGPIPE: when the reader leaves during one large
    write, Python reports a short write and no error, so the status would depend on timing.

    stdout and stderr are pointed at /dev/null first, so that the interpreter's last flush of what
    is still buffered has nowhere to fail (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        os.dup2(devnull, stream.fileno())
    sys.exit(0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="graphmer")
def cli() -> None:
    """graphmer: code search and navigation over a code knowledge graph.

    \b
    graphmer index .                       # parse and store the repository
    graphmer search "parse the config file"
    graphmer graph Store.save              # callers, callees, bases, ...
    graphmer status                        # index health and staleness
    """


model_option = click.option(
    "--model", "model_path", type=click.Path(), help="Embedding model folder (default: the shipped default model)."
)


def _embedder(model_path: str | None, dense: bool, propagation: bool = True):
    """The embedding model at model_path (None: the shipped default), or None when not dense.

    The model is imported here, lazily, so that lexical commands never load torch.
    """
    if not dense:
        return None
    which = repr(model_path) if model_path else "(the default model)"
    what_to_do = "Give a model folder with --model PATH, or index with --no-dense / search with --mode lexical"
    try:
        from graphmer.model.folder import CheckpointError  # lazy: loaded when the command runs (fast start-up)
        from graphmer.model.embedder import load_embedder
    except ImportError as e:
        raise click.ClickException(f"cannot load the embedding model {which}: {e}. {what_to_do}") from None
    try:
        return load_embedder(model_path, propagation=propagation)
    except (ImportError, ValueError, FileNotFoundError, CheckpointError) as e:
        # The loader only says what the folder lacks; a path that names nothing is the likelier mistake.
        missing = f"{model_path!r} does not exist. " if model_path and not Path(model_path).exists() else ""
        raise click.ClickException(f"cannot load the embedding model {which}: {e}. {missing}{what_to_do}") from None


def _check_model_path(model_path: str | None) -> None:
    """A one-line error when --model names nothing, for a command that then loads no model."""
    if model_path and not Path(model_path).exists():
        raise click.ClickException(f"--model {model_path!r} does not exist; give a model folder, or leave out --model for the shipped model")


def _print_notes(notes) -> None:
    from graphmer.cli.render import err_console  # lazy: loaded when the command runs (fast start-up)

    for n in notes:
        err_console.print(f"note: {n}", style="dim", markup=False, highlight=False)


@cli.command()
@click.argument("path", default=".", type=click.Path())
@click.option("--include", multiple=True, help="Only index files matching this gitignore-style glob (repeatable).")
@click.option("--exclude", multiple=True, help="Leave out files matching this gitignore-style glob (repeatable).")
@click.option("--max-bytes", default=1_000_000, show_default=True, type=click.IntRange(min=1), help="Skip files larger than this.")
@click.option("--lang", "langs", multiple=True, type=click.Choice(LANGUAGES), help="Only these languages (repeatable).")
@click.option("--jobs", default=0, type=click.IntRange(min=0), help="Parser processes (0: one per CPU).")
@click.option("--batch-files", default=256, hidden=True, type=click.IntRange(min=1), help="Files per transaction.")
@click.option("--follow-links", is_flag=True, help="Follow symbolic links that lead outside PATH (skipped and listed by default).")
@click.option("--rebuild", is_flag=True, help="Start afresh: move the current index files aside (to .graphmer/previous-TIME/) and index from the sources; "
              "what to do when the index is damaged.")
@click.option("--no-dense", is_flag=True, help="No model, no new vectors: lexical + graph search only.")
@click.option("--no-graph-vectors", is_flag=True,
              help="Ablation: store the model's own vectors, without the graph propagation it ships (neighbours' vectors mixed in).")
@model_option
@json_option
def index(path, include, exclude, max_bytes, langs, jobs, batch_files, follow_links, rebuild, no_dense, no_graph_vectors,
          model_path, as_json):
    """Index the repository at PATH into PATH/.graphmer/ (incremental).

    Symbols (functions, methods, classes) are embedded with the model for dense search,
    unless --no-dense; switching models re-embeds them all. One run at a time: a second
    `graphmer index` of the same folder waits for the first.
    """
    from graphmer.cli.render import err_console, progress_callback  # lazy: loaded when the command runs (fast start-up)
    from graphmer.index.indexer import IndexConfig, build_index
    from graphmer.index.walk import WalkConfig

    if no_dense and model_path:
        raise click.UsageError("--model and --no-dense contradict each other; give one")
    embedder = _embedder(model_path, dense=not no_dense, propagation=not no_graph_vectors)
    cfg = IndexConfig(
        walk=WalkConfig(tuple(include), tuple(exclude), max_bytes, tuple(langs), follow_links), jobs=jobs,
        batch_files=batch_files, embedder=embedder, rebuild=rebuild,
    )

    def on_wait(pid):
        who = f"pid {pid}" if pid else "another process"
        err_console.print(f"waiting for the graphmer index run that holds this index ({who}) to finish ...",
                          style="dim", markup=False, highlight=False)

    with progress_callback(enabled=not as_json) as cb:
        report = build_index(path, cfg, progress=cb, on_wait=on_wait)
    if as_json:
        from graphmer.cli.render import echo_json  # lazy: loaded when the command runs (fast start-up)

        echo_json(report.to_json())
        return
    _print_index_report(report)
    _print_notes(report.notes)


def _print_index_report(report) -> None:
    from graphmer.cli.render import out_console, table  # lazy: loaded when the command runs (fast start-up)

    c = report.counts
    out_console.print(
        f"[bold]Indexed[/] {report.root}: {c['files']} files, {c['lines']} lines, {c['symbols']} symbols, "
        f"{c['edges']} edges ({c['external_symbols']} external symbols)"
    )
    out_console.print(
        f"This run: {report.files_parsed} parsed, {report.files_unchanged} unchanged, {report.files_deleted} removed "
        f"in {report.seconds:.2f} s; parsing {report.lines_parsed:,} lines took {report.parse_s:.2f} s "
        f"({report.lines_per_second:,.0f} lines/s)"
    )
    if report.symbols_embedded or c["vectors"]:
        rate = f" ({report.symbols_per_second:,.0f} symbols/s)" if report.symbols_embedded else ""
        out_console.print(
            f"Dense: {c['vectors']} vectors by {report.model_id}; {report.symbols_embedded:,} embedded this run "
            f"in {report.embed_s:.2f} s{rate}"
        )
    if c["edges_by_relation"]:
        t = table("relation", "edges")
        for rel, n in c["edges_by_relation"].items():
            t.add_row(rel, str(n))
        out_console.print(t)
    if report.files_with_syntax_errors:
        out_console.print(f"{report.files_with_syntax_errors} file(s) had syntax errors; their recoverable symbols were indexed")
    if report.skipped:
        t = table("skipped file", "reason", title=f"{len(report.skipped)} skipped")
        for p, r in report.skipped:
            t.add_row(p, r)
        out_console.print(t)


@cli.command()
@click.argument("query", required=False)
@click.option("-k", "--top-k", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--lang", "langs", multiple=True, type=click.Choice(LANGUAGES), help="Only these languages (repeatable).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(sorted(SYMBOL_KINDS - {"external"})), help="Only these kinds (repeatable).")
@click.option("--path", "path_glob", help="Only paths matching this glob (a plain prefix also works).")
@click.option("--queries", type=click.File("r"), help='Batch: a JSONL file of {"id": ..., "query": ...} lines ("-" for stdin).')
@click.option(
    "--mode", type=click.Choice(MODES), default="hybrid", show_default=True,
    help="hybrid: BM25 and the model's vectors fused (BM25 alone, with a note, when the index has no vectors); "
    "dense: vectors only; lexical: BM25 only (no model is loaded).",
)
@click.option("--explain", is_flag=True, help="Show each hit's lexical and dense ranks and scores and its graph boost.")
@model_option
@repo_option
@json_option
def search(query, top_k, langs, kinds, path_glob, queries, mode, explain, model_path, repo, as_json):
    """Search the index for QUERY (words or identifiers)."""
    from graphmer.index.search import Searcher  # lazy: loaded when the command runs (fast start-up)

    if (query is None) == (queries is None):
        raise click.UsageError("give either a QUERY or --queries FILE.jsonl")
    if query is not None and not query.strip():
        raise click.UsageError("QUERY is empty: give words or identifiers to search for")
    searcher = Searcher.open(repo)
    opts = dict(top_k=top_k, kinds=kinds or None, languages=langs or None, path=path_glob, mode=mode, explain=explain)
    try:
        if mode != "lexical" and searcher.has_vectors():
            from concurrent.futures import ThreadPoolExecutor  # lazy: loaded when the command runs (fast start-up)

            with ThreadPoolExecutor(1) as pool:  # the model loads while vectors.faiss is read
                model = pool.submit(_embedder, model_path, True)
                searcher.load_vectors()
                searcher.embedder = model.result()
        else:  # no model is loaded, but a --model that names nothing is still a mistake to report
            _check_model_path(model_path)
        if queries is not None:
            _batch_search(searcher, queries, opts)
            _print_notes(searcher.notes)
            return
        hits = searcher.search(query, **opts)
    finally:
        searcher.close()
    if as_json:
        from graphmer.cli.render import echo_json  # lazy: loaded when the command runs (fast start-up)

        echo_json({"query": query, "mode": searcher.mode_used, "notes": searcher.notes, "hits": [h.to_json() for h in hits]})
        return
    _print_hits(query, hits)
    _print_notes(searcher.notes)


def _batch_search(searcher, lines, opts) -> None:
    """One JSON line out per JSON line in: {"id", "hits"} (or {"id", "error"})."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        req = None
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError('not a JSON object (give {"id": ..., "query": ...})')
            if "query" not in req:
                raise ValueError('no "query" field')
            q = req["query"]
            if not isinstance(q, str):
                raise ValueError('"query" must be a string')
            if not q.strip():
                raise ValueError('"query" is empty')
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            rid = req.get("id") if isinstance(req, dict) else None
            click.echo(json.dumps({"id": rid, "error": f"line {n}: {e!s}"}))
            continue
        hits = searcher.search(q, **opts)
        out = {"id": req.get("id"), "mode": searcher.mode_used, "hits": [h.to_json() for h in hits]}
        click.echo(json.dumps(out, ensure_ascii=False))
        sys.stdout.flush()


def _print_hits(query: str, hits) -> None:
    """Two lines a hit (location, symbol, kind, score; then the best line), fine at any width."""
    from rich.text import Text  # lazy: loaded when the command runs (fast start-up)

    from graphmer.cli.render import format_why, highlight, out_console  # lazy: loaded when the command runs (fast start-up)
    from graphmer.index.text import query_terms

    if not hits:
        out_console.print("no results")
        return
    terms = query_terms(query)
    for i, h in enumerate(hits, 1):
        head = Text(f"{i:>2}  ")
        head.append(f"{h.path}:{h.start_line}", style="bold cyan")
        head.append(f"  {h.qualname}", style="bold")
        head.append(f"  {h.kind}  {h.score:.4g}", style="dim")
        out_console.print(head)
        if h.snippet:
            out_console.print(Text("    ") + highlight(h.snippet, terms), overflow="ellipsis", no_wrap=True)
        if h.why:
            out_console.print(Text("    " + format_why(h.why), style="dim"), overflow="ellipsis", no_wrap=True)


from graphmer.cli.bench import bench  # noqa: E402  (registered after the core commands)
from graphmer.cli.corpus_cmds import corpus  # noqa: E402
from graphmer.cli.fit_cmds import fit_completion_cmd, fit_usage_cmd  # noqa: E402
from graphmer.cli.graph_cmds import graph, status  # noqa: E402
from graphmer.cli.lsp_cmd import lsp_cmd  # noqa: E402
from graphmer.cli.mcp_cmd import mcp_cmd  # noqa: E402
from graphmer.cli.model_cmds import eval_cmd, train  # noqa: E402
from graphmer.cli.report_cmds import card_cmd, compare_cmd, report_cmd  # noqa: E402
from graphmer.cli.retrieval_cmds import export_cmd, fit_graph, train_retrieval_cmd  # noqa: E402

cli.add_command(graph)
cli.add_command(status)
cli.add_command(bench)
cli.add_command(corpus)
cli.add_command(train)
cli.add_command(eval_cmd)
cli.add_command(train_retrieval_cmd)
cli.add_command(fit_graph)
cli.add_command(fit_completion_cmd)
cli.add_command(fit_usage_cmd)
cli.add_command(export_cmd)
cli.add_command(report_cmd)
cli.add_command(compare_cmd)
cli.add_command(card_cmd)
cli.add_command(lsp_cmd)
cli.add_command(mcp_cmd)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
