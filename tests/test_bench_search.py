"""Tests of the docstring→code search benchmark (graphmer/bench/search.py, graphmer/cli/bench.py)."""
from __future__ import annotations

import ast
import doctest
import inspect
import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphmer.cli.bench import bench
from graphmer.bench import search as bench_search
from graphmer.index import pysource
from graphmer.bench.search import BenchError, MissingDependencyError, mrr, rank_of, recall_at, run_benchmark
from graphmer.index.stripped_copy import prepare_copy
from graphmer.index.pysource import Target, find_targets, first_sentence, strip_docstrings

# ---------------------------------------------------------------- first_sentence


@pytest.mark.parametrize(
    "doc, expected",
    [
        ("Return the thing. More words here.", "Return the thing."),
        ("Open the   file.\n\n    Then read it.", "Open the file."),
        ("Split over\n    two lines\n\n    Second paragraph.", "Split over two lines"),
        ("Parse version 1.2 of the format. Rest.", "Parse version 1.2 of the format."),
        ("Ends without a period", "Ends without a period"),
        ("Ends with a period.", "Ends with a period."),
        ("  \n  Leading blank line. Then more.", "Leading blank line."),
        ("First line.\nSecond line.", "First line."),
        ("", ""),
    ],
)
def test_first_sentence(doc, expected):
    assert first_sentence(doc) == expected


# ---------------------------------------------------------------- strip_docstrings

SOURCE = '''\
"""Module doc."""
import functools


class Empty:
    """Only a docstring."""


class Full:
    """Class doc
    over two lines."""

    x = 1

    @functools.cache
    @staticmethod
    def deco(a):
        """Decorated method doc."""
        return a


async def fetch(url):
    """Fetch the url."""  # trailing comment
    return url


def outer():
    """Outer doc."""

    def inner():
        """Only a docstring,
        nested."""

    return inner


def größe(): "Größe der Sache."; return 1


def one_liner(): "Only a docstring."
'''

EXPECTED = '''\

import functools


class Empty:
    pass


class Full:



    x = 1

    @functools.cache
    @staticmethod
    def deco(a):

        return a


async def fetch(url):
      # trailing comment
    return url


def outer():


    def inner():
        pass


    return inner


def größe(): pass; return 1


def one_liner(): pass
'''


def test_strip_docstrings_exact():
    assert strip_docstrings(SOURCE) == EXPECTED


def test_strip_keeps_def_lines_and_parses():
    stripped = strip_docstrings(SOURCE)
    assert stripped.count("\n") == SOURCE.count("\n")
    before, after = ast.parse(SOURCE), ast.parse(stripped)
    defs = lambda tree: [(n.name, n.lineno) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert defs(after) == defs(before)
    owners = [n for n in ast.walk(after) if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    assert [ast.get_docstring(n) for n in owners] == [None] * len(owners)


def test_strip_keeps_other_statements():
    src = 'def f():\n    "Doc."\n    "not a docstring"\n    return 1\n'
    assert strip_docstrings(src) == 'def f():\n\n    "not a docstring"\n    return 1\n'


@pytest.mark.parametrize("module", [ast, inspect, json.decoder, textwrap])
def test_strip_on_stdlib_modules(module):
    """Real files: only docstring lines change, everything else stays byte-for-byte in place."""
    source = Path(module.__file__).read_text(encoding="utf-8")
    stripped = strip_docstrings(source)
    doc_lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node, clean=False) is not None:
            doc_lines.update(range(node.body[0].lineno, node.body[0].end_lineno + 1))
    old, new = source.split("\n"), stripped.split("\n")
    assert len(old) == len(new)
    assert doc_lines, "the module should have docstrings to strip"
    assert [l for i, l in enumerate(old, 1) if i not in doc_lines] == [l for i, l in enumerate(new, 1) if i not in doc_lines]
    assert {new[i - 1].strip() for i in doc_lines} <= {"", "pass"}


def test_strip_rejects_bad_source():
    with pytest.raises(SyntaxError):
        strip_docstrings("def f(:\n")


# ---------------------------------------------------------------- find_targets


def test_find_targets():
    # Not targets: Empty and Full (classes), outer ("Outer doc." has 2 words).
    assert find_targets(SOURCE, "m.py") == [
        Target("m.py", "Full.deco", 17, "Decorated method doc."),  # the def line, not the decorators'
        Target("m.py", "fetch", 22, "Fetch the url."),
        Target("m.py", "outer.inner", 30, "Only a docstring, nested."),
        Target("m.py", "größe", 37, "Größe der Sache."),
        Target("m.py", "one_liner", 40, "Only a docstring."),
    ]
    assert [t.qualname for t in find_targets(SOURCE, "m.py", min_words=4)] == ["outer.inner"]


def test_find_targets_async_and_min_words():
    src = 'async def get():\n    """Get one page now."""\n\ndef short():\n    """Too short."""\n'
    assert find_targets(src, "a.py") == [Target("a.py", "get", 1, "Get one page now.")]


# ---------------------------------------------------------------- metrics and the found-rule


def test_metrics_on_hand_made_ranks():
    ranks = [1, 2, 0, 4, 10]
    assert mrr(ranks, k=10) == pytest.approx((1 + 1 / 2 + 0 + 1 / 4 + 1 / 10) / 5)
    assert mrr(ranks, k=3) == pytest.approx((1 + 1 / 2) / 5)  # ranks above k count 0
    assert recall_at(ranks, 1) == pytest.approx(1 / 5)
    assert recall_at(ranks, 4) == pytest.approx(3 / 5)
    assert recall_at(ranks, 10) == pytest.approx(4 / 5)
    assert mrr([], k=10) == recall_at([], 10) == 0.0


def test_rank_of_found_rule():
    target = Target("pkg/a.py", "f", 10, "query")
    assert rank_of([], target) == 0
    assert rank_of([("pkg/b.py", 1, 99)], target) == 0  # wrong path
    assert rank_of([("pkg/a.py", 11, 20), ("pkg/a.py", 1, 9)], target) == 0  # ranges miss line 10
    assert rank_of([("pkg/a.py", 11, 20), ("pkg/a.py", 10, 10)], target) == 2  # bounds are inclusive
    assert rank_of([("pkg/a.py", 1, 10), ("pkg/a.py", 10, 12)], target) == 1  # the first holder counts


# ---------------------------------------------------------------- a tiny package with known answers


def write_package(root: Path) -> Path:
    """A package where BM25 finds circle_area and perimeter at rank 1 and never finds frobnicate."""
    pkg = root / "tinypkg"
    files = {
        "__init__.py": '"""Tiny package for the benchmark tests."""\n',
        "shapes.py": '''\
            """Geometry helpers."""
            import math


            def circle_area(radius):
                """Compute the area of a circle from its radius."""
                return math.pi * radius * radius  # area of the circle


            class Rectangle:
                """An axis-aligned rectangle."""

                def __init__(self, width, height):
                    self.width = width
                    self.height = height

                @property
                def perimeter(self):
                    """Return the perimeter of the rectangle."""
                    return 2 * (self.width + self.height)
            ''',
        "misc.py": '''\
            def frobnicate(x):
                """Quietly transmogrify lunar widgets."""
                return x


            def helper():
                """Help."""
                return None
            ''',
        "broken.py": 'def broken(:\n    """This file does not parse at all."""\n',
        "tests/helpers.py": 'def make_circle():\n    """Make a circle of radius one."""\n',
        "test_misc.py": 'def test_frobnicate():\n    """Check that frobnicate returns its input."""\n',
        "sub/deep.py": 'async def deep_fetch(url):\n    """Fetch a deep url politely."""\n    return await get(url)\n',
    }
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return pkg


def test_prepare_copy(tmp_path):
    pkg = write_package(tmp_path)
    copy = prepare_copy(pkg, tmp_path / "copy")
    assert copy.files == 5  # tests/ and test_misc.py are skipped
    assert copy.unparsed_files == 1
    assert not (tmp_path / "copy" / "tests").exists()
    assert (tmp_path / "copy" / "broken.py").read_bytes() == (pkg / "broken.py").read_bytes()
    assert [(t.path, t.qualname, t.def_line) for t in copy.targets] == [
        ("misc.py", "frobnicate", 1),
        ("shapes.py", "circle_area", 5),
        ("shapes.py", "Rectangle.perimeter", 18),
        ("sub/deep.py", "deep_fetch", 1),
    ]
    assert [(c.path, c.start_line, c.end_line) for c in copy.chunks] == [
        ("misc.py", 1, 3),
        ("misc.py", 6, 8),
        ("shapes.py", 5, 7),
        ("shapes.py", 13, 15),
        ("shapes.py", 18, 20),  # decorators excluded
        ("sub/deep.py", 1, 3),
    ]
    shapes = (tmp_path / "copy" / "shapes.py").read_text()
    assert "Compute the area" not in shapes and "Geometry" not in shapes
    assert shapes.split("\n")[4] == "def circle_area(radius):"
    assert copy.chunks[2].text == "def circle_area(radius):\n\n    return math.pi * radius * radius  # area of the circle"
    with pytest.raises(FileExistsError):
        prepare_copy(pkg, tmp_path / "copy")


def test_bm25_reference_known_answers(tmp_path):
    pkg = write_package(tmp_path)
    result = run_benchmark(pkg, systems=("bm25",), work_dir=tmp_path / "work")
    (bm25,) = result.systems
    # frobnicate shares no word with its code; deep_fetch's "fetch url" is only in its own chunk.
    assert bm25.ranks == (0, 1, 1, 1)
    assert bm25.mrr == pytest.approx(3 / 4)
    assert bm25.recall_at_1 == bm25.recall_at_k == pytest.approx(3 / 4)
    assert not (tmp_path / "work" / "tinypkg").exists()  # the copy is removed unless kept
    assert result.copy_root == ""


def test_result_json(tmp_path):
    pkg = write_package(tmp_path)
    result = run_benchmark(pkg, systems=("bm25",), top_k=3, work_dir=tmp_path / "work", keep=True)
    data = json.loads(json.dumps(result.to_json()))
    assert data["copy_root"] == str(tmp_path / "work" / "tinypkg")
    assert (tmp_path / "work" / "tinypkg" / "shapes.py").exists()
    assert {k: data[k] for k in ("package", "top_k", "files", "unparsed_files", "queries")} == {
        "package": "tinypkg", "top_k": 3, "files": 5, "unparsed_files": 1, "queries": 4,
    }
    assert set(data["systems"]["bm25"]) == {"mrr@3", "recall@1", "recall@3", "index_s", "query_ms_mean", "query_ms_median",
                                            "items", "items_per_s"}
    assert data["systems"]["bm25"]["mrr@3"] == 0.75
    assert data["per_query"][1] == {
        "path": "shapes.py", "qualname": "circle_area", "def_line": 5,
        "query": "Compute the area of a circle from its radius.", "ranks": {"bm25": 1},
    }


def test_run_benchmark_errors(tmp_path):
    pkg = write_package(tmp_path)
    (tmp_path / "work" / "tinypkg").mkdir(parents=True)
    with pytest.raises(BenchError, match="already exists"):
        run_benchmark(pkg, systems=("bm25",), work_dir=tmp_path / "work")
    with pytest.raises(BenchError, match="inside"):
        run_benchmark(pkg, systems=("bm25",), work_dir=pkg / "sub")
    with pytest.raises(BenchError, match="not a directory"):
        run_benchmark(pkg / "misc.py", systems=("bm25",))
    with pytest.raises(BenchError, match="unknown systems"):
        run_benchmark(pkg, systems=("grep",))
    with pytest.raises(BenchError, match="need a model"):
        run_benchmark(pkg, systems=("minilm",), work_dir=tmp_path / "work2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no function"):
        run_benchmark(tmp_path / "empty", systems=("bm25",))


def test_missing_bm25s_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "bm25s", None)  # makes `import bm25s` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install graphmer\[bench\]") as info:
        run_benchmark(write_package(tmp_path), systems=("bm25",))
    assert isinstance(info.value, ImportError)


# ---------------------------------------------------------------- CLI


def test_cli_json(tmp_path):
    pkg = write_package(tmp_path)
    result = CliRunner().invoke(bench, ["search", str(pkg), "--json", "--system", "bm25", "--top-k", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["systems"]["bm25"]["mrr@5"] == 0.75
    assert [q["ranks"] for q in data["per_query"]] == [{"bm25": r} for r in (0, 1, 1, 1)]


def test_cli_table_and_errors(tmp_path):
    pkg = write_package(tmp_path)
    result = CliRunner().invoke(bench, ["search", str(pkg), "--system", "bm25"])
    assert result.exit_code == 0, result.output
    assert "MRR@10" in result.output and "tinypkg: 5 files, 4 docstring queries" in result.output
    row = next(line for line in result.output.splitlines() if "bm25" in line)
    assert "0.750" in row
    (tmp_path / "work" / "tinypkg").mkdir(parents=True)
    result = CliRunner().invoke(bench, ["search", str(pkg), "--system", "bm25", "--work-dir", str(tmp_path / "work")])
    assert result.exit_code == 1
    assert "already exists; remove it or choose another work dir" in result.output


@pytest.mark.parametrize("module", [bench_search, pysource])
def test_docstring_examples(module):
    """The worked examples in the docstrings are tests too."""
    failed, attempted = doctest.testmod(module)
    assert attempted > 0 and failed == 0


# ---------------------------------------------------------------- graphmer end to end


def test_graphmer_end_to_end(tmp_path):
    pkg = write_package(tmp_path)
    result = run_benchmark(pkg, work_dir=tmp_path / "work", keep=True)
    assert [s.system for s in result.systems] == ["graphmer-lexical", "bm25", "bm25-split"]
    graphmer, bm25, bm25_split = result.systems
    assert bm25_split.ranks[1:] == (1, 1, 1)
    # frobnicate's query words are only in its docstring: found, it would mean the docstring leaked.
    assert graphmer.ranks == (0, 1, 1, 1)
    assert graphmer.mrr == pytest.approx(3 / 4)
    assert graphmer.index_s > 0 and graphmer.query_ms_mean > 0
    assert (tmp_path / "work" / "tinypkg" / ".graphmer").is_dir()  # the index lives in the copy
    assert not (pkg / ".graphmer").exists()  # and never in the package measured
