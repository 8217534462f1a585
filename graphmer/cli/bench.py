"""`graphmer bench …`: benchmarks, thin over graphmer.bench.search."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from graphmer.cli.render import out_console
from graphmer.bench.search import SYSTEMS, BenchError, BenchResult, run_benchmark


@click.group()
def bench() -> None:
    """Benchmarks: search quality against references, and indexing speed."""


def _embed_opts(backend: str, no_quantize: bool, roots: int) -> dict:
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
    from graphmer.bench.search import MODEL_SYSTEMS

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
        from graphmer.bench.dense import run_model_systems

        cache: dict = {}  # each model loads once, for every package and fold

        def runner(copy, k, names):
            return run_model_systems(copy, k, names, model_path, nograph_model,
                                     embed_opts=_embed_opts(backend, no_quantize, roots),
                                     baseline_model=baseline_model, cache=cache)

    results = []
    try:
        for path in paths:
            results.append(run_benchmark(path, top_k=top_k, work_dir=work_dir, keep=keep, systems=systems, runner=runner,
                                         keep_other_docs=keep_other_docs, folds=folds))
    except (BenchError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    from graphmer.bench.dense import MARGINS, margins, mean_over_packages

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
    from graphmer.bench.dense import MARGINS

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


@bench.command("index")
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
    from graphmer.bench.indexing import run_index_bench
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


@bench.command("export")
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
    from graphmer.bench.export import compare_quantizations
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


@bench.command("train")
@click.option("--preset", default="cpu-s", show_default=True, type=click.Choice(["cpu-s", "cpu-m", "gpu-b", "minilm-ws"]))
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=10, show_default=True, type=click.IntRange(min=1), help="Timed steps of each model.")
@click.option("--decay-mode", type=click.Choice(["multiply", "additive"]), help="Override the preset's decay mode.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def train_bench(preset: str, batch_size: int, steps: int, decay_mode: str | None, as_json: bool) -> None:
    """Training throughput of GraphMER beside a plain nn.TransformerEncoder of the same
    width, depth, heads, FFN and sequence length, timed alternately in one process."""
    from graphmer.bench.training import run_train_bench

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
    from graphmer.index.fusion import HybridConfig
    from graphmer.bench.dense import fusion_grid

    configs = {"lexical": ("lexical", HybridConfig()), "dense": ("dense", HybridConfig())}
    for fusion in ("rrf", "score"):
        for w_dense in (0.25, 0.5, 1.0, 2.0, 3.0, 4.0):
            for w_graph in (0.0, 0.05, 0.2):
                configs[f"{fusion} d{w_dense} g{w_graph}"] = ("hybrid", HybridConfig(fusion=fusion, w_dense=w_dense, w_graph=w_graph))
    res = fusion_grid(list(packages), work_dir, model_path, configs, embed_opts=_embed_opts(backend, no_quantize, roots),
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


@bench.command("latency")
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
    from graphmer.bench.symbols import lsp_ready
    from graphmer.bench.dense import query_latency

    r = query_latency(root, queries, fresh_runs, model_path)
    r["lsp_ready_s"] = lsp_ready(root, fresh_runs, model=model_path)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    click.echo(f"{r['root']}: {r['queries']} warm {r['mode']} queries, median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms; "
               f"fresh process {', '.join(f'{s:.2f}' for s in r['fresh_process_s'])} s; "
               f"graphmer lsp ready (initialize to first dense answer) {', '.join(f'{s:.2f}' for s in r['lsp_ready_s'])} s")


@bench.command("completion")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sites", default=400, show_default=True, type=click.IntRange(min=1), help="Member-access sites to sample.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the site sample.")
@click.option("--no-jedi", is_flag=True, help="Skip jedi's completions (the reference).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the indexed copy goes (default: a temporary directory).")
@click.option("--weights", default="fitted", show_default=True, metavar="fitted|hand|FILE",
              help="Ranking weights: the shipped fitted ones, the hand-set ones, or a file from `bench completion-fit`.")
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
    from graphmer.cli.render import progress_callback
    from graphmer.bench.completion import BenchError as CompletionBenchError
    from graphmer.bench.completion import run_completion_bench
    from graphmer.index.complete_rank import RankWeights, WeightsError, load_weights

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


@bench.command("completion-fit")
@click.argument("packages", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sites", default=300, show_default=True, type=click.IntRange(min=1), help="Sites sampled per package.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the site samples.")
@click.option("--l2", default=0.001, show_default=True, type=click.FloatRange(min=0), help="Pull towards the hand-set weights.")
@click.option("--refine-steps", default=300, show_default=True, type=click.IntRange(min=0),
              help="Steps of the second stage aimed at the first place (0: the listwise fit only).")
@click.option("--hidden", default=16, show_default=True, type=click.IntRange(min=0),
              help="Units of the hidden layer fitted last (0: a weighted sum only).")
@click.option("--hidden-steps", default=500, show_default=True, type=click.IntRange(min=0),
              help="Minibatch steps fitting the hidden layer.")
@click.option("--hidden-seeds", default=4, show_default=True, type=click.IntRange(min=1),
              help="Hidden layers fitted from this many seeds, their scores averaged.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the fitted weights here (JSON).")
@click.option("--usage-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the standard library's reads of its modules' members here (JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def completion_fit(packages: tuple[Path, ...], sites: int, seed: int, l2: float, refine_steps: int, hidden: int,
                   hidden_steps: int, hidden_seeds: int, out: Path | None, usage_out: Path | None, as_json: bool) -> None:
    """Fit the completion ranking weights on member-access sites of PACKAGES.

    Without PACKAGES: the standard-library packages the shipped weights are fitted on
    (graphmer/model/complete_fit.py). Fit on code the benchmark is not judged on.

    Each standard-library package is fitted with the standard library's member-read counts
    (graphmer/index/stdlib_usage.py) of every other package, never its own.

    \b
    Example (how graphmer/index/completion_weights.json and graphmer/index/stdlib_usage.json are made):
        graphmer bench completion-fit --out graphmer/index/completion_weights.json --usage-out graphmer/index/stdlib_usage.json
    """
    import platform

    from graphmer.cli.render import progress_callback
    from graphmer.bench.completion import BenchError as CompletionBenchError
    from graphmer.index.complete_rank import dump_weights
    from graphmer.index.stdlib_usage import MIN_COUNT
    from graphmer.index.stdlib_usage import write as write_usage
    from graphmer.model.complete_fit import run_fit, stdlib_packages

    pkgs = list(packages) or stdlib_packages()
    try:
        with progress_callback(enabled=not as_json) as cb:
            r = run_fit(pkgs, sites=sites, seed=seed, l2=l2, refine_steps=refine_steps, hidden=hidden,
                        hidden_steps=hidden_steps, hidden_seeds=hidden_seeds, progress=cb)
    except CompletionBenchError as exc:
        raise click.ClickException(str(exc)) from exc
    meta = {**r.to_json(), "sites_per_package": sites, "seed": seed, "l2": l2, "refine_steps": refine_steps,
            "hidden": hidden if hidden_steps else 0, "hidden_steps": hidden_steps if hidden else 0,
            "hidden_seeds": hidden_seeds if hidden and hidden_steps else 0,
            "python": platform.python_version(), "command": "graphmer bench completion-fit" + ("" if packages else " (standard library)")}
    meta.pop("seconds")
    try:
        if out is not None:
            dump_weights(r.weights, out, meta)
        if usage_out is not None:
            write_usage(r.stdlib_uses, usage_out, {"python": meta["python"], "min_count": MIN_COUNT,
                                                   "command": "graphmer bench completion-fit --usage-out"})
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from exc
    if as_json:
        click.echo(json.dumps({**r.to_json(), "weights": {n: getattr(r.weights, n) for n in r.weights.features()}}, indent=2))
        return
    table = Table(title=f"completion weights fitted on {len(r.packages)} packages, {r.examples} examples",
                  caption=f"{r.sites_missing} site/prefix pairs without the right name among the candidates; {r.seconds:.0f} s")
    table.add_column("weights", no_wrap=True)
    keys = list(r.before)
    for k in keys:
        table.add_column(k, justify="right", no_wrap=True)
    table.add_column("loss", justify="right", no_wrap=True)
    table.add_row("hand-set", *(f"{r.before[k]:.3f}" for k in keys), f"{r.loss_before:.4f}")
    table.add_row("fitted", *(f"{r.after[k]:.3f}" for k in keys), f"{r.loss_after:.4f}")
    out_console.print(table)
    if out is not None:
        click.echo(f"wrote {out}")


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
    import sys

    from graphmer.model.embedder import load_embedder
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
