"""`graphmer bench index|export|train|latency|answers`: speed, throughput and search answers, thin over graphmer/bench/."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from graphmer.cli.render import out_console


@click.command("index")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--jobs", default=0, type=click.IntRange(min=0), help="Parser processes (0: one per CPU).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def index_bench(path: Path, jobs: int, as_json: bool) -> None:
    """Indexing speed on a scratch copy of PATH: a full run, a re-run with nothing
    changed, and a re-run after appending a newline to one file.

    \b
    Example:
        graphmer bench index /usr/lib/python3.11
    """
    from graphmer.bench.indexing import run_index_bench  # lazy: keeps `graphmer` start-up fast
    from graphmer.index.indexer import IndexConfig

    r = run_index_bench(path, IndexConfig(jobs=jobs))
    if as_json:
        click.echo(json.dumps(r.to_json(), indent=2))
        return
    table = Table(title=f"indexing {r.source} ({r.cpus} CPUs)")
    table.add_column("run")
    for name in ("seconds", "lines/s", "files parsed", "× full run"):
        table.add_column(name, justify="right")
    table.add_row("full", f"{r.full_seconds:.2f}", f"{r.full_lines_per_second:,.0f}", str(r.files), "1.000")
    table.add_row("nothing changed", f"{r.noop_seconds:.3f}", "", "0", f"{r.noop_ratio:.3f}")
    table.add_row("one file touched", f"{r.touch_seconds:.3f}", "", str(r.touch_files_parsed), f"{r.touch_ratio:.3f}")
    console = out_console
    console.print(table)
    console.print(f"{r.files} files, {r.lines:,} lines, {r.symbols:,} symbols, {r.edges:,} edges; skipped {r.skipped}")
    console.print("edges: " + ", ".join(f"{k} {v:,}" for k, v in r.edges_by_relation.items()))
    console.print("full-run phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in r.full_timings.items()))


@click.command("export")
@click.argument("package", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False),
              help="Search model folder (default: the shipped one).")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1), help="Worker threads (ONNX) and torch threads.")
@click.option("--limit", default=400, show_default=True, type=click.IntRange(min=1), help="Symbols of PACKAGE to embed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def export_bench(package: Path, model_path: str | None, threads: int, limit: int, as_json: bool) -> None:
    """How model.onnx is quantized, measured: torch int8, ONNX float32, ONNX int8 weights
    only and ONNX dynamic int8 on PACKAGE's symbols (speed, cosine to the float32 network,
    and how much a vector depends on what else shares its run).

    \b
    Example:
        graphmer bench export site-packages/jinja2
    """
    from graphmer.bench.export import compare_quantizations  # lazy: keeps `graphmer` start-up fast
    from graphmer.model.embedder import DEFAULT_MODEL

    r = compare_quantizations(model_path or DEFAULT_MODEL, package, threads=threads, limit=limit)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    table = Table(title=f"{r['symbols']} symbols of {package} ({r['mean_tokens']} tokens on average), {threads} threads")
    for name in ("scheme", "symbols/s (alone)", "symbols/s (batch 32)", "cos min", "cos mean", "batch vs alone", "MB"):
        table.add_column(name, justify="right")
    for name, v in r["schemes"].items():
        table.add_row(name, str(v.get("symbols_per_s", "")), str(v["symbols_per_s_batch32"]), f"{v['cos_min']:.4f}",
                      f"{v['cos_mean']:.4f}", f"{v['batch_vs_alone_max']:.1e}", f"{v['bytes'] / 1e6:.1f}" if "bytes" in v else "")
    out_console.print(table)


@click.command("train")
@click.option("--preset", default="cpu-s", show_default=True, type=click.Choice(["cpu-s", "cpu-m", "gpu-b", "minilm-ws"]))
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=10, show_default=True, type=click.IntRange(min=1), help="Timed steps of each model.")
@click.option("--decay-mode", type=click.Choice(["multiply", "additive"]), help="Override the preset's decay mode.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def train_bench(preset: str, batch_size: int, steps: int, decay_mode: str | None, as_json: bool) -> None:
    """Training throughput of GraphMER beside a plain nn.TransformerEncoder of the same
    width, depth, heads, FFN and sequence length, timed alternately in one process."""
    from graphmer.bench.training import run_train_bench  # lazy: keeps `graphmer` start-up fast

    r = run_train_bench(preset, batch_size, steps, decay_mode=decay_mode)
    if as_json:
        click.echo(json.dumps(r.to_json(), indent=2))
        return
    table = Table(title=f"training step, preset {r.preset}, batch {r.batch_size} × {r.nodes} nodes, {r.threads} threads")
    for name in ("model", "s/step (median)", "tokens/s", "parameters"):
        table.add_column(name, justify="right")
    table.add_row(f"graphmer ({r.decay_mode})", f"{r.graphmer_step_s:.3f}", f"{r.graphmer_tokens_per_s:,.0f}", f"{r.graphmer_parameters:,}")
    table.add_row("plain TransformerEncoder", f"{r.plain_step_s:.3f}", f"{r.plain_tokens_per_s:,.0f}", f"{r.plain_parameters:,}")
    console = out_console
    console.print(table)
    console.print(f"graphmer / plain throughput: {r.ratio:.2f}×")


@click.command("latency")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--queries", default=200, show_default=True, type=click.IntRange(min=1), help="Warm queries to time.")
@click.option("--fresh-runs", default=3, show_default=True, type=click.IntRange(min=1), help="Fresh `graphmer search` processes to time.")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False), help="Search model (default: the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def latency_bench(root: Path, queries: int, fresh_runs: int, model_path: str | None, as_json: bool) -> None:
    """Search latency on the index of ROOT (build it first with `graphmer index ROOT`): warm,
    per query in one process; a fresh `graphmer search` process end to end; and a fresh
    `graphmer lsp` from initialize to its first dense search answer (index and model loaded).

    \b
    Example:
        graphmer index /tmp/stdlib && graphmer bench latency /tmp/stdlib
    """
    from graphmer.bench.symbols import lsp_ready  # lazy: keeps `graphmer` start-up fast
    from graphmer.bench.dense import query_latency

    r = query_latency(root, queries, fresh_runs, model_path)
    r["lsp_ready_s"] = lsp_ready(root, fresh_runs, model=model_path)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    click.echo(f"{r['root']}: {r['queries']} warm {r['mode']} queries, median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms; "
               f"fresh process {', '.join(f'{s:.2f}' for s in r['fresh_process_s'])} s; "
               f"graphmer lsp ready (initialize to first dense answer) {', '.join(f'{s:.2f}' for s in r['lsp_ready_s'])} s")


@click.command("answers")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--queries", default=200, show_default=True, type=click.IntRange(min=1), help="Docstring queries to ask.")
@click.option("--mode", "modes", multiple=True, type=click.Choice(["hybrid", "dense", "lexical"]),
              help="Search modes to ask in (repeatable; default: all three).")
@click.option("-k", "--top-k", default=10, show_default=True, type=click.IntRange(min=1), help="Hits kept per query.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the query sample.")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False), help="Search model (default: the shipped one).")
@click.option("--json", "as_json", is_flag=True, help="Print every answer as JSON (to compare two versions hit by hit).")
def answers_bench(root: Path, queries: int, modes: tuple[str, ...], top_k: int, seed: int, model_path: str | None,
                  as_json: bool) -> None:
    """What search answers on the index of ROOT, query by query: docstring sentences of its
    Python files asked in each mode, the top hits with their scores, and a digest of them all.
    Two versions of graphmer rank alike exactly when their digests are equal.

    \b
    Example (before and after a change):
        graphmer bench answers /tmp/stdlib --json > before.json
    """
    from graphmer.bench.answers import MODES, search_answers  # lazy: loaded when the command runs (fast start-up)

    r = search_answers(root, queries, modes or MODES, top_k, model_path, seed)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    hits = sum(len(a) for per_mode in r["answers"].values() for a in per_mode)
    click.echo(f"{r['root']}: {len(r['queries'])} queries in {', '.join(r['modes'])}, {hits} hits; digest {r['digest']}")
