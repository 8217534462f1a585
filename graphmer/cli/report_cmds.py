"""`graphmer report`, `graphmer compare`, `graphmer card`: thin wrappers over graphmer/model/report*, graphmer/model/compare, graphmer/model/card."""
from __future__ import annotations

import click

from graphmer.cli.render import echo_json, out_console


def _opts(windows, smooth, spike_factor, spike_window):
    from graphmer.model.reports.report import ReportOptions  # lazy: loaded when the command runs (fast start-up)
    from graphmer.model.reports.stats import parse_window

    try:
        wins = tuple(parse_window(w) for w in windows)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--window") from None
    return ReportOptions(windows=wins, smooth=smooth, spike_factor=spike_factor, spike_window=spike_window)


def _errors():
    from graphmer.model.reports.compare import CompareError  # lazy: loaded when the command runs (fast start-up)
    from graphmer.model.run_log import RunLogError

    return (RunLogError, CompareError)


@click.command("report")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write REPORT.md, report.json and PNG plots into this folder.")
@click.option("--window", "windows", multiple=True, metavar="FIRST-LAST",
              help="Phase window in step numbers (repeatable); default: first 1%, middle, last 10%.")
@click.option("--smooth", default=50, show_default=True, type=click.IntRange(min=1), help="Smoothed loss: mean of the last N steps.")
@click.option("--spike-factor", default=3.0, show_default=True, type=click.FloatRange(min=1), help="Gradient-norm spike: above F x running median.")
@click.option("--spike-window", default=50, show_default=True, type=click.IntRange(min=1), help="Running median over the previous N norms.")
@click.option("--log-scale", is_flag=True, help="Loss plot on a log scale.")
@click.option("--title", default="", help="Title of the Markdown report (default: the run folder).")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON.")
def report_cmd(run, out_dir, windows, smooth, spike_factor, spike_window, log_scale, title, as_json):
    """Training analysis of RUN from its own logs: loss, held-out metrics with intervals,
    stability, schedules, efficiency. A multi-seed parent (graphmer train --seeds) is summarised across seeds.

    \b
    Examples:
        graphmer report runs/mine
        graphmer report runs/mine --window 1-100 --window 900-1000 --out reports/mine
        graphmer report runs/seeds --json
    """
    from graphmer.model.reports.seeds import seed_report  # lazy: loaded when the command runs (fast start-up)
    from graphmer.model.reports.report import build_report
    from graphmer.model.reports.markdown import write_report, write_seed_report
    from graphmer.model.run_log import is_seed_parent

    opts = _opts(windows, smooth, spike_factor, spike_window)
    parent = is_seed_parent(run)
    try:
        if out_dir:
            rep = (write_seed_report if parent else write_report)(run, out_dir, opts, log_scale, *(() if parent else (title,)))
        else:
            rep = seed_report(run, opts)[0] if parent else build_report(run, opts)
    except _errors() as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        echo_json({"run": rep.run, "kind": rep.kind, "figures": rep.figures, "notes": list(rep.notes)})
        return
    from graphmer.cli.report_view import render_report  # lazy: loaded when the command runs (fast start-up)

    render_report(out_console, rep)
    if out_dir:
        out_console.print(f"wrote {out_dir}/REPORT.md")


@click.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Save per_example.csv and compare.json into this folder.")
@click.option("--resamples", default=10_000, show_default=True, type=click.IntRange(min=100), help="Bootstrap resamples and permutations.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the resampling.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_cmd(runs, out_dir, resamples, seed, device, as_json):
    """Compare RUNS on one held-out set: each run's metrics, and every run's difference from the
    first with a paired bootstrap interval and a named paired test. A multi-seed parent counts as
    one group (mean ± std across its seeds).

    \b
    Examples:
        graphmer compare runs/base runs/no-hgat --out reports/hgat
        graphmer compare runs/seeds-a runs/seeds-b --json
    """
    from graphmer.model.reports.compare import compare_runs, comparison_json, write_comparison  # lazy: loaded when the command runs (fast start-up)

    try:
        c = compare_runs(list(runs), out_dir, resamples=resamples, seed=seed, device=device)
    except _errors() as e:
        raise click.ClickException(str(e)) from None
    if out_dir:
        write_comparison(c, out_dir)
    if as_json:
        echo_json(comparison_json(c))
        return
    from graphmer.cli.report_view import render_comparison  # lazy: loaded when the command runs (fast start-up)

    render_comparison(out_console, c)


@click.command("card")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--out", "out", type=click.Path(), help="Write MODEL_CARD.md here (a file or a folder); default: print it.")
@click.option("--title", default="", help="Model name in the card's title (default: the run folder's name).")
@click.option("--json", "as_json", is_flag=True, help="Print {'path', 'markdown'} as JSON.")
def card_cmd(run, out, title, as_json):
    """MODEL_CARD.md of RUN: data and held-out split, architecture, cost, metrics with intervals,
    intended use, limitations and the command that reproduces it, all from the run's files.

    \b
    Example:
        graphmer card runs/search --title graphmer-default --out graphmer/model/default/MODEL_CARD.md
    """
    from graphmer.model.reports.card import render_card, write_card  # lazy: loaded when the command runs (fast start-up)

    try:
        path = write_card(run, out, title) if out else None
        text = path.read_text() if path else render_card(run, title)
    except _errors() as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        echo_json({"path": str(path) if path else None, "markdown": text})
    elif path:
        click.echo(f"wrote {path}")
    else:
        click.echo(text, nl=False)
