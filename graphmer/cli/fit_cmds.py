"""`graphmer fit-completion` and `graphmer fit-usage`: the completion artefacts graphmer ships,
thin over graphmer/model/complete_fit.py."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from graphmer.cli.render import out_console, progress_callback


@click.command("fit-completion")
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def fit_completion_cmd(packages: tuple[Path, ...], sites: int, seed: int, l2: float, refine_steps: int, hidden: int,
                       hidden_steps: int, hidden_seeds: int, out: Path | None, as_json: bool) -> None:
    """Fit the completion ranking weights on member-access sites of PACKAGES.

    Without PACKAGES: the standard-library packages the shipped weights are fitted on
    (graphmer/model/complete_fit.py). Fit on code the benchmark is not judged on.

    Each standard-library package is fitted with the standard library's member-read counts
    (graphmer/complete/stdlib_usage.py) of every other package, never its own.

    \b
    Example (how graphmer/complete/completion_weights.json is made):
        graphmer fit-completion --out graphmer/complete/completion_weights.json
    """
    from graphmer.model.complete_fit import FitError, fit_completion  # lazy: keeps `graphmer` start-up fast

    try:
        with progress_callback(enabled=not as_json) as cb:
            r = fit_completion(list(packages), out, sites=sites, seed=seed, l2=l2, refine_steps=refine_steps, hidden=hidden,
                               hidden_steps=hidden_steps, hidden_seeds=hidden_seeds, progress=cb)
    except FitError as exc:
        raise click.ClickException(str(exc)) from exc
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


@click.command("fit-usage")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Write the counts here (JSON).")
@click.option("--stdlib", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The standard library's folder (default: the running Python's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def fit_usage_cmd(out: Path, stdlib: Path | None, as_json: bool) -> None:
    """Count the standard library's reads of its modules' members (completion ranks by them).

    Every read of an imported standard-library module's member (`os.path.join`, `json.dumps`)
    in the library's own sources, tests left out; a member read fewer than twice is dropped.

    \b
    Example (how graphmer/complete/stdlib_usage.json is made):
        graphmer fit-usage --out graphmer/complete/stdlib_usage.json
    """
    from graphmer.model.complete_fit import FitError, fit_usage  # lazy: keeps `graphmer` start-up fast

    try:
        with progress_callback(enabled=not as_json) as cb:
            usage = fit_usage(out, stdlib, progress=cb and (lambda done, total: cb("files", done, total)))
    except FitError as exc:
        raise click.ClickException(str(exc)) from exc
    members = sum(len(v) for v in usage.values())
    if as_json:
        click.echo(json.dumps({"out": str(out), "modules": len(usage), "members": members}, indent=2))
        return
    click.echo(f"wrote {out}: {members:,} members of {len(usage):,} modules")
