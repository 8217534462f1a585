"""Rich rendering of reports and comparisons for the terminal (the same figures as --json)."""
from __future__ import annotations

from rich.table import Table

from graphmer.model.reports.markdown import ci, fmt


def _loss_table(f: dict) -> Table:
    t = Table(title=f"loss ({f['loss']['source']})")
    for c in ("component", "steps", "mean ± std", "median", "min (step)", "max (step)", "final raw", "final smoothed"):
        t.add_column(c, justify="right")
    for k, s in f["loss"]["components"].items():
        if s:
            t.add_row(k, str(s["n"]), f"{fmt(s['mean'])} ± {fmt(s['std'])}", fmt(s["median"]), f"{fmt(s['min'])} ({s['min_step']})",
                      f"{fmt(s['max'])} ({s['max_step']})", fmt(s["final_raw"]), fmt(s["final_smoothed"]))
    return t


def _validation_table(f: dict, kind: str) -> Table:
    V = f["validation"]
    t = Table(title="held-out evaluations (95% intervals)")
    if kind == "pretrain":
        for c in ("step", "MLM acc", "MLM interval", "MNM acc", "MNM interval"):
            t.add_column(c, justify="right")
        mnm = {r["step"]: r for r in V.get("mnm", {}).get("evals", [])}
        for r in V.get("mlm", {}).get("evals", []):
            m = mnm.get(r["step"], {})
            t.add_row(str(r["step"]), fmt(r["acc"]), ci(r["ci95"]), fmt(m.get("acc")), ci(m.get("ci95")))
    else:
        for c in ("epoch", "step", "MRR@10", "interval", "Recall@1", "interval", "queries"):
            t.add_column(c, justify="right")
        for r in V.get("evals", []):
            t.add_row(str(r["epoch"]), str(r["step"]), fmt(r["mrr@10"]), ci(r["mrr@10_ci95"]), fmt(r["recall@1"]),
                      ci(r["recall@1_ci95"]), str(r["pairs"]))
    return t


def render_report(console, rep) -> None:
    """Print a Report (or a multi-seed summary) as rich tables and lines."""
    f = rep.figures
    console.print(f"[bold]{rep.run}[/] ({rep.kind})")
    if rep.kind == "seeds":
        t = Table(title=f"across seeds ({f['source']})")
        for c in ("figure", "seeds", "mean", "std (n − 1)"):
            t.add_column(c, justify="right")
        for k, a in f["across_seeds"].items():
            t.add_row(k, str(a["n"]), fmt(a["mean"]), fmt(a["std"]))
        console.print(t)
    else:
        console.print(_loss_table(f))
        console.print(_validation_table(f, rep.kind))
        from graphmer.model.reports.markdown import efficiency_lines, schedule_lines, stability_lines  # lazy: loaded when the command runs (fast start-up)

        for line in stability_lines(f) + schedule_lines(f)[:6] + efficiency_lines(f):
            if line.startswith("- "):
                console.print(line, markup=False)
    for n in rep.notes:
        console.print(f"note: {n}", markup=False, style="dim")


def render_comparison(console, c) -> None:
    """Print a Comparison: per-group metrics, then paired differences with interval, test and p."""
    t = Table(title=f"metrics on the same held-out set ({c.examples} examples)")
    for col in ("group", "runs", "metric", "mean", "std across seeds"):
        t.add_column(col, justify="right")
    for g in c.groups:
        for m, v in g["metrics"].items():
            t.add_row(g["name"], str(len(g["runs"])), m, fmt(v["mean"]), fmt(v["std"]))
    console.print(t)
    t = Table(title="paired differences (B − A)")
    for col in ("metric", "A", "B", "B − A", "95% interval", "p", "test"):
        t.add_column(col, justify="right", overflow="fold")
    tests = list(dict.fromkeys(d.test for d in c.differences))  # each test named once, below the table
    for d in c.differences:
        t.add_row(d.metric, fmt(d.a), fmt(d.b), fmt(d.diff), ci((d.ci_low, d.ci_high)), fmt(d.p_value), f"[{tests.index(d.test) + 1}]")
    console.print(t)
    for n, test in enumerate(tests, 1):
        console.print(f"[{n}] p from: {test}", markup=False)
    if c.differences:
        console.print(f"intervals: {c.differences[0].interval}", markup=False)
    if c.per_example_file:
        console.print(f"per-example results: {c.per_example_file}", markup=False)
