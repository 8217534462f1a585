"""graphmer report on synthetic metrics.jsonl files with known statistics, and its CLI."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from graphmer.cli.main import cli
from graphmer.model.reports.report import ReportOptions, build_report
from graphmer.model.reports.markdown import render_markdown, write_report
from graphmer.model.reports.stats import Window, default_windows, schedule_phases, wilson
from graphmer.model.run_log import RunLogError


def write_run(root: Path, steps: list[dict], evals=(), checkpoints=(), resume_at=None, resume_gap=0.0) -> Path:
    """A pretraining run folder: config.json and metrics.jsonl (start, steps, evals, checkpoints, a resume)."""
    root.mkdir(parents=True)
    cfg = {"format": "graphmer-run", "version": 1, "parameters": 1234,
           "train": {"preset": "tiny", "steps": len(steps), "lr": 1e-3, "exclude": []},
           "encoder": {}, "data": {"valid_files": 2}}
    (root / "config.json").write_text(json.dumps(cfg))
    t = 1000.0
    lines = [{"kind": "start", "step": 0, "time": t, "device": "cpu", "world_size": 1, "parameters": 1234,
              "hardware": {"cpu": "x86_64", "cpus": 2}}]
    ev = {e["step"]: e for e in evals}
    ck = {c["step"]: c for c in checkpoints}
    for rec in steps:
        s = rec["step"]
        t += 1.0
        base = {"kind": "step", "mlm_loss": rec["loss"] / 2, "sbo_loss": 0.0, "mnm_loss": rec["loss"] / 2, "mu": 1.0,
                "lr": 1e-3, "grad_norm": 1.0, "skipped": False, "step_time": 0.5, "tokens": 100, "memory_mb": 10.0, "time": t}
        lines.append({**base, **rec})
        if s in ev:
            t += 0.25
            lines.append({"kind": "eval", "time": t, **ev[s]})
        if s in ck:
            lines.append({"kind": "checkpoint", "time": t, **ck[s]})
        if s == resume_at:
            t += resume_gap
            lines.append({"kind": "resume", "step": s, "time": t, "device": "cpu", "world_size": 1, "parameters": 1234})
    (root / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


def linear_steps(n: int = 100) -> list[dict]:
    return [{"step": s, "loss": float(n + 1 - s)} for s in range(1, n + 1)]


def test_constant_loss_has_zero_spread(tmp_path):
    run = write_run(tmp_path / "c", [{"step": s, "loss": 2.0} for s in range(1, 101)])
    f = build_report(run).figures
    t = f["loss"]["components"]["total"]
    assert (t["n"], t["mean"], t["std"], t["median"], t["min"], t["max"], t["final_raw"], t["final_smoothed"]) == (100, 2.0, 0.0, 2.0, 2.0, 2.0, 2.0, 2.0)
    assert (t["min_step"], t["max_step"], t["final_step"]) == (1, 1, 100)
    assert f["stability"]["variance"]["reduction"] is None  # 0/0: no variance to reduce, not a number
    assert f["schedules"]["lr"]["constant"] is True


def test_linear_loss_exact_figures_in_markdown(tmp_path):
    run = write_run(tmp_path / "lin", linear_steps())
    rep = build_report(run)
    t = rep.figures["loss"]["components"]["total"]
    assert t["mean"] == 50.5 and t["median"] == 50.5
    assert t["std"] == pytest.approx(math.sqrt(sum((x - 50.5) ** 2 for x in range(1, 101)) / 99))
    assert (t["min"], t["min_step"], t["max"], t["max_step"]) == (1.0, 100, 100.0, 1)
    assert t["final_smoothed"] == 25.5  # mean of 1..50, the last 50 steps
    wins = rep.figures["loss"]["windows"]
    assert [(w["name"], w["first"], w["last"], w["steps"]) for w in wins] == [("first 1%", 1, 1, 1), ("middle", 2, 90, 89), ("last 10%", 91, 100, 10)]
    assert [w["total"]["mean"] for w in wins] == [100.0, 55.0, 5.5]
    md = render_markdown(rep)
    assert "| total | 100 | 50.5 ± 29.01 | 50.5 | 1 (step 100) | 100 (step 1) | 1 (step 100) | 25.5 |" in md
    assert "| last 10% | 91–100 | 10 | 5.5 ± 3.028 | 2.75 ± 1.514 | 0 ± 0 | 2.75 ± 1.514 |" in md
    v = rep.figures["stability"]["variance"]
    assert v["early_var"] == pytest.approx(v["late_var"]) and v["reduction"] == pytest.approx(0.0)  # a line varies alike everywhere


def test_user_windows_and_smoothing(tmp_path):
    run = write_run(tmp_path / "w", linear_steps())
    rep = build_report(run, ReportOptions(windows=(Window("1-10", 1, 10), Window("51-60", 51, 60)), smooth=10))
    assert [w["total"]["mean"] for w in rep.figures["loss"]["windows"]] == [95.5, 45.5]
    assert rep.figures["loss"]["components"]["total"]["final_smoothed"] == 5.5


def test_injected_nan_steps_are_counted_and_left_out(tmp_path):
    steps = [{"step": s, "loss": 3.0} for s in range(1, 51)]
    for s in (10, 20):
        steps[s - 1] = {"step": s, "loss": float("nan"), "grad_norm": float("nan"), "skipped": True, "skipped_total": s // 10}
    run = tmp_path / "nan"
    write_run(run, steps)
    rep = build_report(run)
    sk = rep.figures["stability"]["skipped"]
    assert (sk["count"], sk["steps"], sk["share"]) == (2, [10, 20], 0.04)
    assert rep.figures["loss"]["components"]["total"]["n"] == 48
    assert "Steps skipped for a non-finite loss or gradient: 2 of 50 (4%); steps: 10, 20." in render_markdown(rep)
    assert json.loads(json.dumps(rep.figures, allow_nan=False))  # strict JSON: no NaN leaks out


def test_resume_gap_failed_checkpoint_and_spike(tmp_path):
    steps = [{"step": s, "loss": 1.0, "grad_norm": 10.0 if s == 60 else 1.0} for s in range(1, 101)]
    cks = [{"step": 25, "ok": True}, {"step": 50, "ok": False}, {"step": 75, "ok": True}]
    run = write_run(tmp_path / "r", steps, checkpoints=cks, resume_at=50, resume_gap=3600.0)
    f = build_report(run).figures["stability"]
    assert f["checkpoints"] == {"attempted": 3, "succeeded": 2, "failed_steps": [50]}
    ev = f["interruptions"]["events"]
    assert f["interruptions"]["resumes"] == 1 and ev[0]["resumed_from_step"] == 50 and ev[0]["last_step_logged_before"] == 50
    assert ev[0]["gap_s"] == pytest.approx(3600.0)
    assert f["grad_norm"]["spikes"] == 1 and f["grad_norm"]["spike_steps"][0] == {"step": 60, "norm": 10.0, "median": 1.0}
    md = render_markdown(build_report(run))
    assert "Checkpoint writes: 2 of 3 succeeded; failed at steps: 50." in md
    assert "Interruptions (resume records): 1: resumed from step 50 (last step logged before: 50, gap 3600 s)." in md


def test_held_out_intervals_best_final_and_missing_counts(tmp_path):
    evals = [{"step": 10, "mlm_acc": 0.5, "mlm_correct": 50, "mlm_count": 100, "mnm_acc": 0.25},
             {"step": 20, "mlm_acc": 0.75, "mlm_correct": 75, "mlm_count": 100, "mnm_acc": 0.5},
             {"step": 30, "mlm_acc": 0.6, "mlm_correct": 60, "mlm_count": 100, "mnm_acc": 0.4}]
    run = write_run(tmp_path / "e", [{"step": s, "loss": 1.0} for s in range(1, 31)], evals=evals)
    rep = build_report(run)
    mlm = rep.figures["validation"]["mlm"]
    assert mlm["evals"][0]["ci95"] == pytest.approx([0.40383, 0.59617], abs=1e-5)
    assert (mlm["best"]["step"], mlm["best"]["acc"], mlm["final"]["step"]) == (20, 0.75, 30)
    assert mlm["distribution"]["mean"] == pytest.approx(0.6166667) and mlm["distribution"]["median"] == 0.6
    mnm = rep.figures["validation"]["mnm"]
    assert all(r["ci95"] is None for r in mnm["evals"])  # no counts logged: no interval invented
    assert any("lack mnm_count" in n for n in rep.notes)
    assert "| 10 | 0.5 | [0.4038, 0.5962] | 50/100 | — |" in render_markdown(rep)


def test_schedules_read_from_logged_values(tmp_path):
    lr = [1e-3 * s / 10 if s <= 10 else 1e-3 * (100 - s) / 90 for s in range(1, 101)]
    mu = [0.001 + (1 - 0.001) * min(s - 1, 49) / 49 for s in range(1, 101)]
    run = write_run(tmp_path / "s", [{"step": s, "loss": 1.0, "lr": lr[s - 1], "mu": mu[s - 1]} for s in range(1, 101)])
    sch = build_report(run).figures["schedules"]
    assert (sch["lr"]["warmup_steps"], sch["lr"]["peak_step"], sch["lr"]["decay_steps"], sch["lr"]["final"]) == (9, 10, 90, 0.0)
    assert (sch["lr"]["warmup_decreases"], sch["lr"]["decay_increases"]) == (0, 0)
    assert (sch["mu"]["first"], sch["mu"]["peak_step"], sch["mu"]["final"]) == (0.001, 50, 1.0)
    share = sch["loss_share"]["windows"][-1]
    assert (share["mlm"]["mean"], share["sbo"]["mean"], share["mu_mnm"]["mean"]) == (0.5, 0.0, 0.5)


def test_stat_helpers_known_answers():
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert [(w.first, w.last) for w in default_windows(50)] == [(1, 1), (2, 45), (46, 50)]
    assert schedule_phases(np.arange(1, 4), np.array([1.0, 1.0, 1.0]))["constant"] is True


def test_efficiency_figures(tmp_path):
    run = write_run(tmp_path / "eff", [{"step": s, "loss": 1.0, "memory_mb": float(s)} for s in range(1, 11)])
    e = build_report(run).figures["efficiency"]
    assert (e["steps_per_s"], e["tokens_per_s"], e["compute_s"], e["peak_memory_mib"], e["parameters"]) == (2.0, 200.0, 5.0, 10.0, 1234)
    assert e["wall_s"] == 10.0 and e["memory_kind"].startswith("peak resident")


def test_write_report_markdown_and_plots(tmp_path):
    run = write_run(tmp_path / "p", linear_steps(), evals=[{"step": 50, "mlm_acc": 0.5, "mlm_correct": 6, "mlm_count": 12}])
    write_report(run, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["REPORT.md", "grad_norm.png", "heldout.png", "loss.png", "report.json", "schedules.png", "throughput.png"]
    for png in (tmp_path / "out").glob("*.png"):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 200_000
    md = (tmp_path / "out" / "REPORT.md").read_text()
    assert not re.search(r"\b\d+(\.\d+)?/10\b|grade|excellent|outstanding|A\+|✅", md, re.IGNORECASE)


def test_report_cli_json_and_errors(tmp_path):
    run = write_run(tmp_path / "cli", linear_steps())
    r = CliRunner().invoke(cli, ["report", str(run), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["figures"]["loss"]["components"]["total"]["mean"] == 50.5
    r = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert r.exit_code == 1 and "has no metrics.jsonl" in r.output
    r = CliRunner().invoke(cli, ["report", str(run), "--window", "9-x"])
    assert r.exit_code == 2 and "FIRST-LAST" in r.output
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "metrics.jsonl").write_text("{}\n")
    (tmp_path / "foreign" / "config.json").write_text('{"format": "other"}')
    with pytest.raises(RunLogError, match="not a graphmer run config"):
        build_report(tmp_path / "foreign")
