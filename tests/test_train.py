"""Training: the loss falls, resume is exact, non-finite steps are skipped, DDP trains."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from safetensors.torch import load_file

from conftest import write_tree
from graphmer.model.runstate import RunStateError
from graphmer.model.train import TrainConfig, lr_at, mu_at, train

VOLATILE = {"time", "step_time", "tokens_per_s", "memory_mb"}


def synthetic_corpus(root: Path, n_files: int = 24) -> Path:
    """A small package whose functions call, inherit, override and raise across files."""
    files = {"pkg/__init__.py": ""}
    for i in range(n_files):
        prev = f"from pkg.m{i - 1} import Store{i - 1}\n" if i else ""
        base = f"Store{i - 1}" if i else "object"
        body = "".join(
            f"    def load_{j}(self, key, default=None):\n"
            f"        value = self.fetch_{(j + 1) % 6}(key)\n"
            f"        if value is None:\n"
            f"            raise KeyError(key)\n"
            f"        return self.save_{j}(value) or default\n\n"
            f"    def save_{j}(self, value):\n"
            f"        return len(str(value)) + {j}\n\n"
            f"    def fetch_{j}(self, key):\n"
            f"        return dict(key=key).get(key)\n\n"
            for j in range(6)
        )
        files[f"pkg/m{i}.py"] = f'{prev}\n\nclass Store{i}({base}):\n    """Store number {i}."""\n\n{body}'
    return write_tree(root, files)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return synthetic_corpus(tmp_path_factory.mktemp("corpus") / "src")


BASE = TrainConfig(preset="tiny", steps=30, batch_size=8, lr=3e-3, vocab_size=400, valid_fraction=0.2,
                   eval_every=10, eval_samples=32, checkpoint_every=10, keep_checkpoints=2, threads=1)


def steps_of(run: Path) -> list[dict]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in recs if r["kind"] in ("step", "eval")]


def test_schedules():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-5, mu=1.0, mu_ramp_steps=50)
    assert lr_at(cfg, 0, 1e-3) == pytest.approx(1e-4)
    assert lr_at(cfg, 9, 1e-3) == pytest.approx(1e-3)
    assert lr_at(cfg, 100, 1e-3) == pytest.approx(1e-5)
    assert lr_at(replace(cfg, schedule="linear"), 55, 1e-3) == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5)
    assert (mu_at(cfg, 0), mu_at(cfg, 25), mu_at(cfg, 50)) == (pytest.approx(0.001), pytest.approx(0.5005), 1.0)


def test_thirty_steps_make_the_loss_fall(corpus, tmp_path):
    result = train(BASE, tmp_path / "run", corpus=[str(corpus)])
    steps = [r for r in steps_of(tmp_path / "run") if r["kind"] == "step"]
    assert len(steps) == 30 and result.skipped_steps == 0
    first = sum(r["loss"] for r in steps[:5]) / 5
    last = sum(r["loss"] for r in steps[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    evals = [r for r in steps_of(tmp_path / "run") if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [10, 20, 30] and evals[-1]["mlm_count"] > 100
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-20", "step-30"]


def test_resume_reproduces_the_uninterrupted_run(corpus, tmp_path):
    cfg = replace(BASE, steps=20)
    train(cfg, tmp_path / "whole", corpus=[str(corpus)])

    class Stop(Exception):
        pass

    def stop_at_13(event):
        if event.get("kind") == "step" and event["step"] == 13:
            raise Stop

    with pytest.raises(Stop):
        train(cfg, tmp_path / "cut", corpus=[str(corpus)], on_event=stop_at_13)
    with pytest.raises(RunStateError, match="--resume"):
        train(cfg, tmp_path / "cut", corpus=[str(corpus)])
    with pytest.raises(RunStateError, match="same training options"):
        train(replace(cfg, lr=1e-2), tmp_path / "cut", corpus=[str(corpus)], resume=True)
    train(cfg, tmp_path / "cut", corpus=[str(corpus)], resume=True)
    assert steps_of(tmp_path / "cut") == steps_of(tmp_path / "whole")
    a = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "whole" / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_non_finite_loss_is_skipped_and_weights_unchanged(corpus, tmp_path):
    cfg = replace(BASE, steps=6, checkpoint_every=5, eval_every=100, inject_inf_at=(5,))
    result = train(cfg, tmp_path / "run", corpus=[str(corpus)])
    assert result.skipped_steps == 1
    recs = {r["step"]: r for r in steps_of(tmp_path / "run") if r["kind"] == "step"}
    assert (recs[6]["skipped"], recs[6]["skipped_total"], recs[5]["skipped"]) == (True, 1, False)
    before = load_file(str(tmp_path / "run" / "checkpoints" / "step-5" / "model.safetensors"))
    after = load_file(str(tmp_path / "run" / "checkpoints" / "step-6" / "model.safetensors"))
    assert all((before[k] == after[k]).all() for k in before)  # the skipped step changed nothing


def test_two_process_gloo_ddp_trains(corpus, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29731",
           "-m", "graphmer.cli.main", "train", str(corpus), "--preset", "tiny", "--steps", "6", "--batch-size", "4",
           "--eval-every", "3", "--eval-samples", "16", "--checkpoint-every", "3", "--out", str(out), "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert recs[0]["kind"] == "start" and recs[0]["world_size"] == 2
    steps = [r for r in recs if r["kind"] == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    assert (out / "model" / "model.safetensors").exists()


def test_train_cli_errors(corpus, tmp_path):
    from click.testing import CliRunner

    from graphmer.cli.main import cli

    r = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "give corpus PATHS or --index" in r.output
    r = CliRunner().invoke(cli, ["train", str(corpus), "--out", str(tmp_path / "y"), "--resume"])
    assert r.exit_code == 1 and "nothing to resume" in r.output


def test_eval_reports_link_prediction_beside_baselines(corpus, tmp_path):
    from click.testing import CliRunner

    from graphmer.cli.main import cli

    cfg = replace(BASE, steps=8, eval_every=8, checkpoint_every=8)
    train(cfg, tmp_path / "a", corpus=[str(corpus)])
    train(replace(cfg, use_hgat=False), tmp_path / "b", corpus=[str(corpus)])
    r = CliRunner().invoke(cli, ["eval", str(tmp_path / "a"), "--ablation", f"no-hgat={tmp_path / 'b'}", "--queries", "20", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    systems = res["link_prediction"]["systems"]
    assert set(systems) == {"model", "no-hgat", "most_frequent", "subtoken_overlap"}
    assert all(s["queries"] == systems["model"]["queries"] > 0 for s in systems.values())
    assert all(0 < s["mrr"] <= 1 for s in systems.values())
    assert res["held_out"]["mlm_count"] > 0
    r = CliRunner().invoke(cli, ["eval", str(tmp_path / "a")])
    assert r.exit_code == 0 and "most_frequent" in r.output
    r = CliRunner().invoke(cli, ["eval", str(tmp_path / "a"), "--ablation", "oops"])
    assert r.exit_code == 2


def test_corrupt_training_checkpoint_is_refused(corpus, tmp_path):
    cfg = replace(BASE, steps=4, checkpoint_every=2, eval_every=100)
    train(cfg, tmp_path / "run", corpus=[str(corpus)])
    (tmp_path / "run" / "checkpoints" / "step-4" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(RunStateError, match="step-4 is corrupt .*delete it to resume from an earlier one"):
        train(replace(cfg, steps=4), tmp_path / "run", corpus=[str(corpus)], resume=True)


def test_link_candidates_are_the_relations_range_over_train_and_held_out():
    from graphmer.model.evaluation import candidate_pools
    from graphmer.model.kg_samples import Head, Sample

    def sample(*triples):
        return Sample(ids=(1, 5, 2), word_start=(True, True, True), heads=(Head(1, 1, triples),), symbol_id=0, path="x.py")

    train_s = [sample((3, (7, 8)), (3, (7, 8)), (4, (9,))), sample((3, (10,)))]
    valid_s = [sample((3, (11, 12)))]  # a tail only the held-out files have
    pools = candidate_pools(train_s, valid_s)
    assert pools[3] == [(7, 8), (10,), (11, 12)]  # most frequent first, held-out tails included
    assert pools[4] == [(9,)]
    assert candidate_pools(train_s, valid_s, max_candidates=1)[3] == [(7, 8)]
