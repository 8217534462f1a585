"""The live view of a training run: a rich panel on a terminal, plain lines when piped."""
from __future__ import annotations

import contextlib
import sys
import time

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table


class TrainView:
    """Consumes train() events; keeps the latest step and evaluation."""

    def __init__(self, total_steps: int, plain_every: int = 10) -> None:
        self.total = total_steps
        self.plain_every = plain_every
        self.step: dict = {}
        self.eval: dict = {}
        self.status = "starting"
        self.t0 = time.monotonic()
        self.first_step: int | None = None
        self.live: Live | None = None

    def eta(self) -> str:
        s = self.step.get("step")
        if not s or self.first_step is None or s <= self.first_step:
            return "?"
        rate = (time.monotonic() - self.t0) / (s - self.first_step)
        left = rate * (self.total - s)
        return time.strftime("%H:%M:%S", time.gmtime(left))

    def render(self) -> Table:
        t = Table(title=f"graphmer train — {self.status}", show_header=False, box=None)
        t.add_column(style="bold")
        t.add_column()
        s, e = self.step, self.eval
        if s:
            t.add_row("step", f"{s['step']}/{self.total}   ETA {self.eta()}")
            t.add_row("loss", f"{s['loss']:.4f}  (MLM {s['mlm_loss']:.3f}, SBO {s['sbo_loss']:.3f}, MNM {s['mnm_loss']:.3f}, μ {s['mu']:.3f})")
            t.add_row("train acc", f"MLM {s['mlm_acc']:.3f}  MNM {s['mnm_acc']:.3f}")
            t.add_row("throughput", f"{s['tokens_per_s']:,.0f} tokens/s   {s['step_time']:.2f} s/step   lr {s['lr']:.2e}")
            t.add_row("stability", f"grad norm {s['grad_norm']:.3f}   skipped steps {s['skipped_total']}")
        if e:
            t.add_row(
                "held-out",
                f"step {e['step']}: MLM {e['mlm_acc']:.4f} (n={e['mlm_count']})  MNM {e['mnm_acc']:.4f} (n={e['mnm_count']})",
            )
        return t

    def __call__(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "status":
            self.status = event["message"]
            if self.live is None:
                click.echo(self.status, err=True)
        elif kind == "step":
            if self.first_step is None:
                self.first_step, self.t0 = event["step"] - 1, time.monotonic() - event["step_time"]
            self.step = event
            if self.live is None and (event["step"] % self.plain_every == 0 or event["step"] == self.total):
                click.echo(
                    f"step {event['step']}/{self.total} loss {event['loss']:.4f} mlm {event['mlm_loss']:.3f} "
                    f"mnm {event['mnm_loss']:.3f} acc {event['mlm_acc']:.3f}/{event['mnm_acc']:.3f} "
                    f"{event['tokens_per_s']:.0f} tok/s skipped {event['skipped_total']} eta {self.eta()}",
                    err=True,
                )
        elif kind == "eval":
            self.eval = event
            if self.live is None:
                click.echo(
                    f"eval step {event['step']}: mlm_acc {event['mlm_acc']:.4f} (n={event['mlm_count']}) "
                    f"mnm_acc {event['mnm_acc']:.4f} (n={event['mnm_count']})",
                    err=True,
                )
        if self.live is not None:
            self.live.update(self.render())


@contextlib.contextmanager
def train_view(total_steps: int, enabled: bool = True):
    view = TrainView(total_steps)
    if enabled and sys.stderr.isatty():
        with Live(view.render(), console=Console(stderr=True), refresh_per_second=4) as live:
            view.live = live
            yield view
        return
    yield view if enabled else None
