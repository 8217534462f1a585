"""`graphmer bench mcp|agent-tasks`: the MCP server measured for coding agents, thin over
graphmer/bench/mcp.py and graphmer/bench/agent_tasks.py."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
from rich.table import Table

from graphmer.cli.render import out_console


@click.command("mcp")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--calls", default=100, show_default=True, type=click.IntRange(min=1), help="Timed calls per tool.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the argument sample.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def mcp_bench(root: Path, calls: int, seed: int, as_json: bool) -> None:
    """Latency of `graphmer mcp`'s tools through the real protocol (stdio, the mcp SDK's
    client) on the existing index of ROOT: startup to the first answer, the first search
    (it loads the model), then --calls calls of every read tool with arguments drawn from
    the index; p50/p95/max per tool and whether p95 is within 100 ms.

    \b
    Example:
        graphmer index /tmp/stdlib && graphmer bench mcp /tmp/stdlib
    """
    from graphmer.bench.mcp import (  # lazy: loaded when the command runs (fast start-up)
        AIM_P95_MS,
        bench_mcp,
    )

    try:
        r = bench_mcp(root, calls, seed)
    except (ValueError, RuntimeError) as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(r.to_json(), indent=2))
        return
    table = Table(title=f"graphmer mcp on {r.root}: {r.calls} calls per tool")
    for name in ("tool", "p50 ms", "p95 ms", "max ms", "errors", "chars (median)", f"p95 ≤ {AIM_P95_MS:g} ms"):
        table.add_column(name, justify="left" if name == "tool" else "right")
    for tool, v in r.tools.items():
        table.add_row(tool, f"{v['p50']:.1f}", f"{v['p95']:.1f}", f"{v['max']:.1f}", str(v["errors"]), str(v["chars_p50"]),
                      "yes" if v["within_aim"] else "no")
    out_console.print(table)
    out_console.print(f"initialize answered {r.startup_s:.2f} s after spawning, first tool result at {r.first_answer_s:.2f} s; "
                      f"first search {r.first_search_ms:.0f} ms{' (an error)' if r.first_search_error else ''}")


@click.command("agent-tasks")
@click.argument("package", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tasks", "tasks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Tasks file (default: the werkzeug tasks shipped in graphmer/bench/agent_tasks.json).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the indexed copy goes (default: a temporary directory, removed afterwards).")
@click.option("--no-dense", is_flag=True, help="Index the copy without the model (lexical + graph search only).")
@click.option("--markdown", is_flag=True, help="Print the README's markdown table.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, per task and fact.")
def agent_tasks_bench(package: Path, tasks_file: Path | None, work_dir: Path | None, no_dense: bool, markdown: bool,
                      as_json: bool) -> None:
    """Questions about the package at PACKAGE answered through `graphmer mcp`'s tools and with
    grep plus reading files: whether each task's facts are in what was returned, and the
    characters returned to the agent by each.

    \b
    Example:
        graphmer bench agent-tasks .venv/lib/python3.11/site-packages/werkzeug
    """
    from graphmer.bench.agent_tasks import (  # lazy: loaded when the command runs (fast start-up)
        TASKS_FILE,
        bench_agent_tasks,
    )

    with tempfile.TemporaryDirectory(prefix="graphmer-agent-tasks-") as tmp:
        try:
            r = bench_agent_tasks(package, work_dir or tmp, tasks_file or TASKS_FILE, dense=not no_dense)
        except (ValueError, RuntimeError, KeyError) as e:
            raise click.ClickException(f"{type(e).__name__}: {e}") from None
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    if markdown:
        click.echo(r["table"])
        return
    table = Table(title=f"{len(r['tasks'])} tasks on {r['package']}")
    for name in ("task", "facts", "graphmer", "grep", "chars graphmer", "chars grep"):
        table.add_column(name, justify="left" if name == "task" else "right")
    for t in r["tasks"]:
        g, p = t["graphmer"], t["grep"]
        table.add_row(t["id"], str(len(t["facts"])), f"{sum(g['found'])}{' ✓' if g['answered'] else ''}",
                      f"{sum(p['found'])}{' ✓' if p['answered'] else ''}", f"{g['chars']:,}", f"{p['chars']:,}")
    out_console.print(table)
    s = r["summary"]
    out_console.print(f"answered: graphmer {s['graphmer']['answered']}/{s['tasks']}, grep {s['grep']['answered']}/{s['tasks']}; "
                      f"characters: graphmer {s['graphmer']['chars']:,}, grep {s['grep']['chars']:,}")
