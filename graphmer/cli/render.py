"""Rendering helpers for the CLI: progress (rich on a terminal, plain lines when piped), tables."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import sys
import time

import click
from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

# Columns of a console whose output is a pipe or a file: so wide that no line wraps, and
# `graphmer search x | grep ...` sees each hit's line whole (rich would otherwise lay out at 80).
PIPE_WIDTH = 10_000


class _Console(Console):
    """A rich Console at the terminal's width, or PIPE_WIDTH when its output is not a terminal."""

    def _size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)
        isatty = getattr(self.file, "isatty", None)
        try:
            tty = isatty is not None and isatty()
        except ValueError:  # a closed file
            tty = False
        return size if tty else ConsoleDimensions(PIPE_WIDTH, size.height)

    size = property(_size, Console.size.fset)

    def on_broken_pipe(self) -> None:
        """Hands a closed pipe to the CLI's one handler (graphmer.cli.main), instead of rich's quiet exit 1."""
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


err_console = _Console(stderr=True)
out_console = _Console()


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@contextlib.contextmanager
def progress_callback(enabled: bool = True):
    """Yields a (stage, done, total) callback drawing progress on stderr."""
    if not enabled:
        yield None
        return
    if sys.stderr.isatty():
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, transient=True,
        ) as prog:
            tasks: dict[str, int] = {}

            def cb(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = prog.add_task(stage, total=total)
                prog.update(tasks[stage], completed=done, total=total)

            yield cb
        return
    last = {"t": 0.0, "stage": None}

    def plain(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != last["stage"] or done == total or now - last["t"] >= 2.0:
            click.echo(f"{stage}: {done}/{total}", err=True)
            last.update(t=now, stage=stage)

    yield plain


def highlight(text: str, terms: list[str]) -> Text:
    """Text with the words matching any query term (by its first letters) in bold yellow."""
    out = Text(text)
    for t in terms:
        for m in re.finditer(re.escape(t[:6]), text, re.I):
            out.stylize("bold yellow", m.start(), m.end())
    return out


def format_why(why: dict) -> str:
    """One line from a Hit.why: "lexical #3 7.21 · dense #1 0.834 · graph +0.0021 via a.B · fused 0.0325"."""
    parts = []
    for name in ("lexical", "dense"):
        if name in why:
            parts.append(f"{name} #{why[name]['rank']} {why[name]['score']:.3g}")
    if "graph" in why:
        parts.append(f"graph +{why['graph']['score']:.3g} via {why['graph']['via']}")
    if "fused" in why:
        parts.append(f"fused {why['fused']:.3g}")
    return " · ".join(parts)


def table(*columns: str, title: str | None = None) -> Table:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    return t
