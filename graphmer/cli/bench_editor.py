"""`graphmer bench completion|symbols`: the editor features (member completion beside jedi,
workspace/symbol through a real language-server process), thin over graphmer/bench/."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from graphmer.cli.render import echo_json, out_console, progress_callback


@click.command("completion")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sites", default=400, show_default=True, type=click.IntRange(min=1), help="Member-access sites to sample.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the site sample.")
@click.option("--no-jedi", is_flag=True, help="Skip jedi's completions (the reference).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the indexed copy goes (default: a temporary directory).")
@click.option("--weights", default="fitted", show_default=True, metavar="fitted|hand|FILE",
              help="Ranking weights: the shipped fitted ones, the hand-set ones, or a file from `graphmer fit-completion`.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, per-site ranks included.")
def completion_bench(path: Path, sites: int, seed: int, no_jedi: bool, work_dir: Path | None, weights: str,
                     as_json: bool) -> None:
    """Member-access completion on the Python package at PATH, graphmer beside jedi.

    Samples `obj.attr` sites (load context, name of 3+ characters, not a dunder), deletes
    the rest of the line from the cursor and asks with an empty and a one-character prefix.

    \b
    Example:
        graphmer bench completion .venv/lib/python3.11/site-packages/click --sites 400
    """
    from graphmer.bench.completion import BenchError as CompletionBenchError  # lazy, as every bench: start-up stays fast
    from graphmer.bench.completion import run_completion_bench
    from graphmer.complete.rank import RankWeights, WeightsError, load_weights

    try:
        w = RankWeights.fitted() if weights == "fitted" else RankWeights() if weights == "hand" else load_weights(Path(weights))
        with progress_callback(enabled=not as_json) as cb:
            r = run_completion_bench(path, sites=sites, seed=seed, with_jedi=not no_jedi, work_dir=work_dir, progress=cb,
                                     weights=w)
    except (CompletionBenchError, FileNotFoundError, WeightsError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(r.to_json(), indent=2))
        return
    table = Table(title=f"completion on {r.package}: {len(r.sites)} of {r.candidate_sites} sites, seed {r.seed}",
                  caption=f"{r.files} files; leakage checked at {r.leak_checks} sites; index {r.index_s:.1f} s")
    table.add_column("system", no_wrap=True)
    for name in ("prefix", "top-1", "top-5", "MRR@10", "coverage", "mean ms", "p95 ms"):
        table.add_column(name, justify="right", no_wrap=True)
    for s in sorted(r.scores, key=lambda s: (s.prefix_len, s.system)):
        table.add_row(s.system, str(s.prefix_len), f"{s.top1:.3f}", f"{s.top5:.3f}", f"{s.mrr10:.3f}",
                      f"{s.coverage:.3f}", f"{s.mean_ms:.1f}", f"{s.p95_ms:.1f}")
    out_console.print(table)


@click.command("symbols")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--queries", default=400, show_default=True, type=click.IntRange(min=4), help="workspace/symbol requests to time.")
@click.option("--seed", default=0, show_default=True, help="Seed of the query sample.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def symbols_bench(root: Path, queries: int, seed: int, as_json: bool) -> None:
    """Time workspace/symbol on the index of ROOT (built first with `graphmer index ROOT`)."""
    from graphmer.bench.symbols import bench_symbols  # lazy: pygls loads only for this command
    from graphmer.index.store import INDEX_DIRNAME

    if not (root / INDEX_DIRNAME / "meta.json").is_file():
        raise click.ClickException(f"{root} has no graphmer index: run `graphmer index {root}` first")
    res = bench_symbols(root, queries, seed)
    if as_json:
        echo_json(res.to_json())
        return
    lat = res.latency_ms
    out_console.print(f"{res.symbols} symbols; server ready in {res.startup_s} s; {res.queries} queries: "
                      f"mean {lat['mean']} ms, p50 {lat['p50']} ms, p95 {lat['p95']} ms, max {lat['max']} ms")
    t = Table("shape", "queries", "found", "mean rank", "p95 ms")
    for shape, d in res.by_shape.items():
        t.add_row(shape, str(d["queries"]), str(d["found"]), str(d["mean_rank"]), str(d["p95_ms"]))
    out_console.print(t)
    out_console.print(f"{res.nested_found} of the found targets are defined inside a class (methods, nested classes)")
