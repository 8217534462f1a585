"""Paired tests with known answers; graphmer compare, --seeds and card on tiny real and synthetic runs."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from graphmer.cli.main import cli
from graphmer.model.reports.card import render_card
from graphmer.model.reports.compare import CompareError, compare_runs
from graphmer.model.multiseed import parse_seeds, train_seeds
from graphmer.model.reports.seeds import seed_report
from graphmer.model.reports.sigtest import MCNEMAR_NAME, bootstrap_mean, mcnemar_exact, paired_bootstrap, permutation_test
from test_train import BASE, synthetic_corpus


def test_identical_runs_show_no_difference():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 500).astype(float)
    clusters = np.repeat(np.arange(100), 5)
    assert paired_bootstrap(a, a.copy(), clusters, 2000) == (0.0, 0.0)
    assert permutation_test(a, a.copy(), clusters, 2000) == 1.0
    assert mcnemar_exact(a, a.copy()) == (1.0, 0, 0)


def test_planted_difference_is_detected_and_interval_covers_it():
    rng = np.random.default_rng(2)
    a = (rng.random(2000) < 0.5).astype(float)
    b = np.where(rng.random(2000) < 0.3, 1.0, a)  # B fixes ~30% of A's errors: true gain ~0.15
    clusters = np.repeat(np.arange(400), 5)
    lo, hi = paired_bootstrap(a, b, clusters, 2000)
    assert 0 < lo < b.mean() - a.mean() < hi
    assert permutation_test(a, b, clusters, 2000) == pytest.approx(1 / 2001)  # no sign flip reaches the observed gain
    p, n01, n10 = mcnemar_exact(a, b)
    assert n10 == 0 and n01 > 100 and p < 1e-30


def test_mcnemar_exact_small_counts():
    # 10 discordant pairs all one way: p = 2 * 0.5**10; 9 vs 1: p = 2 * (1 + 10) / 1024
    a = np.array([0] * 10 + [1] * 5)
    assert mcnemar_exact(a, np.array([1] * 10 + [1] * 5))[0] == pytest.approx(2 / 1024)
    a, b = np.array([0] * 9 + [1]), np.array([1] * 9 + [0])
    assert mcnemar_exact(a, b) == (pytest.approx(22 / 1024), 9, 1)
    lo, hi = bootstrap_mean(np.ones(50), 500)
    assert (lo, hi) == (1.0, 1.0)


def write_retrieval_run(root: Path, ranks: list[int], queries_sha1: str = "q") -> Path:
    root.mkdir(parents=True)
    n = len(ranks)
    rr = np.where(np.array(ranks) <= 10, 1 / np.array(ranks), 0.0)
    recs = [{"step": s, "epoch": 1, "loss": 1.0 / s, "lr": 1e-4} for s in range(1, 11)]
    recs.append({"epoch": 1, "step": 10, "mrr@10": float(rr.mean()), "recall@1": float(np.mean(np.array(ranks) == 1)),
                 "pairs": n, "ranks": ranks, "queries_sha1": queries_sha1})
    (root / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (root / "summary.json").write_text(json.dumps({"pairs_train": 100, "pairs_valid": n, "steps": 10, "seconds": 20.0,
                                                   "config": {"init": "minilm", "epochs": 1, "exclude": []}}))
    return root


def test_compare_retrieval_runs_on_logged_ranks(tmp_path):
    a = write_retrieval_run(tmp_path / "a", [1, 2, 5, 20] * 10)
    same = write_retrieval_run(tmp_path / "same", [1, 2, 5, 20] * 10)
    better = write_retrieval_run(tmp_path / "better", [1, 1, 1, 20] * 10)
    c = compare_runs([str(a), str(same), str(better)], tmp_path / "out", resamples=2000)
    d = {x.metric: x for x in c.differences}
    assert d["recall@1: same − a"].p_value == 1.0 and d["recall@1: same − a"].diff == 0.0
    r1 = d["recall@1: better − a"]
    assert r1.diff == pytest.approx(0.5) and r1.test == MCNEMAR_NAME and r1.p_value == pytest.approx(2 * 0.5**20)
    mrr = d["mrr@10: better − a"]
    assert mrr.diff == pytest.approx((0.5 + 0.8) / 4) and mrr.p_value < 0.001 and "permutation" in mrr.test
    assert (tmp_path / "out" / "per_example.csv").read_text().count("\n") == 41
    rep_ci = __import__("graphmer.model.reports.report", fromlist=["build_report"]).build_report(a).figures["validation"]["evals"][0]["mrr@10_ci95"]
    assert rep_ci[0] < 0.425 < rep_ci[1]  # the interval brackets the logged MRR@10
    other = write_retrieval_run(tmp_path / "other", [1] * 40, queries_sha1="different")
    with pytest.raises(CompareError, match="other held-out queries"):
        compare_runs([str(a), str(other)])


def test_retrieval_card_names_warm_start_and_licence(tmp_path):
    run = write_retrieval_run(tmp_path / "r", [1, 3] * 5)
    card = render_card(run, "demo")
    assert "all-MiniLM-L6-v2" in card and "Apache-2.0" in card and "graphmer train-retrieval CORPUS" in card
    assert "MRR@10 0.6667 [" in card  # the interval from the logged ranks


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeds")
    corpus = synthetic_corpus(root / "src", n_files=12)
    cfg = replace(BASE, steps=4, eval_every=2, checkpoint_every=2)
    parent = root / "multi"
    train_seeds(cfg, parent, (1, 2), corpus=[str(corpus)])
    return parent


def test_seeds_share_the_held_out_split_and_are_summarised(seeds_run):
    a, b = (json.loads((seeds_run / f"seed-{s}" / "config.json").read_text()) for s in (1, 2))
    assert (a["train"]["seed"], b["train"]["seed"], a["train"]["split_seed"], b["train"]["split_seed"]) == (1, 2, 0, 0)
    assert a["data"]["tokenizer_sha256"] == b["data"]["tokenizer_sha256"] and a["data"]["valid_files"] == b["data"]["valid_files"]
    rep, per_seed = seed_report(seeds_run)
    acc = [r["final_mlm_acc"] for r in rep.figures["seeds"]]
    assert rep.figures["across_seeds"]["final_mlm_acc"]["mean"] == pytest.approx(np.mean(acc))
    assert rep.figures["across_seeds"]["final_mlm_acc"]["std"] == pytest.approx(np.std(acc, ddof=1))
    assert len(per_seed) == 2 and parse_seeds("1,2") == (1, 2)
    with pytest.raises(ValueError):
        parse_seeds("1,1")


def test_compare_pretrain_runs_paired_on_one_held_out_set(seeds_run, tmp_path):
    s1, s2 = str(seeds_run / "seed-1"), str(seeds_run / "seed-2")
    c = compare_runs([s1, s1, s2], tmp_path / "cmp", resamples=500)
    self_acc = [x for x in c.differences if x.metric.startswith("mlm_acc: 1:seed-1")][0]
    assert self_acc.diff == 0.0 and self_acc.p_value == 1.0 and "held-out graph" in self_acc.test
    assert [x.metric.split(":")[0] for x in c.differences] == ["mlm_acc", "mnm_acc", "mlm_nll", "mnm_nll"] * 2
    last = [json.loads(x) for x in (seeds_run / "seed-1" / "metrics.jsonl").read_text().splitlines() if '"eval"' in x][-1]
    g = c.groups[0]["metrics"]
    assert g["mlm_acc"]["mean"] == pytest.approx(last["mlm_acc"])  # re-evaluation reproduces the logged accuracy
    assert g["mnm_acc"]["mean"] == pytest.approx(last["mnm_acc"])
    rows = (tmp_path / "cmp" / "per_example.csv").read_text().splitlines()
    assert len(rows) == 1 + last["mlm_count"] + last["mnm_count"]
    c2 = compare_runs([str(seeds_run), str(seeds_run)], resamples=200)
    assert c2.groups[0]["metrics"]["mlm_acc"]["std"] is not None and len(c2.groups[0]["runs"]) == 2


def test_cli_report_card_compare_on_seed_runs(seeds_run, tmp_path):
    r = CliRunner().invoke(cli, ["report", str(seeds_run), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "REPORT.md").exists() and (tmp_path / "rep" / "seed-1" / "loss.png").exists()
    r = CliRunner().invoke(cli, ["card", str(seeds_run / "seed-1"), "--out", str(tmp_path / "card")])
    assert r.exit_code == 0, r.output
    card = (tmp_path / "card" / "MODEL_CARD.md").read_text()
    assert "graphmer train " in card and "--seed 1" in card and "split_seed = 0" not in card.split("How to reproduce")[0]
    r = CliRunner().invoke(cli, ["compare", str(seeds_run / "seed-1"), "--json"])
    assert r.exit_code == 1 and "at least two runs" in r.output
    r = CliRunner().invoke(cli, ["compare", str(seeds_run / "seed-1"), str(tmp_path), "--json"])
    assert r.exit_code == 1 and "no metrics.jsonl" in r.output
