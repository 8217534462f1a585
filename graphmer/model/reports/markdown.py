"""Markdown rendering of a Report (and of a multi-seed summary): numbers only, each with its source."""
from __future__ import annotations

import json
import os
from pathlib import Path

from graphmer.model.reports.plots import write_plots, write_seed_plot
from graphmer.model.reports.report import Report, ReportOptions, build_report
from graphmer.model.reports.seeds import seed_logs, seed_report
from graphmer.model.run_log import load_run


def fmt(x, digits: int = 4) -> str:
    """A number for a table: 4 significant digits, '—' for missing.

    >>> fmt(0.123456), fmt(None), fmt(1234567.0), fmt(12)
    ('0.1235', '—', '1.235e+06', '12')
    """
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def ci(c) -> str:
    """'[lo, hi]' or '—'."""
    return f"[{fmt(c[0])}, {fmt(c[1])}]" if c else "—"


def _table(head: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


def _loss(f: dict) -> list[str]:
    L = f["loss"]
    out = ["## Loss", "", f"Source: {L['source']}. Excluded: {L['excluded']}. "
           f"Smoothed = mean of the last {L['smooth_window']} finite steps.", ""]
    rows = [[k, s["n"], f"{fmt(s['mean'])} ± {fmt(s['std'])}", fmt(s["median"]), f"{fmt(s['min'])} (step {s['min_step']})",
             f"{fmt(s['max'])} (step {s['max_step']})", f"{fmt(s['final_raw'])} (step {s['final_step']})", fmt(s["final_smoothed"])]
            for k, s in L["components"].items() if s]
    out += _table(["component", "steps", "mean ± std", "median", "min", "max", "final (raw)", "final (smoothed)"], rows)
    comps = [k for k, s in L["components"].items() if s]
    rows = [[w["name"], f"{w['first']}–{w['last']}", w["steps"]] +
            [f"{fmt(w[k]['mean'])} ± {fmt(w[k]['std'])}" for k in comps] for w in L["windows"]]
    out += ["Per phase window (mean ± std):", ""] + _table(["window", "steps", "n"] + comps, rows)
    if "epochs" in L:
        rows = [[e["epoch"], e["n"], f"{fmt(e['mean'])} ± {fmt(e['std'])}", fmt(e["median"])] for e in L["epochs"]]
        out += ["Per epoch:", ""] + _table(["epoch", "steps", "mean ± std", "median"], rows)
    return out + ["![loss](loss.png)", ""]


def _dist(d: dict | None) -> str:
    if not d:
        return "—"
    return f"mean {fmt(d['mean'])} ± {fmt(d['std'])}, median {fmt(d['median'])}, range {fmt(d['min'])}–{fmt(d['max'])}"


def _validation(f: dict, kind: str) -> list[str]:
    V = f["validation"]
    out = ["## Held-out evaluation", "", f"Source: {V['source']}.", ""]
    if kind == "pretrain":
        for k in ("mlm", "mnm"):
            d = V.get(k, {})
            if not d.get("evals"):
                out += [f"No {k.upper()} evaluations were logged.", ""]
                continue
            rows = [[r["step"], fmt(r["acc"]), ci(r["ci95"]), f"{fmt(r['correct'])}/{fmt(r['count'])}", fmt(r["loss"])] for r in d["evals"]]
            out += [f"### {k.upper()}", ""] + _table(["step", "accuracy", "95% interval", "correct/masked", "loss"], rows)
            b, fin = d["best"], d["final"]
            out += [f"- Best: {fmt(b['acc'])} {ci(b['ci95'])} at step {b['step']}; final: {fmt(fin['acc'])} {ci(fin['ci95'])} at step {fin['step']}.",
                    f"- Across the {d['evaluations']} evaluations: {_dist(d['distribution'])}.", ""]
    else:
        rows = [[r["epoch"], r["step"], fmt(r["mrr@10"]), ci(r["mrr@10_ci95"]), fmt(r["recall@1"]), ci(r["recall@1_ci95"]),
                 r["pairs"]] for r in V["evals"]]
        out += _table(["epoch", "step", "MRR@10", "95% interval", "Recall@1", "95% interval", "queries"], rows)
        for key in ("mrr@10", "recall@1"):
            d = V.get(key)
            if d:
                out += [f"- {key}: best {fmt(d['best'][key])} at step {d['best']['step']}, final {fmt(d['final'][key])}; "
                        f"across the {d['evaluations']} evaluations: {_dist(d['distribution'])}."]
        out.append("")
    return out + ["![held-out](heldout.png)", ""]


def stability_lines(f: dict) -> list[str]:
    """Markdown lines of the stability section."""
    S = f["stability"]
    out = ["## Stability", "", f"Source: {S['source']}.", "",
           f"- Steps logged: {S['steps_logged']} (last step {S['last_step']}); unreadable lines: {S['unreadable_lines']}."]
    if "skipped" in S:
        sk = S["skipped"]
        if "share" in sk:
            steps = ", ".join(map(str, sk["steps"])) or "none"
            out.append(f"- Steps skipped for a non-finite loss or gradient: {sk['count']} of {S['steps_logged']} "
                       f"({fmt(100 * (sk['share'] or 0))}%); steps: {steps}. Trainer's running count at the last step: {fmt(sk['trainer_count_at_last_step'])}.")
        else:
            out.append(f"- Steps skipped for a non-finite loss: {fmt(sk['count'])}.")
    if "grad_norm" in S:
        g = S["grad_norm"]
        sm = g["summary"] or {}
        out.append(f"- Gradient norm (before clipping): mean {fmt(sm.get('mean'))} ± {fmt(sm.get('std'))}, median {fmt(sm.get('median'))}, "
                   f"max {fmt(sm.get('max'))} at step {sm.get('max_step', '—')}. Spikes ({g['spike_rule']}): {g['spikes']}"
                   + (" at steps " + ", ".join(str(s["step"]) for s in g["spike_steps"]) if g["spike_steps"] else "") + ".")
    if "variance" in S:
        v = S["variance"]
        out.append(f"- Total-loss variance, steps {v['early'][0]}–{v['early'][1]}: {fmt(v['early_var'])}; steps {v['late'][0]}–{v['late'][1]}: "
                   f"{fmt(v['late_var'])}; reduction 1 − late/early = {fmt(v['reduction'])}.")
    if "interruptions" in S:
        i = S["interruptions"]
        ev = "; ".join(f"resumed from step {e['resumed_from_step']} (last step logged before: {fmt(e['last_step_logged_before'])}, "
                       f"gap {fmt(e['gap_s'])} s)" for e in i["events"])
        out.append(f"- Interruptions (resume records): {i['resumes']}" + (f": {ev}" if ev else "") + ".")
    if "checkpoints" in S:
        c = S["checkpoints"]
        failed = ", ".join(map(str, c["failed_steps"])) or "none"
        out.append(f"- Checkpoint writes: {c['succeeded']} of {c['attempted']} succeeded; failed at steps: {failed}.")
    out.append("")
    return out + (["![gradient norm](grad_norm.png)", ""] if "grad_norm" in S else [])


def _phases(name: str, p: dict) -> str:
    if not p:
        return f"- {name}: not logged."
    if p["constant"]:
        return f"- {name}: constant at {fmt(p['peak'])} over steps {p['first_step']}–{p['final_step']}."
    return (f"- {name}: {fmt(p['first'])} at step {p['first_step']}, rising over {p['warmup_steps']} steps to its peak "
            f"{fmt(p['peak'])} at step {p['peak_step']} (decreases during the rise: {p['warmup_decreases']}); "
            f"at the peak for {p['plateau_steps']} step(s); then {p['decay_steps']} steps down to {fmt(p['final'])} at step "
            f"{p['final_step']} (final/peak {fmt(p['final_over_peak'])}; increases after the peak: {p['decay_increases']}).")


def schedule_lines(f: dict) -> list[str]:
    """Markdown lines of the schedules section."""
    S = f["schedules"]
    out = ["## Schedules (as logged)", "", f"Source: {S['source']}.", "", _phases("Learning rate", S.get("lr"))]
    if "mu" in S:
        out.append(_phases("μ (MNM weight)", S["mu"]))
    if "loss_share" in S:
        sh = S["loss_share"]
        out += ["", f"Share of the total loss ({sh['definition']}; largest |total − sum of parts| in the log: {fmt(sh['max_abs_residual'])}):", ""]
        rows = [[w["name"], f"{w['first']}–{w['last']}"] + [fmt(w[k]["mean"]) for k in ("mlm", "sbo", "mu_mnm")] for w in sh["windows"]]
        out += _table(["window", "steps", "MLM", "SBO", "μ·MNM"], rows)
    return out + ["", "![schedules](schedules.png)", ""]


def efficiency_lines(f: dict) -> list[str]:
    """Markdown lines of the efficiency section."""
    E = f["efficiency"]
    out = ["## Efficiency", "", f"Source: {E['source']}.", ""]
    mf = E.get("model_file")
    size = f"; model file: {mf['parameters']:,} parameters, {mf['bytes']:,} bytes" if mf else ""
    if "steps_per_s" in E:
        hw = E.get("hardware") or {}
        out += [f"- Compute time in steps: {fmt(E['compute_s'])} s; {fmt(E['steps_per_s'])} steps/s; {fmt(E['tokens_per_s'])} tokens/s "
                f"(median step {fmt(E['tokens_per_s_median_step'])} tokens/s).",
                f"- Wall time from the start record to the last record: {fmt(E['wall_s'])} s; held-out evaluations: {fmt(E['eval_s'])} s "
                f"over {E['evaluations_timed']}.",
                f"- Peak memory: {fmt(E['peak_memory_mib'])} MiB ({E['memory_kind']}).",
                f"- Parameters (config.json): {fmt(E['parameters'])}{size}.",
                f"- Hardware: device {E['device']}, {fmt(E['world_size'])} process(es); "
                + ", ".join(f"{k} {v}" for k, v in hw.items()) + ".", ""]
        rows = [[p["name"], f"{p['first']}–{p['last']}", fmt(p["compute_s"])] for p in E.get("phases", [])]
        out += _table(["window", "steps", "compute s"], rows) + ["![throughput](throughput.png)", ""]
    else:
        out += [f"- End-to-end time: {fmt(E['end_to_end_s'])} s; {fmt(E['steps_per_s_end_to_end'])} steps/s end to end{size}.", ""]
    return out


def render_markdown(rep: Report, title: str = "") -> str:
    """The report as Markdown; plots are referenced by their file names in the same folder."""
    f = rep.figures
    out = [f"# Training report: {title or rep.run}", "",
           f"Run folder: `{rep.run}` ({rep.kind} run). Every figure below is computed from that folder's metrics.jsonl "
           f"({'config.json' if rep.kind == 'pretrain' else 'summary.json'} and model/ for sizes) by `graphmer report`.", ""]
    out += _loss(f) + _validation(f, rep.kind) + stability_lines(f) + schedule_lines(f) + efficiency_lines(f)
    if rep.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in rep.notes] + [""]
    return "\n".join(out)


def write_text(path, text: str) -> None:
    """Write text atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(run_dir, out_dir, opts=None, log_scale: bool = False, title: str = ""):
    """REPORT.md, report.json and the PNG plots of run_dir into out_dir; returns the Report."""
    opts = opts or ReportOptions()
    out = Path(out_dir)
    rep = build_report(run_dir, opts)
    write_plots(load_run(run_dir), rep.figures, rep.kind, out, opts.smooth, log_scale)
    write_text(out / "report.json", json.dumps({"run": rep.run, "kind": rep.kind, "figures": rep.figures, "notes": list(rep.notes)}, indent=1) + "\n")
    write_text(out / "REPORT.md", render_markdown(rep, title))
    return rep


def render_seeds(rep: Report) -> str:
    """Markdown of a multi-seed summary: one row per seed, then mean ± std across seeds."""
    f = rep.figures
    keys = list(f["across_seeds"])
    out = [f"# Training report across seeds: {rep.run}", "", f"Source: {f['source']}; data seed {f['split_seed']}.", ""]
    rows = [[r["seed"]] + [fmt(r.get(k)) for k in keys] + [f"[seed-{r['seed']}/REPORT.md](seed-{r['seed']}/REPORT.md)"] for r in f["seeds"]]
    out += _table(["seed"] + keys + ["report"], rows)
    rows = [[k, a["n"], fmt(a["mean"]), fmt(a["std"])] for k, a in f["across_seeds"].items()]
    out += ["Across seeds:", ""] + _table(["figure", "seeds", "mean", "std (n − 1)"], rows)
    out += ["![loss by seed](loss_by_seed.png)", "", "## Notes", ""] + [f"- {n}" for n in rep.notes] + [""]
    return "\n".join(out)


def write_seed_report(parent, out_dir, opts=None, log_scale: bool = False):
    """REPORT.md across seeds, report.json, loss_by_seed.png and one full report per seed (out_dir/seed-N/)."""
    opts = opts or ReportOptions()
    out = Path(out_dir)
    rep, per_seed = seed_report(parent, opts)
    for row in rep.figures["seeds"]:
        write_report(row["run"], out / f"seed-{row['seed']}", opts, log_scale)
    write_seed_plot(seed_logs(parent), out, opts.smooth)
    write_text(out / "report.json", json.dumps({"run": rep.run, "kind": rep.kind, "figures": rep.figures, "notes": list(rep.notes)}, indent=1) + "\n")
    write_text(out / "REPORT.md", render_seeds(rep))
    return rep
