"""PNG plots of a run's logs with matplotlib (Agg backend, headless), written atomically."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from graphmer.model.reports.stats import trailing_mean
from graphmer.model.run_log import RunLog

DPI = 80  # 8x4.5 in -> 640x360 px: readable, well under 200 KB per file


def _plt():
    import matplotlib  # lazy: matplotlib loads only when plots are drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib, only when a plot is drawn

    return plt


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=DPI, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def _loss_plot(log: RunLog, keys: dict[str, str], smooth: int, log_scale: bool, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    steps = log.column("step")
    skipped = log.column("skipped") == 1
    for i, (name, key) in enumerate(keys.items()):
        if not log.has(key):
            continue
        v = np.where(skipped, np.nan, log.column(key))
        c = f"C{i}"
        ax.plot(steps, v, color=c, alpha=0.25, lw=0.8)
        ax.plot(steps, trailing_mean(v, smooth), color=c, lw=1.8, label=f"{name} (mean of last {smooth})")
    if skipped.any():
        for s in steps[skipped]:
            ax.axvline(s, color="red", lw=0.6, alpha=0.5)
        ax.plot([], [], color="red", lw=0.6, label=f"skipped step ({int(skipped.sum())})")
    if log_scale:
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="training loss" + (" (log scale)" if log_scale else ""),
           title="Training loss per step: raw (faint) and smoothed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out


def _accuracy_plot(report: dict, kind: str, path: Path) -> Path | None:
    plt = _plt()
    val = report["validation"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    drawn = False
    if kind == "pretrain":
        for i, k in enumerate(("mlm", "mnm")):
            rows = val.get(k, {}).get("evals", [])
            if not rows:
                continue
            drawn = True
            s = np.array([r["step"] for r in rows])
            a = np.array([r["acc"] for r in rows])
            ax.plot(s, a, marker="o", color=f"C{i}", label=f"held-out {k.upper()} accuracy")
            ci = [r["ci95"] for r in rows]
            if all(c is not None for c in ci):
                ax.fill_between(s, [c[0] for c in ci], [c[1] for c in ci], color=f"C{i}", alpha=0.25,
                                label=f"{k.upper()} 95% Wilson interval")
        ax.set(xlabel="step", ylabel="accuracy (share of masked tokens)")
    else:
        rows = val.get("evals", [])
        for i, key in enumerate(("mrr@10", "recall@1")):
            if not rows:
                continue
            drawn = True
            s = np.array([r["step"] for r in rows])
            ax.plot(s, [r[key] for r in rows], marker="o", color=f"C{i}", label=f"held-out {key}")
            ci = [r.get(f"{key}_ci95") for r in rows]
            if all(c is not None for c in ci):
                ax.fill_between(s, [c[0] for c in ci], [c[1] for c in ci], color=f"C{i}", alpha=0.25, label=f"{key} 95% interval")
        ax.set(xlabel="step (end of each epoch; 0 = before training)", ylabel="share of held-out queries / MRR")
    if not drawn:
        plt.close(fig)
        return None
    ax.set_title("Held-out evaluation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out


def _series_plot(log: RunLog, keys: list[tuple[str, str]], title: str, path: Path, spikes: list[int] = ()) -> Path | None:
    present = [(k, lab) for k, lab in keys if log.has(k)]
    if not present:
        return None
    plt = _plt()
    fig, axes = plt.subplots(len(present), 1, figsize=(8, 2.6 * len(present)), sharex=True, squeeze=False)
    steps = log.column("step")
    for ax, (k, lab) in zip(axes[:, 0], present):
        ax.plot(steps, log.column(k), lw=1.0)
        ax.set_ylabel(lab)
        ax.grid(alpha=0.3)
        if k == "grad_norm" and len(spikes):
            ax.scatter(spikes, [log.column(k)[steps == s][0] for s in spikes], color="red", s=14, zorder=3,
                       label=f"spike ({len(spikes)})")
            ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel("step")
    axes[0, 0].set_title(title)
    out = _save(fig, path)
    plt.close(fig)
    return out


def write_plots(log: RunLog, report: dict, kind: str, out_dir: Path, smooth: int = 50, log_scale: bool = False) -> list[Path]:
    """All plots of one run into out_dir; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = {"total": "loss", "MLM": "mlm_loss", "SBO": "sbo_loss", "MNM": "mnm_loss"} if kind == "pretrain" else {"InfoNCE": "loss"}
    files = [_loss_plot(log, keys, smooth, log_scale, out_dir / "loss.png"),
             _accuracy_plot(report, kind, out_dir / "heldout.png")]
    spikes = [s["step"] for s in report.get("stability", {}).get("grad_norm", {}).get("spike_steps", [])]
    files.append(_series_plot(log, [("grad_norm", "gradient norm (before clipping)")], "Gradient norm per step",
                              out_dir / "grad_norm.png", spikes))
    files.append(_series_plot(log, [("lr", "learning rate (logged)"), ("mu", "μ (MNM weight, logged)")],
                              "Schedules as logged", out_dir / "schedules.png"))
    files.append(_series_plot(log, [("tokens_per_s", "tokens/s"), ("memory_mb", "peak memory (MiB)")],
                              "Throughput and memory per step", out_dir / "throughput.png"))
    return [f for f in files if f is not None]


def write_seed_plot(logs: list[tuple[int, RunLog]], out_dir: Path, smooth: int = 50) -> Path:
    """Smoothed total loss of every seed on one axis."""
    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (seed, log) in enumerate(logs):
        v = np.where(log.column("skipped") == 1, np.nan, log.column("loss"))
        ax.plot(log.column("step"), trailing_mean(v, smooth), color=f"C{i}", label=f"seed {seed}")
    ax.set(xlabel="step", ylabel=f"training loss (mean of last {smooth})", title="Training loss by seed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out = _save(fig, out_dir / "loss_by_seed.png")
    plt.close(fig)
    return out
