"""The README's commands as a newcomer pastes them, and .ci/run, which runs them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_tree

CHECKOUT = Path(__file__).resolve().parent.parent


def readme_command(readme: str, marker: str) -> str:
    """The line two lines after `<!-- marker -->` (the line between opens the code block), as .ci/run reads it."""
    lines = readme.splitlines()
    return lines[lines.index(f"<!-- {marker} -->") + 2]


def test_main_command_works_in_a_repository_that_is_not_the_checkout(tmp_path):
    cmd = readme_command((CHECKOUT / "README.md").read_text(), "main-command")
    repo = write_tree(tmp_path / "repo", {"tool/files.py": '''
        def parse_file(path):
            """Parse a file into symbols."""
            return open(path).read().split()
    '''})
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(["bash", "-c", cmd], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert " 1  tool/files.py:1  files.parse_file  function  " in r.stdout
    assert (repo / ".graphmer" / "index.db").exists()


@pytest.fixture
def fake_checkout(tmp_path):
    """A copy of .ci/run beside a README whose commands only record where and how they ran."""
    root = tmp_path / "checkout"
    (root / ".ci").mkdir(parents=True)
    shutil.copy2(CHECKOUT / ".ci" / "run", root / ".ci" / "run")
    return root


def write_readme(root: Path, test_cmd: str, main_cmd: str, install_cmd: str = "true") -> None:
    (root / "README.md").write_text(
        f"# x\n\n<!-- install-command -->\n```bash\n{install_cmd}\n```\n\n"
        f"<!-- main-command -->\n```bash\n{main_cmd}\n```\n\n<!-- test-command -->\n```bash\n{test_cmd}\n```\n"
    )


@pytest.mark.parametrize("fails", ["", "test", "main", "install"])
def test_ci_runs_both_commands_and_leaves_no_venv(fake_checkout, tmp_path, fails):
    log = tmp_path / "log"
    test_cmd = f'echo "test $VIRTUAL_ENV" >> {log}' + (" && false" if fails == "test" else "")
    main_cmd = f'echo "main $PWD" >> {log} && echo shapes.parse.parse_file' + (" && false" if fails == "main" else "")
    install_cmd = f'echo "install $VIRTUAL_ENV $PWD" >> {log}' + (" && false" if fails == "install" else "")
    write_readme(fake_checkout, test_cmd, main_cmd, install_cmd)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    r = subprocess.run(["bash", str(fake_checkout / ".ci" / "run")], env={**os.environ, "TMPDIR": str(scratch)},
                       capture_output=True, text=True)
    assert (r.returncode == 0) == (not fails), r.stdout + r.stderr
    lines = log.read_text().splitlines()
    ran = dict(line.split(" ", 1) for line in lines)
    assert ran["test"].startswith(str(scratch))  # a fresh virtual environment ...
    if fails != "test":
        assert ran["main"].startswith(str(scratch)) and fake_checkout not in Path(ran["main"]).parents  # ... a repository elsewhere
    if fails not in ("test", "main"):  # then the install command alone, in a second fresh environment, in the checkout
        venv, where = ran["install"].split(" ")
        assert venv.startswith(str(scratch)) and venv != ran["test"] and Path(where) == fake_checkout
        assert [x.split(" ")[0] for x in lines] == ["test", "main", "install"] + ([] if fails else ["main"])
    assert list(scratch.iterdir()) == []  # ... and both gone, however the run ended
