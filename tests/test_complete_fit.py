"""Completion ranking weights: features, the weights file, and fitting them on sites."""
from __future__ import annotations

import dataclasses
import json
import random
import textwrap

import pytest
from click.testing import CliRunner

from graphmer.cli.main import cli
from graphmer.complete.rank import (
    WEIGHTS_FILE,
    Hidden,
    RankWeights,
    WeightsError,
    dump_weights,
    load_weights,
)
from graphmer.complete.signatures import subwords, words_in
from graphmer.model.complete_fit import Example, average, collect, evaluate, fit, fit_hidden, refine_top1

NAMES = RankWeights.features()


def test_subwords_split_identifiers():
    assert subwords("get_send_file_max_age") == {"get", "send", "file", "max", "age"}
    assert subwords("HTTPServer") == {"http", "server"}
    assert subwords("_loaded_app") == {"loaded", "app"}
    assert subwords("x") == frozenset()
    assert words_in("response = self.process(req_body)") == {"response", "self", "process", "req", "body"}


def test_the_shipped_weights_cover_every_feature():
    w = RankWeights.fitted()
    assert set(NAMES) == {f.name for f in dataclasses.fields(RankWeights)} - {"popular", "near_lines", "hidden"}
    assert w.member > 0 and w != RankWeights()  # fitted, not the hand-set defaults
    assert w.hidden is not None and len(w.hidden.w1) == len(w.hidden.w2) == 64  # four seeds' 16 units
    data = json.loads(WEIGHTS_FILE.read_text())
    assert data["fit"]["packages"] and all(not p.startswith(("click", "rich")) for p in data["fit"]["packages"])


def test_weights_file_round_trip_and_foreign_files(tmp_path):
    w = dataclasses.replace(RankWeights(), near=1.25, private=-0.5)
    dump_weights(w, tmp_path / "w.json", {"note": "test"})
    assert load_weights(tmp_path / "w.json") == w
    data = json.loads((tmp_path / "w.json").read_text())
    del data["weights"]["near"]
    (tmp_path / "missing.json").write_text(json.dumps(data))
    (tmp_path / "foreign.json").write_text('{"model_type": "bert"}')
    (tmp_path / "broken.json").write_text("{not json")
    for name in ("missing.json", "foreign.json", "broken.json", "absent.json"):
        with pytest.raises(WeightsError, match="fit-completion"):
            load_weights(tmp_path / name)


def test_a_hidden_layer_round_trips_and_a_mismatched_one_is_refused(tmp_path):
    nf = len(NAMES)
    hidden = Hidden(tuple([1.0] * nf), tuple(tuple(0.01 * (i + j) for j in range(nf)) for i in range(3)), (0.1, 0.0, -0.1), (1.0, -2.0, 0.5))
    w = dataclasses.replace(RankWeights(), hidden=hidden)
    dump_weights(w, tmp_path / "w.json", {})
    back = load_weights(tmp_path / "w.json")
    assert back.hidden is not None and back.hidden.w2 == hidden.w2 and back.vector() == w.vector()
    feats = [{"member": 1.0, "exact": 2.0}, {"named": 1.0}]
    plain = RankWeights().scores(feats)
    assert plain == [RankWeights().score(f) for f in feats]  # no layer: the weighted sum
    got = back.scores(feats)
    x = [[f.get(n, 0.0) for n in NAMES] for f in feats]
    import math
    want = [lin + sum(hidden.w2[i] * math.tanh(sum(a * b for a, b in zip(hidden.w1[i], row)) + hidden.b1[i]) for i in range(3))
            for lin, row in zip(plain, x)]
    assert got == pytest.approx(want)
    data = json.loads((tmp_path / "w.json").read_text())
    data["hidden"]["features"] = data["hidden"]["features"][:-1]  # fitted on other features
    (tmp_path / "other.json").write_text(json.dumps(data))
    data["hidden"]["features"] = list(NAMES)
    data["hidden"]["w1"] = data["hidden"]["w1"][:2]
    (tmp_path / "shape.json").write_text(json.dumps(data))
    for name in ("other.json", "shape.json"):
        with pytest.raises(WeightsError, match="hidden layer"):
            load_weights(tmp_path / name)


def _xor_sites(n: int, seed: int) -> list[Example]:
    """The right candidate has exactly one of `words_func` and `words_line`: no weighted sum
    puts it above candidates with both or neither."""
    rng = random.Random(seed)
    a, b = NAMES.index("words_func"), NAMES.index("words_line")
    out = []
    for i in range(n):
        feats = [[0.0] * len(NAMES) for _ in range(4)]
        for f, (x, y) in zip(feats, [(1, 0), (1, 1), (0, 0), (0, 1)]):
            f[a], f[b] = float(x), float(y)
        right = rng.choice([0, 3])
        feats[3 - right][a], feats[3 - right][b] = 1.0, 1.0  # the other single one becomes a "both"
        out.append(Example("synthetic", i % 2, feats, right))
    return out


def test_fit_hidden_learns_what_a_weighted_sum_cannot_and_is_deterministic():
    train, test = _xor_sites(300, 0), _xor_sites(300, 1)
    start = RankWeights(**{n: 0.0 for n in NAMES})
    linear = fit(train, start, l2=0.0, steps=50)
    assert evaluate(test, linear)[0]["top1/0"] < 0.8
    w = fit_hidden(train, linear, size=8, steps=300, lr=0.03, decay=0.0, batch=64)
    assert evaluate(test, w)[0]["top1/0"] == 1.0
    assert fit_hidden(train, linear, size=8, steps=300, lr=0.03, decay=0.0, batch=64) == w
    # the completer's numpy scores agree with the fitting's torch ones
    ex = test[0]
    feats = [dict(zip(NAMES, f)) for f in ex.feats]
    got = w.scores(feats)
    assert max(range(len(got)), key=got.__getitem__) == ex.target
    # the mean of two seeds' models is one model scoring as their mean
    other = fit_hidden(train, linear, size=8, steps=300, lr=0.03, decay=0.0, batch=64, seed=1)
    assert other != w
    mean = average([w, other])
    assert len(mean.hidden.w1) == 16
    assert mean.scores(feats) == pytest.approx([(a + b) / 2 for a, b in zip(w.scores(feats), other.scores(feats))])
    with pytest.raises(ValueError, match="hidden layers"):
        average([w, linear])


def _planted(n: int, seed: int) -> list[Example]:
    """Sites whose right candidate always has the largest `words_func`, other features noise."""
    rng = random.Random(seed)
    out = []
    k = NAMES.index("words_func")
    for i in range(n):
        feats = [[rng.random() for _ in NAMES] for _ in range(8)]
        for f in feats:
            f[k] = rng.random() * 0.5
        target = rng.randrange(8)
        feats[target][k] = 0.9
        out.append(Example("synthetic", i % 2, feats, target))
    return out


def test_fit_learns_a_planted_feature():
    train, test = _planted(200, 0), _planted(200, 1)
    start = RankWeights(**{n: 0.0 for n in NAMES})
    before, loss0 = evaluate(test, start)
    w = fit(train, start, l2=0.0, steps=50)
    after, loss1 = evaluate(test, w)
    assert before["top1/0"] < 0.2  # all scores tie: ties count against the right candidate
    assert after["top1/0"] == after["top1/1"] == 1.0 and loss1 < loss0
    assert w.words_func == max(getattr(w, n) for n in NAMES)


def test_refine_top1_puts_the_planted_feature_first_and_is_deterministic():
    train, test = _planted(200, 0), _planted(200, 1)
    train.append(Example("synthetic", 0, [[1.0] * len(NAMES)], 0))  # one candidate: no other to beat
    start = RankWeights(**{n: 0.0 for n in NAMES})
    w = refine_top1(train, start, steps=100)
    assert all(abs(v) < 1e3 for v in w.vector())  # finite: the lone candidate adds nothing
    assert evaluate(test, w)[0]["top1/0"] == 1.0 and evaluate(test, start)[0]["top1/0"] < 0.2
    assert w.words_func == max(getattr(w, n) for n in NAMES)
    assert refine_top1(train, start, steps=100) == w
    pulled = refine_top1(train, start, l2=100.0, steps=100)  # the pull towards `start` holds it near
    assert max(abs(v) for v in pulled.vector()) < 0.05


def test_collect_records_the_right_candidate(tmp_path):
    pkg = tmp_path / "src" / "shop"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cart.py").write_text(textwrap.dedent('''
        class Cart:
            def __init__(self):
                self.items = []
                self.total = 0

            def add(self, item, price):
                self.items.append(item)
                self.total += price
                return self.total

            def clear(self):
                self.items.clear()
                self.total = 0
        ''').lstrip("\n"))
    examples, missing = collect(pkg, sites=50, seed=0, work=tmp_path / "work")
    assert examples and missing == 0
    assert {e.prefix_len for e in examples} == {0, 1}
    member = NAMES.index("member")
    for e in examples:
        assert all(len(f) == len(NAMES) for f in e.feats)
        assert e.feats[e.target][member] == 1.0  # every site here is a member of a known class


def test_fit_command_writes_weights_the_bench_reads(tmp_path):
    pkg = tmp_path / "lib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(textwrap.dedent('''
        import os


        class Store:
            def __init__(self, root):
                self.root = root
                self.cache = {}

            def path(self, name):
                return os.path.join(self.root, name)

            def read(self, name):
                if name in self.cache:
                    return self.cache[name]
                with open(self.path(name)) as f:
                    self.cache[name] = f.read()
                return self.cache[name]
        ''').lstrip("\n"))
    out = tmp_path / "w.json"
    r = CliRunner().invoke(cli, ["fit-completion", str(pkg), "--sites", "20", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert got["examples"] > 0 and set(got["weights"]) == set(NAMES)
    saved = load_weights(out)  # written to 6 decimals
    assert all(abs(getattr(saved, n) - got["weights"][n]) < 1e-6 for n in NAMES)
    assert saved.hidden is not None and len(saved.hidden.w2) == 64  # four seeds' 16 units
    assert json.loads(out.read_text())["fit"]["hidden_seeds"] == 4
    assert json.loads(out.read_text())["fit"]["command"] == "graphmer fit-completion"
    r = CliRunner().invoke(cli, ["fit-completion", str(pkg), "--sites", "20", "--hidden", "0", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert load_weights(out).hidden is None and json.loads(out.read_text())["fit"]["hidden_seeds"] == 0
    r = CliRunner().invoke(cli, ["bench", "completion", str(pkg), "--sites", "5", "--no-jedi", "--weights", str(out), "--json"])
    assert r.exit_code == 0, r.output
    (tmp_path / "bad.json").write_text("{}")
    r = CliRunner().invoke(cli, ["bench", "completion", str(pkg), "--no-jedi", "--weights", str(tmp_path / "bad.json")])
    assert r.exit_code != 0 and "not a graphmer completion weights file" in r.output


def test_fit_usage_writes_the_counts_completion_loads(tmp_path):
    from graphmer.complete.stdlib_usage import load

    stdlib = tmp_path / "lib"
    (stdlib / "pkg").mkdir(parents=True)
    (stdlib / "pkg" / "__init__.py").write_text("import os\nos.getcwd()\nos.sep\n")
    (stdlib / "other.py").write_text("import os\nos.getcwd()\n")
    out = tmp_path / "usage.json"
    r = CliRunner().invoke(cli, ["fit-usage", "--stdlib", str(stdlib), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert load(out) == {"os": {"getcwd": 2}}  # os.sep is read once: below MIN_COUNT
    assert json.loads(out.read_text())["meta"]["command"] == "graphmer fit-usage"
    assert f"wrote {out}: 1 members of 1 modules" in r.output
    r = CliRunner().invoke(cli, ["fit-usage", "--stdlib", str(stdlib), "--out", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.output) == {"out": str(out), "modules": 1, "members": 1}
    r = CliRunner().invoke(cli, ["fit-usage", "--stdlib", str(stdlib), "--out", str(tmp_path / "absent" / "u.json")])
    assert r.exit_code != 0 and "cannot write" in r.output
