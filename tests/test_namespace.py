"""graphmer installs under its own import namespace (issue 19): in a fresh virtual environment
where an unrelated distribution provides top-level `model`, `index`, `lsp` and `graphmer_cli`
modules, every graphmer command still works."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

# The unrelated distribution's modules: importing any of them from graphmer is the bug.
COLLIDING = ("model", "index", "lsp", "graphmer_cli")
TRAP = "raise ImportError('the unrelated package\\'s top-level {name!r} was imported instead of graphmer\\'s')\n"

# Every command's --help, in one process: a command whose module imports a colliding name fails.
ALL_HELP = textwrap.dedent("""
    import click
    from click.testing import CliRunner
    from graphmer.cli.main import cli

    def walk(cmd, path):
        yield path
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, path + [name])

    runner, failed, n = CliRunner(), [], 0
    for path in walk(cli, []):
        r = runner.invoke(cli, path + ["--help"])
        n += 1
        if r.exit_code != 0 or "Usage:" not in r.output:
            failed.append((" ".join(path), r.exit_code, repr(r.exception), r.output[-300:]))
    print(n, failed)
    raise SystemExit(1 if failed else 0)
""")


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv whose site-packages holds the unrelated distribution, and reaches graphmer
    and its dependencies through a .pth line (after its own site-packages, as an installed
    neighbour would be)."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    for name in COLLIDING:
        (site / name).mkdir()
        (site / name / "__init__.py").write_text(TRAP.format(name=name))
    info = site / "unrelated-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: unrelated\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("\n".join(COLLIDING) + "\n")
    # graphmer's environment (its .pth files too: an editable install is one), after this one's
    (site / "zz-graphmer-dev.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return python


def _run(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """python *args in a folder that is not graphmer's checkout (whose graphmer/ would be on sys.path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env, cwd=cwd or python.parent, timeout=300)


def test_the_unrelated_modules_shadow_the_top_level_names(venv):
    # the check below is only worth something if the colliding names resolve to the trap
    r = _run(venv, "-c", "import model")
    assert r.returncode != 0 and "unrelated package" in r.stderr


def test_every_command_s_help_works_beside_an_unrelated_model_module(venv):
    r = _run(venv, "-c", ALL_HELP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert int(r.stdout.split()[0]) >= 20  # the walk reached the subcommands


def test_index_search_graph_and_status_work_beside_it(venv, tmp_path):
    repo = tmp_path / "repo"
    (repo / "shapes").mkdir(parents=True)
    (repo / "shapes" / "area.py").write_text(textwrap.dedent('''
        class Circle:
            def __init__(self, r):
                self.r = r

            def area(self):
                """Area of the circle."""
                return 3.14159 * self.r * self.r


        def total_area(shapes):
            return sum(s.area() for s in shapes)
    '''))
    graphmer = ["-m", "graphmer"]
    r = _run(venv, *graphmer, "index", str(repo), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["symbols_embedded"] >= 3
    for mode in ("hybrid", "dense", "lexical"):
        r = _run(venv, *graphmer, "search", "sum of the areas of shapes", "--mode", mode, "--json", cwd=repo)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["hits"][0]["qualname"].endswith("total_area"), (mode, r.stdout)
    r = _run(venv, *graphmer, "graph", "Circle.area", "--json", cwd=repo)
    assert r.returncode == 0, r.stderr
    (found,) = json.loads(r.stdout)["symbols"]
    assert found["symbol"]["qualname"].endswith("Circle.area") and found["totals"]["container"] == 1
    r = _run(venv, *graphmer, "status", "--json", cwd=repo)
    assert r.returncode == 0, r.stderr
