"""`graphmer bench …`: benchmarks, thin over graphmer.bench.search."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from graphmer.bench.search import MODEL_SYSTEMS, SYSTEMS, BenchError, BenchResult, run_benchmark
from graphmer.cli.bench_agents import agent_tasks_bench, mcp_bench
from graphmer.cli.bench_editor import completion_bench, symbols_bench
from graphmer.cli.bench_speed import answers_bench, export_bench, index_bench, latency_bench, train_bench
from graphmer.cli.render import out_console


@click.group()
def bench() -> None:
    """Benchmarks: search quality against references, and indexing speed."""


def embed_opts(backend: str, no_quantize: bool, roots: int) -> dict:
    """load_embedder's options for --backend, --no-quantize and --roots."""
    if no_quantize and backend == "onnx":
        raise click.UsageError("--no-quantize needs the torch weights (model.onnx is the int8 model): use --backend torch or auto")
    return {"backend": backend, "quantize": not no_quantize, "roots": roots}


@bench.command("search")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--top-k", default=10, show_default=True, type=click.IntRange(min=1), help="Hits asked per query.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, per-query ranks included.")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the stripped copy goes (default: a temporary directory).",
)
@click.option("--keep", is_flag=True, help="Keep the stripped copy and its indexes afterwards.")
@click.option("--keep-other-docs", is_flag=True,
              help="Realistic mode: remove only the queried functions' docstrings, fold by fold (see --folds).")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=1),
              help="With --keep-other-docs: copies of the package, each without one fold of the queried docstrings.")
@click.option(
    "--system",
    "systems",
    multiple=True,
    type=click.Choice(SYSTEMS),
    help="Run only this system; repeatable (default: all; graphmer-nograph only with --nograph-model, "
         "baseline and baseline-dense only with --baseline-model).",
)
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False), help="Search model (default: the shipped one).")
@click.option("--nograph-model", type=click.Path(exists=True, file_okay=False),
              help="The ablation: a model trained with `graphmer train-retrieval --no-leaves`.")
@click.option("--baseline-model", type=click.Path(exists=True, file_okay=False),
              help="An older search model to compare with: systems baseline (hybrid) and baseline-dense.")
@click.option("--backend", type=click.Choice(["auto", "onnx", "torch"]), default="auto", show_default=True,
              help="Embed with model.onnx (ONNX Runtime, int8), the torch weights, or onnx where the folder has it.")
@click.option("--no-quantize", is_flag=True, help="Embed in float32 with the torch weights (implies the torch backend).")
@click.option("--roots", default=0, type=click.IntRange(min=0), help="Embed at most N code tokens per symbol (0: the model's own).")
@click.pass_context
def search(ctx: click.Context, paths: tuple[Path, ...], top_k: int, as_json: bool, work_dir: Path | None, keep: bool,
           keep_other_docs: bool, folds: int, systems: tuple[str, ...], model_path: str | None, nograph_model: str | None,
           baseline_model: str | None, backend: str, no_quantize: bool, roots: int) -> None:
    """Docstring→code search benchmark on the Python packages at PATHS.

    Every function whose docstring opens with a sentence of 3+ words gives one query;
    search runs over a copy of PATH with all docstrings removed, and a query counts as
    found at rank k when the k-th hit is that function. graphmer (hybrid, its default
    search), graphmer-dense and graphmer-lexical run beside BM25, dense all-MiniLM-L6-v2
    and their RRF fusion on the same functions; with --nograph-model, the no-graph
    ablation too, and with --baseline-model an older model's hybrid and dense search, each
    with a paired bootstrap interval of graphmer's margin over it.

    --keep-other-docs removes only the queried functions' docstrings and keeps the module,
    class and other functions' ones, as in a repository where the function you look for is
    undocumented: the queries are split into --folds folds, each asked on its own copy.
    Several PATHS run in turn, then a summary gives each system's MRR per package and the
    mean over packages, with the margins' intervals on the mean.

    \b
    Example:
        graphmer bench search .venv/lib/python3.11/site-packages/click
        graphmer bench search src/mypkg --json --system bm25
        graphmer bench search site-packages/jinja2 site-packages/flask --keep-other-docs
    """
    if ctx.get_parameter_source("folds") is not click.core.ParameterSource.DEFAULT and not keep_other_docs:
        raise click.UsageError("--folds applies only with --keep-other-docs")
    for name, needs, option in (("graphmer-nograph", nograph_model, "--nograph-model"), ("baseline", baseline_model,
                                "--baseline-model"), ("baseline-dense", baseline_model, "--baseline-model")):
        if name in systems and not needs:
            raise click.UsageError(f"--system {name} needs {option} PATH")
    if not systems:
        systems = tuple(s for s in SYSTEMS if (s != "graphmer-nograph" or nograph_model)
                        and (not s.startswith("baseline") or baseline_model))
    runner = None
    if any(s in MODEL_SYSTEMS for s in systems):
        from graphmer.bench.dense import run_model_systems  # lazy: keeps `graphmer` start-up fast

        cache: dict = {}  # each model loads once, for every package and fold

        def runner(copy, k, names):
            return run_model_systems(copy, k, names, model_path, nograph_model,
                                     embed_opts=embed_opts(backend, no_quantize, roots),
                                     baseline_model=baseline_model, cache=cache)

    results = []
    try:
        for path in paths:
            results.append(run_benchmark(path, top_k=top_k, work_dir=work_dir, keep=keep, systems=systems, runner=runner,
                                         keep_other_docs=keep_other_docs, folds=folds))
    except (BenchError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    from graphmer.bench.dense import MARGINS, margins, mean_over_packages  # lazy: keeps `graphmer` start-up fast

    per_package, mean_margins = margins(results)
    if as_json:
        objs = [r.to_json() | m for r, m in zip(results, per_package)]
        data = objs[0] if len(objs) == 1 else {"packages": objs, "mean": mean_over_packages(results), "margins": mean_margins}
        click.echo(json.dumps(data, indent=2))
        return
    console = out_console
    for result, m in zip(results, per_package):
        console.print(results_table(result))
        for name, d in m.items():
            console.print(f"{' − '.join(MARGINS[name])} MRR@{top_k}: {d['mean']:+.3f} "
                          f"(95% paired bootstrap interval {d['low']:+.3f} … {d['high']:+.3f}, {d['queries']} queries)")
    if len(results) > 1:
        console.print(summary_table(results, per_package, mean_over_packages(results), mean_margins))


def summary_table(results: list[BenchResult], per_package: list[dict], mean: dict, mean_margins: dict) -> Table:
    """MRR@k of each system on each package and their mean; then the paired margins [95% interval]."""
    from graphmer.bench.dense import MARGINS  # lazy: keeps `graphmer` start-up fast

    k = results[0].top_k
    table = Table(title=f"MRR@{k} over {len(results)} packages", caption=mean_margins and
                  "margins: mean difference of reciprocal ranks [95% paired bootstrap interval over queries]" or None)
    table.add_column("system", no_wrap=True)
    for r in results:
        table.add_column(f"{r.package} ({len(r.targets)})", justify="right", no_wrap=True)
    table.add_column("mean", justify="right", no_wrap=True)
    for system, row in mean.items():
        cells = [f"{next(s.mrr for s in r.systems if s.system == system):.3f}" for r in results]
        table.add_row(system, *cells, f"{row[f'mrr@{k}']:.3f}")
    cell = lambda d: f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]" if d else ""  # noqa: E731
    for name in mean_margins:
        table.add_row(" − ".join(MARGINS[name]), *(cell(m.get(name)) for m in per_package), cell(mean_margins[name]))
    return table


def results_table(result: BenchResult) -> Table:
    """One row per system: MRR@k, R@1, R@k, queries, index seconds, query latency."""
    k = result.top_k
    caption = f"{result.package}: {result.files} files, {len(result.targets)} docstring queries"
    if result.unparsed_files:
        caption += f", {result.unparsed_files} files that do not parse"
    if result.mode == "keep-other-docs":
        caption += f"\nonly the queried functions' docstrings removed, {result.folds} folds (index s: all folds)"
    if result.copy_root:
        caption += f"\n{'fold copies' if result.folds else 'stripped copy'} kept at {result.copy_root}"
    table = Table(title="docstring → code search", caption=caption)
    table.add_column("system", no_wrap=True)
    for name in (f"MRR@{k}", "R@1", f"R@{k}", "n", "index s", "items/s", "q ms", "q med"):
        table.add_column(name, justify="right", no_wrap=True)
    for s in result.systems:
        table.add_row(
            s.system,
            f"{s.mrr:.3f}",
            f"{s.recall_at_1:.3f}",
            f"{s.recall_at_k:.3f}",
            str(len(s.ranks)),
            f"{s.index_s:.2f}",
            f"{s.items / s.index_s:,.0f}" if s.index_s > 0 and s.items else "",
            f"{s.query_ms_mean:.2f}",
            f"{s.query_ms_median:.2f}",
        )
    return table


@bench.command("fusion")
@click.argument("packages", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--work-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where the stripped copies go.")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False), help="Search model (default: the shipped one).")
@click.option("--backend", type=click.Choice(["auto", "onnx", "torch"]), default="auto", show_default=True,
              help="Embed with model.onnx (ONNX Runtime, int8), the torch weights, or onnx where the folder has it.")
@click.option("--no-quantize", is_flag=True, help="Embed in float32 with the torch weights (implies the torch backend).")
@click.option("--roots", default=0, type=click.IntRange(min=0), help="Embed at most N code tokens per symbol (0: the model's own).")
@click.option("--keep-other-docs", is_flag=True, help="Realistic mode: only each fold's queried functions lose their docstrings.")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=2), help="Folds of the realistic mode.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def fusion_bench(packages: tuple[Path, ...], work_dir: Path, model_path: str | None, backend: str, no_quantize: bool, roots: int,
                 keep_other_docs: bool, folds: int, as_json: bool) -> None:
    """MRR@10 of hybrid fusion settings on development packages (choose the fusion here, on
    packages that are not the reported ones; each setting is a HybridConfig).

    \b
    Example:
        graphmer bench fusion site-packages/jinja2 site-packages/flask --work-dir /tmp/fusion
    """
    from graphmer.index.fusion import HybridConfig  # lazy: keeps `graphmer` start-up fast
    from graphmer.bench.dense import fusion_grid

    configs = {"lexical": ("lexical", HybridConfig()), "dense": ("dense", HybridConfig())}
    for fusion in ("rrf", "score"):
        for w_dense in (0.25, 0.5, 1.0, 2.0, 3.0, 4.0):
            for w_graph in (0.0, 0.05, 0.2):
                configs[f"{fusion} d{w_dense} g{w_graph}"] = ("hybrid", HybridConfig(fusion=fusion, w_dense=w_dense, w_graph=w_graph))
    res = fusion_grid(list(packages), work_dir, model_path, configs, embed_opts=embed_opts(backend, no_quantize, roots),
                      folds=folds if keep_other_docs else 0)
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    table = Table(title="MRR@10 by fusion setting")
    table.add_column("setting", no_wrap=True)
    for p in res:
        table.add_column(f"{p} ({res[p]['queries']})", justify="right")
    table.add_column("mean", justify="right")
    for name in configs:
        vals = [res[p][name] for p in res]
        table.add_row(name, *(f"{v:.3f}" for v in vals), f"{sum(vals) / len(vals):.3f}")
    out_console.print(table)


@bench.command("graph")
@click.option("--fit", "fit_packages", multiple=True, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A training package to fit the weights on (repeatable; never a benchmark or development package).")
@click.option("--eval", "eval_packages", multiple=True, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A package to measure on (repeatable).")
@click.option("--work-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where the copies and indexes go.")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False), help="Search model (default: the shipped one).")
@click.option("--keep-other-docs", is_flag=True, help="Realistic mode: only each fold's targets lose their docstrings.")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=2), help="Folds of the realistic mode.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def graph_bench(fit_packages, eval_packages, work_dir, model_path, keep_other_docs, folds, as_json) -> None:
    """The graph variants beyond the leaves, against the plain vectors of the same model (dense ranking):
    index-time propagation (a symbol's vector mixed with its neighbours') and a query-time rerank of
    the first page by each hit's neighbours, each with per-relation weights fitted on --fit packages.

    \b
    Example:
        graphmer bench graph --fit corpus/src/requests-2.34.2 --eval site-packages/jinja2 --work-dir /tmp/g
    """
    from graphmer.model.embedder import load_embedder  # lazy: keeps `graphmer` start-up fast
    from graphmer.model.graph_fit import event_line, measure

    def show(e: dict) -> None:
        if line := event_line(e):
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    r = measure(list(fit_packages), list(eval_packages), work_dir, load_embedder(model_path, propagation=False),
                keep_other_docs, folds, show)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    table = Table(title=f"graph variants minus plain vectors, dense MRR@10 ({r['mode']})")
    table.add_column("variant")
    for name in r["plain"]:
        table.add_column(name, justify="right")
    table.add_column("mean", justify="right")
    table.add_row("plain", *(f"{v:.3f}" for v in r["plain"].values()), f"{sum(r['plain'].values()) / len(r['plain']):.3f}")
    for variant, v in r["variants"].items():
        cells = [f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]" for d in v["minus_plain"].values()]
        m = v["mean_minus_plain"]
        table.add_row(variant, *cells, f"{m['mean']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}]")
    out_console.print(table)
    for variant, v in r["variants"].items():
        out_console.print(f"{variant}: weights {v['weights'] or 'none (all 0)'}, fitted MRR@10 {v['fit_plain_mrr']:.3f} -> {v['fit_mrr']:.3f}")


for _command in (agent_tasks_bench, answers_bench, completion_bench, export_bench, index_bench, latency_bench, mcp_bench, symbols_bench,
                 train_bench):
    bench.add_command(_command)
