"""`graphmer bench symbols`: workspace/symbol latency through a real language-server process."""
from __future__ import annotations

from pathlib import Path

import click

from graphmer.cli.bench import bench


@bench.command("symbols")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--queries", default=400, show_default=True, type=click.IntRange(min=4), help="workspace/symbol requests to time.")
@click.option("--seed", default=0, show_default=True, help="Seed of the query sample.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def symbols_bench(root: Path, queries: int, seed: int, as_json: bool) -> None:
    """Time workspace/symbol on the index of ROOT (built first with `graphmer index ROOT`)."""
    from graphmer.index.store import INDEX_DIRNAME
    from graphmer.bench.symbols import bench_symbols

    if not (root / INDEX_DIRNAME / "meta.json").is_file():
        raise click.ClickException(f"{root} has no graphmer index: run `graphmer index {root}` first")
    res = bench_symbols(root, queries, seed)
    if as_json:
        from graphmer.cli.render import echo_json

        echo_json(res.to_json())
        return
    from rich.table import Table

    from graphmer.cli.render import out_console

    lat = res.latency_ms
    out_console.print(f"{res.symbols} symbols; server ready in {res.startup_s} s; {res.queries} queries: "
                      f"mean {lat['mean']} ms, p50 {lat['p50']} ms, p95 {lat['p95']} ms, max {lat['max']} ms")
    t = Table("shape", "queries", "found", "mean rank", "p95 ms")
    for shape, d in res.by_shape.items():
        t.add_row(shape, str(d["queries"]), str(d["found"]), str(d["mean_rank"]), str(d["p95_ms"]))
    out_console.print(t)
    out_console.print(f"{res.nested_found} of the found targets are defined inside a class (methods, nested classes)")
