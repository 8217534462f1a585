"""The realistic mode of `graphmer bench search` (--keep-other-docs, graphmer/bench/search.py and graphmer/index/stripped_copy.py), several
packages in one run with the mean and paired intervals, and --baseline-model (graphmer/bench/dense.py)."""
from __future__ import annotations

import ast
import doctest
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphmer.cli.bench import bench
from graphmer.bench.search import (LOCAL_SYSTEMS, BenchError, BenchResult, SystemResult, run_benchmark, system_result,
                                run_bm25, run_graphmer)
from graphmer.index.pysource import Target, strip_docstrings
from graphmer.bench import dense as bench_dense
from graphmer.bench.dense import margins, mean_over_packages
from graphmer.index import stripped_copy
from graphmer.index.stripped_copy import assign_folds, prepare_copy, strip_only
from graphmer.model.reports import rank_bootstrap
from graphmer.model.reports.rank_bootstrap import paired_bootstrap, paired_bootstrap_mean

# ---------------------------------------------------------------- a small documented package

FILES = {
    "__init__.py": '"""Geometry kit: areas, perimeters and conversions between units of length."""\n',
    "shapes.py": '''\
        """Shapes of the plane and their measures."""
        import math


        def circle_area(radius):
            """Compute the area of a circle from its radius."""
            return math.pi * square(radius)


        def square(x):
            """Multiply a number by itself."""
            return x * x


        class Rectangle:
            """An axis-aligned rectangle with a width and a height."""

            def __init__(self, width, height):
                """Store the two side lengths."""
                self.width = width
                self.height = height

            def area(self):
                """Return the surface covered by the rectangle."""
                return self.width * self.height

            def perimeter(self):
                """Return the length of the rectangle's boundary."""
                return 2 * (self.width + self.height)

            def scale(self, factor):
                """Grow it."""
                return Rectangle(self.width * factor, self.height * factor)
        ''',
    "units.py": '''\
        """Conversions between units of length."""

        INCH = 2.54


        def inches_to_cm(value):
            """Convert a length in inches to centimetres."""
            return value * INCH


        def cm_to_inches(value):
            """Convert a length in centimetres to inches."""
            return value / INCH


        def parse_length(text):
            """Read a length such as '3 in' or '2 cm' and return centimetres."""
            number, unit = text.split()
            return inches_to_cm(float(number)) if unit == "in" else float(number)


        def frobnicate(x):
            """Quietly transmogrify lunar widgets."""
            return x
        ''',
}

TARGETS = [
    ("shapes.py", "circle_area", 5), ("shapes.py", "square", 10), ("shapes.py", "Rectangle.__init__", 18),
    ("shapes.py", "Rectangle.area", 23), ("shapes.py", "Rectangle.perimeter", 27), ("units.py", "inches_to_cm", 6),
    ("units.py", "cm_to_inches", 11), ("units.py", "parse_length", 16), ("units.py", "frobnicate", 22),
]
# What the code before the realistic mode gave on this package (graphmer/bench/search.py at c5e09ba).
STRIPPED_RANKS = {
    "graphmer-lexical": (1, 0, 0, 1, 3, 2, 3, 1, 0),
    "bm25": (1, 0, 0, 8, 6, 0, 0, 9, 0),
    "bm25-split": (1, 0, 0, 7, 7, 3, 2, 1, 0),
}
FOLD_OF_3 = (2, 0, 1, 0, 2, 1, 0, 1, 2)  # assign_folds(targets, 3) with the fixed seed


def write_geomkit(root: Path, name: str = "geomkit") -> Path:
    pkg = root / name
    for rel, text in FILES.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    return pkg


def docstrings(path: Path) -> dict[tuple[str, int], str | None]:
    """(kind, line) -> docstring of the module (line 0), each class and each function of one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = {("module", 0): ast.get_docstring(tree)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            out[("class" if isinstance(node, ast.ClassDef) else "def", node.lineno)] = ast.get_docstring(node)
    return out


# ---------------------------------------------------------------- strip with a predicate

SOURCE = '''\
"""Module doc."""


class Box:
    """Class doc
    over two lines."""

    def open(self):
        """Open the box now."""
        return 1

    def close(self): "Close it."; return 2


def only_doc():
    """Only a docstring here."""
'''


def test_strip_with_a_predicate_keeps_the_other_docstrings_and_every_line():
    out = strip_docstrings(SOURCE, lambda owner: getattr(owner, "name", "") in ("open", "close", "only_doc"))
    assert out == SOURCE.replace('        """Open the box now."""\n', "\n").replace(
        'def close(self): "Close it."; return 2', "def close(self): pass; return 2").replace(
        '    """Only a docstring here."""', "    pass")
    tree = ast.parse(out)
    assert ast.get_docstring(tree) == "Module doc."
    assert ast.get_docstring(tree.body[1]) == "Class doc\nover two lines."
    assert out.count("\n") == SOURCE.count("\n")
    assert strip_docstrings(SOURCE, lambda owner: True) == strip_docstrings(SOURCE)
    assert strip_docstrings(SOURCE, lambda owner: False) == SOURCE


def test_prepare_copy_strips_only_the_chosen_functions(tmp_path):
    pkg = write_geomkit(tmp_path)
    chosen = [Target("shapes.py", "square", 10, "q"), Target("units.py", "frobnicate", 22, "q")]
    copy = prepare_copy(pkg, tmp_path / "copy", strip=strip_only(chosen))
    assert [(t.path, t.qualname, t.def_line) for t in copy.targets] == TARGETS  # found in the originals
    for rel in FILES:
        before, after = docstrings(pkg / rel), docstrings(tmp_path / "copy" / rel)
        gone = {("def", t.def_line) for t in chosen if t.path == rel}
        assert after == {key: None if key in gone else doc for key, doc in before.items()}
        assert (tmp_path / "copy" / rel).read_text().count("\n") == (pkg / rel).read_text().count("\n")
    scale = next(c for c in copy.chunks if c.start_line == 31)
    assert '"""Grow it."""' in scale.text  # other functions' chunks keep their docstrings


# ---------------------------------------------------------------- fold assignment


def test_fold_assignment_is_deterministic_balanced_and_covers_each_target_once():
    targets = [Target(p, q, line, "query") for p, q, line in TARGETS]
    folds = assign_folds(targets, 3)
    assert folds == FOLD_OF_3
    assert folds == assign_folds(list(targets), 3)
    order = [4, 0, 8, 2, 6, 1, 3, 7, 5]
    assert [assign_folds([targets[i] for i in order], 3)[order.index(i)] for i in range(9)] == list(folds)
    assert sorted(folds.count(f) for f in range(3)) == [3, 3, 3]
    assert assign_folds(targets, 1) == (0,) * 9
    assert sorted(assign_folds(targets, 12)) == list(range(9))  # more folds than targets: one each, some empty
    assert assign_folds(targets, 3, seed=1) != folds  # the seed matters
    assert assign_folds([], 5) == ()


# ---------------------------------------------------------------- the benchmark in both modes


def test_default_mode_ranks_are_unchanged(tmp_path):
    result = run_benchmark(write_geomkit(tmp_path), systems=LOCAL_SYSTEMS, work_dir=tmp_path / "work")
    assert [(t.path, t.qualname, t.def_line) for t in result.targets] == TARGETS
    assert {s.system: s.ranks for s in result.systems} == STRIPPED_RANKS
    data = result.to_json()
    assert (data["mode"], data["folds"]) == ("stripped", None)
    assert "fold" not in data["per_query"][0]


def test_keep_other_docs_runs_each_fold_on_its_own_copy(tmp_path):
    pkg = write_geomkit(tmp_path)
    result = run_benchmark(pkg, systems=LOCAL_SYSTEMS, work_dir=tmp_path / "work", keep=True, keep_other_docs=True, folds=3)
    assert [(t.path, t.qualname, t.def_line) for t in result.targets] == TARGETS  # the default mode's order
    assert (result.mode, result.folds, result.fold_of) == ("keep-other-docs", 3, FOLD_OF_3)
    assert [s.system for s in result.systems] == list(LOCAL_SYSTEMS)
    assert all(len(s.ranks) == len(TARGETS) == len(s.query_s) for s in result.systems)
    ranks = {s.system: s.ranks for s in result.systems}
    # Other targets' docstrings are now in the index: cm_to_inches's query finds inches_to_cm's words.
    assert ranks["bm25"] == (1, 0, 0, 6, 8, 0, 0, 9, 0)
    assert ranks["bm25-split"] == (1, 0, 0, 6, 8, 3, 3, 2, 0)
    root = tmp_path / "work" / "geomkit"
    assert result.copy_root == str(root)
    data = json.loads(json.dumps(result.to_json()))
    assert (data["mode"], data["folds"]) == ("keep-other-docs", 3)
    assert [q["fold"] for q in data["per_query"]] == list(FOLD_OF_3)
    for f in range(3):
        copy = root / f"fold-{f + 1}" / "geomkit"
        mine = [Target(p, q, line, "") for (p, q, line), g in zip(TARGETS, FOLD_OF_3) if g == f]
        for rel in FILES:
            before, after = docstrings(pkg / rel), docstrings(copy / rel)
            gone = {("def", t.def_line) for t in mine if t.path == rel}
            assert after == {key: None if key in gone else doc for key, doc in before.items()}, (f, rel)
        # Each fold's ranks are that fold's queries asked on that copy alone.
        idx = [i for i, g in enumerate(FOLD_OF_3) if g == f]
        asked = [result.targets[i] for i in idx]
        assert run_graphmer(copy, asked).ranks == tuple(ranks["graphmer-lexical"][i] for i in idx)
        chunks = prepare_copy(pkg, tmp_path / f"again-{f}", strip=strip_only(asked)).chunks
        assert run_bm25(chunks, asked).ranks == tuple(ranks["bm25"][i] for i in idx)
    lexical = next(s for s in result.systems if s.system == "graphmer-lexical")
    assert lexical.items == 3 * 14  # symbols of three indexes


def test_keep_other_docs_calls_the_runner_once_per_fold(tmp_path):
    pkg = write_geomkit(tmp_path)
    calls = []

    def runner(copy, top_k, names):
        calls.append((copy.root.relative_to(tmp_path / "work"), [t.qualname for t in copy.targets], names))
        assert any('"""Grow it."""' in c.text for c in copy.chunks)
        ranks = [t.def_line % 4 for t in copy.targets]
        return [SystemResult("minilm", 0.0, 0.0, 0.0, 1.5, 0.0, 0.0, tuple(ranks), 10, (0.001,) * len(ranks))]

    result = run_benchmark(pkg, systems=("minilm", "bm25"), runner=runner, work_dir=tmp_path / "work",
                           keep_other_docs=True, folds=3)
    names = [q for _, q, _ in TARGETS]
    assert calls == [(Path(f"geomkit/fold-{f + 1}/geomkit"), [n for n, g in zip(names, FOLD_OF_3) if g == f], ("minilm",))
                     for f in range(3)]
    bm25, minilm = result.systems  # in SYSTEMS order
    assert minilm.ranks == tuple(line % 4 for _, _, line in TARGETS)
    assert minilm.mrr == pytest.approx(sum(1 / r for _, _, line in TARGETS if (r := line % 4)) / 9)
    assert (minilm.index_s, minilm.items, len(minilm.query_s)) == (4.5, 30, 9)
    assert minilm.query_ms_mean == pytest.approx(1.0)
    assert not (tmp_path / "work" / "geomkit").exists()


def test_keep_other_docs_errors(tmp_path):
    with pytest.raises(BenchError, match="folds must be at least 1"):
        run_benchmark(write_geomkit(tmp_path), systems=("bm25",), keep_other_docs=True, folds=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no function"):
        run_benchmark(tmp_path / "empty", systems=("bm25",), keep_other_docs=True)


# ---------------------------------------------------------------- several packages: the mean and its interval


def test_paired_bootstrap_of_the_mean():
    same = paired_bootstrap_mean([([1, 2, 0, 3], [1, 2, 0, 3]), ([4, 1], [4, 1])])
    assert (same["mean"], same["low"], same["high"], same["packages"], same["queries"]) == (0.0, 0.0, 0.0, 2, 6)
    # A constant improvement in each package: a degenerate interval at the mean of the packages'
    # margins (+0.5 on 10 queries, +1.0 on 1: 0.75, not the pooled 6/11).
    better = paired_bootstrap_mean([([1] * 10, [2] * 10), ([1], [0])])
    assert better["mean"] == better["low"] == better["high"] == 0.75
    a, b = [1, 3, 0, 2, 1, 5, 0], [2, 1, 0, 0, 1, 1, 4]
    one = paired_bootstrap_mean([(a, b)])
    assert {k: one[k] for k in ("mean", "low", "high", "queries")} == paired_bootstrap(a, b)
    assert one["low"] < one["mean"] < one["high"]
    assert paired_bootstrap_mean([])["packages"] == 0
    with pytest.raises(ValueError):
        paired_bootstrap_mean([([1], [1]), ([], [])])


def _benchsystem_result(package: str, ranks: dict[str, tuple[int, ...]]) -> BenchResult:
    targets = tuple(Target("m.py", f"f{i}", i + 1, "q") for i in range(len(next(iter(ranks.values())))))
    return BenchResult(package, 10, 1, 0, targets, tuple(system_result(s, list(r), 10, 1.0, []) for s, r in ranks.items()))


def test_margins_and_mean_over_packages():
    p1 = _benchsystem_result("p1", {"graphmer": (1, 1), "graphmer-nograph": (2, 2), "bm25": (1, 0)})
    p2 = _benchsystem_result("p2", {"graphmer": (1, 0, 0, 1), "graphmer-nograph": (1, 0, 0, 1), "bm25": (0, 0, 0, 0)})
    per_package, mean = margins([p1, p2])
    assert [set(m) for m in per_package] == [{"graphmer_minus_nograph"}] * 2
    assert per_package[0]["graphmer_minus_nograph"]["mean"] == 0.5
    assert mean["graphmer_minus_nograph"]["mean"] == mean["graphmer_minus_nograph"]["high"] == 0.25
    assert mean["graphmer_minus_nograph"]["low"] == 0.25
    assert mean_over_packages([p1, p2]) == {
        "graphmer": {"mrr@10": 0.75, "recall@1": 0.75, "recall@10": 0.75},
        "graphmer-nograph": {"mrr@10": 0.5, "recall@1": 0.25, "recall@10": 0.75},
        "bm25": {"mrr@10": 0.25, "recall@1": 0.25, "recall@10": 0.25},
    }
    assert margins([_benchsystem_result("p", {"bm25": (1,)})]) == ([{}], {})


# ---------------------------------------------------------------- model loading, once


def test_each_graphmer_model_loads_once_per_cache(monkeypatch):
    loaded = []
    monkeypatch.setattr(bench_dense, "load_embedder", lambda path=None, **kw: loaded.append((path, kw)) or object())
    cache: dict = {}
    first = bench_dense._embedder("m", {"quantize": True, "roots": 0}, cache)
    assert bench_dense._embedder("m", {"roots": 0, "quantize": True}, cache) is first
    bench_dense._embedder("other", {"quantize": True, "roots": 0}, cache)
    assert loaded == [("m", {"quantize": True, "roots": 0}), ("other", {"quantize": True, "roots": 0})]
    assert hasattr(bench_dense._minilm, "cache_info")  # MiniLM: once per process


def test_baseline_systems_need_the_baseline_model(tmp_path):
    copy = prepare_copy(write_geomkit(tmp_path), tmp_path / "copy")
    with pytest.raises(BenchError, match="--baseline-model"):
        bench_dense.graphmer_systems(copy, 10, ("baseline",), None, None)


# ---------------------------------------------------------------- CLI


def test_cli_several_packages_json(tmp_path):
    a, b = write_geomkit(tmp_path / "a"), write_geomkit(tmp_path / "b", "unitkit")
    r = CliRunner().invoke(bench, ["search", str(a), str(b), "--system", "bm25", "--system", "graphmer-lexical", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert set(data) == {"packages", "mean", "margins"}
    assert [p["package"] for p in data["packages"]] == ["geomkit", "unitkit"]
    assert [list(p["systems"]) for p in data["packages"]] == [["graphmer-lexical", "bm25"]] * 2
    assert data["packages"][0]["per_query"][0]["ranks"] == {"graphmer-lexical": 1, "bm25": 1}
    assert set(data["mean"]) == {"graphmer-lexical", "bm25"}
    assert data["mean"]["bm25"]["mrr@10"] == data["packages"][0]["systems"]["bm25"]["mrr@10"]  # the same package twice
    assert data["margins"] == {}


def test_cli_keep_other_docs_and_folds(tmp_path):
    a, b = write_geomkit(tmp_path / "a"), write_geomkit(tmp_path / "b", "unitkit")
    r = CliRunner().invoke(bench, ["search", str(a), str(b), "--system", "bm25", "--keep-other-docs", "--folds", "3", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [(p["mode"], p["folds"]) for p in data["packages"]] == [("keep-other-docs", 3)] * 2
    assert [q["ranks"]["bm25"] for q in data["packages"][0]["per_query"]] == [1, 0, 0, 6, 8, 0, 0, 9, 0]
    r = CliRunner().invoke(bench, ["search", str(a), "--system", "bm25", "--keep-other-docs"])
    assert r.exit_code == 0, r.output
    assert "only the queried functions' docstrings removed, 5 folds" in r.output
    for args, message in ((["--folds", "0", "--keep-other-docs"], "0 is not in the range"),
                          (["--folds", "2"], "--folds applies only with --keep-other-docs"),
                          (["--system", "baseline"], "--system baseline needs --baseline-model PATH")):
        r = CliRunner().invoke(bench, ["search", str(a), *args])
        assert r.exit_code == 2 and message in r.output, r.output


def test_cli_margins_over_nograph_and_baseline(tmp_path, monkeypatch):
    """The model systems stand in through run_model_systems; graphmer beats both by a constant."""
    a, b = write_geomkit(tmp_path / "a"), write_geomkit(tmp_path / "b", "unitkit")
    models = tmp_path / "models"
    models.mkdir()
    seen = []

    def fake(copy, top_k, names, model, nograph_model, embed_opts=None, baseline_model=None, cache=None):
        seen.append((names, nograph_model, baseline_model, id(cache)))
        n = len(copy.targets)
        worse = {"graphmer-nograph": 2, "baseline": 0, "baseline-dense": 0}
        return [system_result(s, [worse.get(s, 1)] * n, top_k, 1.0, [0.001] * n, 5) for s in names]

    monkeypatch.setattr(bench_dense, "run_model_systems", fake)
    args = ["search", str(a), str(b), "--system", "graphmer", "--system", "graphmer-nograph", "--system", "baseline",
            "--system", "baseline-dense", "--nograph-model", str(models), "--baseline-model", str(models)]
    r = CliRunner().invoke(bench, [*args, "--json", "--keep-other-docs", "--folds", "2"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert len(seen) == 4 and len({c for *_, c in seen}) == 1  # two packages × two folds, one model cache
    assert seen[0][:3] == (("graphmer", "graphmer-nograph", "baseline", "baseline-dense"), str(models), str(models))
    for p in data["packages"]:
        assert list(p["systems"]) == ["graphmer", "graphmer-nograph", "baseline", "baseline-dense"]
        assert p["systems"]["baseline"]["index_s"] == 2.0  # one index per fold
        assert p["graphmer_minus_nograph"]["mean"] == 0.5 and p["graphmer_minus_baseline"]["mean"] == 1.0
    assert data["margins"]["graphmer_minus_nograph"] == {"mean": 0.5, "low": 0.5, "high": 0.5, "packages": 2, "queries": 18}
    assert data["margins"]["graphmer_minus_baseline"]["low"] == 1.0
    assert data["mean"]["graphmer"]["mrr@10"] == 1.0
    r = CliRunner().invoke(bench, [*args, "--system", "bm25"])  # the tables
    assert r.exit_code == 0, r.output
    assert "graphmer − baseline MRR@10: +1.000" in r.output and "MRR@10 over 2 packages" in r.output
    row = next(line for line in r.output.splitlines() if line.startswith("│ graphmer − graphmer-nograph"))
    assert row.count("+0.500 [+0.500, +0.500]") == 3  # each package and the mean
    one = CliRunner().invoke(bench, [*args[:1], str(a), *args[3:], "--json"])
    assert one.exit_code == 0, one.output
    assert set(json.loads(one.output)) >= {"package", "systems", "per_query", "graphmer_minus_nograph",
                                           "graphmer_minus_baseline", "mode", "folds"}


@pytest.mark.parametrize("module", [stripped_copy, bench_dense, rank_bootstrap])
def test_docstring_examples(module):
    failed, attempted = doctest.testmod(module)
    assert attempted > 0 and failed == 0


def test_fusion_grid_in_both_modes_asks_every_target_once(tmp_path, monkeypatch):
    """bench fusion: stripped asks each target on one copy; --keep-other-docs on its fold's copy,
    where only that fold's targets lost their docstrings."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from fake_embedder import HashEmbedder
    from graphmer.index.fusion import HybridConfig

    monkeypatch.setattr(bench_dense, "load_embedder", lambda path=None, **kw: HashEmbedder())
    pkg = write_geomkit(tmp_path)
    configs = {"lexical": ("lexical", HybridConfig()), "score": ("hybrid", HybridConfig())}
    flat = bench_dense.fusion_grid([pkg], tmp_path / "flat", None, configs)
    folded = bench_dense.fusion_grid([pkg], tmp_path / "folds", None, configs, folds=3)
    assert flat["geomkit"]["queries"] == folded["geomkit"]["queries"] == len(FOLD_OF_3)
    assert all(0 <= v <= 1 for row in (flat, folded) for k, v in row["geomkit"].items() if k != "queries")
    kept = [sum(d is not None for (kind, _), d in docstrings(f).items() if kind == "def")
            for f in sorted((tmp_path / "folds").glob("geomkit/fold-*/geomkit/**/*.py"))]
    stripped = [sum(d is not None for (kind, _), d in docstrings(f).items() if kind == "def")
                for f in sorted((tmp_path / "flat").glob("geomkit/**/*.py"))]
    original = sum(sum(d is not None for (kind, _), d in docstrings(f).items() if kind == "def") for f in pkg.glob("**/*.py"))
    assert sum(stripped) == 0 and original > len(FOLD_OF_3)
    assert sum(kept) == 3 * original - len(FOLD_OF_3)  # 3 copies, each without exactly its fold's targets' docstrings
