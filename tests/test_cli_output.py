"""The CLI's output as a pipe or a script sees it, its counts, and its input errors."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from graphmer.cli.main import cli
from conftest import write_tree

README = Path(__file__).resolve().parent.parent / "README.md"
LONG_DIR = "src/a_package_with_a_rather_long_name/and_a_subpackage_named_at_length"


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def graphmer_script() -> str:
    """The installed `graphmer` console script (beside this interpreter in a virtual environment)."""
    found = shutil.which("graphmer", path=os.path.dirname(sys.executable)) or shutil.which("graphmer")
    assert found, "the graphmer console script is not installed (pip install -e .)"
    return found


@pytest.fixture
def many_callers(tmp_path: Path) -> Path:
    """A repository (indexed, no model) where `the_target` has 3,000 callers, far more output than a pipe holds."""
    files = {f"{LONG_DIR}/target.py": "def the_target(first_argument, second_argument, third_argument, fourth_argument):\n    pass\n"}
    for m in range(30):
        files[f"{LONG_DIR}/callers_{m:02d}.py"] = "from .target import the_target\n\n\n" + "".join(
            f"def a_caller_of_the_target_function_{m:02d}_{i:03d}():\n    the_target(1, 2, 3, 4)\n\n\n" for i in range(100)
        )
    repo = write_tree(tmp_path / "repo", files)
    r = run("index", repo, "--no-dense", "--jobs", "1", "--json")
    assert r.exit_code == 0, r.output
    return repo


def test_piped_lines_are_not_wrapped(many_callers):
    r = subprocess.run(
        [graphmer_script(), "graph", "the_target", "--limit", "3", "--repo", many_callers], capture_output=True, text=True, check=True
    )
    lines = r.stdout.splitlines()
    assert "  def the_target(first_argument, second_argument, third_argument, fourth_argument)" in lines
    path = f"{LONG_DIR}/callers_00.py"
    assert f"    callers_00.a_caller_of_the_target_function_00_000  {path}:4 (line 5)" in lines

    r = subprocess.run(
        [graphmer_script(), "search", "a caller of the target function 00 001", "-k", "1", "--repo", many_callers],
        capture_output=True, text=True, check=True,
    )
    head = r.stdout.splitlines()[0]  # rank, location, symbol, kind and score on one line
    assert re.fullmatch(rf" 1  {re.escape(path)}:8  callers_00\.a_caller_of_the_target_function_00_001  function  [0-9.e-]+", head), r.stdout
    assert r.stderr.count("\n") == 1  # the one note (no vectors) is one line too


@pytest.mark.parametrize(
    "json_flag, reader, first_line",
    [("", "head -1", "\n"), ("--json", "head -1", "{\n"), ("", "true", ""), ("--json", "true", "")],
)
def test_reader_leaving_the_pipe_is_quiet(many_callers, json_flag, reader, first_line):
    """`graphmer graph the_target | head -1`: head leaves while graphmer is still writing
    (`| true`: before graphmer has started)."""
    r = subprocess.run(
        ["bash", "-c", f'"$0" graph the_target --limit 100000 {json_flag} --repo "$1" | {reader}; exit "${{PIPESTATUS[0]}}"',
         graphmer_script(), many_callers],
        capture_output=True, text=True,
    )
    assert r.stdout == first_line
    assert r.stderr == ""  # no "Broken pipe", no "Exception ignored ... BrokenPipeError"
    assert r.returncode == 0


def test_graph_counts_are_totals(tmp_path):
    lines = ["def target():\n    pass\n"] + [f"def caller_{i:02d}():\n    target()\n" for i in range(15)]
    files = {"pkg/a.py": "".join(lines), **{f"pkg/m{i}.py": "def target():\n    pass\n" for i in range(7)}}
    repo = write_tree(tmp_path / "repo", files)
    run("index", repo, "--no-dense", "--jobs", "1")

    r = run("graph", "a.target", "--limit", "5", "--repo", repo, "--json")
    out = json.loads(r.output)
    assert out["matches"] == 1
    view = out["symbols"][0]
    assert view["totals"] == {"callers": 15, "container": 1}
    assert [n["name"] for n in view["neighbours"]["callers"]] == [f"caller_{i:02d}" for i in range(5)]
    text = run("graph", "a.target", "--limit", "5", "--repo", repo).output
    assert "  callers (15)\n" in text and "    +10 more (--limit N shows more)\n" in text

    out = json.loads(run("graph", "target", "--repo", repo, "--json").output)
    assert (out["matches"], len(out["symbols"])) == (8, 5)
    text = run("graph", "target", "--repo", repo).output
    assert text.startswith("8 symbols match 'target'; showing 5 (+3 more: give a longer qualified name)\n")


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_a_usage_error(sample_repo, query):
    run("index", sample_repo, "--no-dense", "--jobs", "1")
    r = run("search", query, "--repo", sample_repo)
    assert r.exit_code == 2 and "QUERY is empty" in r.output


def test_batch_errors_say_what_is_wrong(sample_repo):
    run("index", sample_repo, "--no-dense", "--jobs", "1")
    lines = '{"id": 1, "query": "save"}\n{"id": 2, "q": "save"}\n{"id": 3, "query": " "}\n[1]\n{"id": 5, "query": 5}\n'
    r = run("search", "--queries", "-", "--repo", sample_repo, input=lines)
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert out[0]["hits"]
    assert out[1:] == [
        {"id": 2, "error": 'line 2: no "query" field'},
        {"id": 3, "error": 'line 3: "query" is empty'},
        {"id": None, "error": 'line 4: not a JSON object (give {"id": ..., "query": ...})'},
        {"id": 5, "error": 'line 5: "query" must be a string'},
    ]


@pytest.mark.parametrize("args", [("search", "save", "--mode", "lexical"), ("search", "save"), ("index", ".")])
def test_missing_model_path_is_named(sample_repo, monkeypatch, args):
    """Lexical search loads no model but still names the mistake; index tries to load it (the real loader)."""
    run("index", sample_repo, "--no-dense", "--jobs", "1")
    monkeypatch.chdir(sample_repo)
    r = run(*args, "--model", "/nonexistent/model")
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "Traceback" not in r.output
    assert "'/nonexistent/model' does not exist" in r.output


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def test_readme_names_the_commands_without_json():
    without = {name for name, cmd in _commands(cli) if not any(p.name == "as_json" for p in cmd.params)}
    assert without == {"lsp", "mcp"}
    text = " ".join(README.read_text().split())
    assert "Every command takes `--json`" not in text
    assert "Every command but `lsp` and `mcp` takes `--json`" in text
