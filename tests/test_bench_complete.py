"""The completion benchmark end to end on a tiny package, graphmer beside jedi."""
from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from graphmer.bench.completion import BenchError, run_completion_bench
from graphmer.model.complete_sites import find_sites

PKG = {
    "__init__.py": "from tiny.core import Engine\n",
    "core.py": '''
        class Engine:
            def __init__(self):
                self.speed = 0
                self.gear = 1

            def start(self):
                self.speed = 10
                return self.speed

            def shift(self):
                self.gear = self.gear + 1
                return self.start()
        ''',
    "use.py": '''
        from tiny.core import Engine


        def drive():
            car = Engine()
            car.start()
            car.shift()
            return car.speed
        ''',
}


@pytest.fixture()
def tiny(tmp_path):
    pkg = tmp_path / "src" / "tiny"
    pkg.mkdir(parents=True)
    for name, text in PKG.items():
        (pkg / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return pkg


def test_find_sites_keeps_loads_of_long_non_dunder_names(tiny):
    sites = find_sites(tiny.parent, ["tiny/core.py", "tiny/use.py"])
    got = [(s.path, s.line, s.column, s.receiver, s.name) for s in sites]
    # stores (self.speed = ...) and short names are not sites; self.gear + 1 is.
    assert got == [
        ("tiny/core.py", 7, 20, "self", "speed"),
        ("tiny/core.py", 10, 25, "self", "gear"),
        ("tiny/core.py", 11, 20, "self", "start"),
        ("tiny/use.py", 5, 8, "car", "start"),
        ("tiny/use.py", 6, 8, "car", "shift"),
        ("tiny/use.py", 7, 15, "car", "speed"),
    ]


def test_bench_end_to_end_with_jedi(tiny, tmp_path):
    r = run_completion_bench(tiny, sites=10, seed=3, with_jedi=True, work_dir=tmp_path / "work")
    assert (r.package, r.files, r.candidate_sites, len(r.sites), r.leak_checks) == ("tiny", 3, 6, 6, 6)
    by = {(s.system, s.prefix_len): s for s in r.scores}
    assert set(by) == {("graphmer", 0), ("graphmer", 1), ("jedi", 0), ("jedi", 1)}
    # Every name is a member of the inferred class: graphmer finds all, ranked by use. In
    # start(), `return self.s` gives speed first: start itself would be a recursive call.
    assert r.ranks["graphmer/1"] == [1, 1, 2, 3, 3, 3]
    assert by[("graphmer", 0)].coverage == 1.0 and by[("graphmer", 0)].top5 == 1.0
    assert by[("jedi", 1)].coverage == 1.0  # jedi infers these types too
    assert 0 < by[("graphmer", 0)].mean_ms <= by[("graphmer", 0)].p95_ms
    assert json.loads(json.dumps(r.to_json()))["sites"] == 6


def test_cli_json(tiny, tmp_path):
    from graphmer.cli.bench import bench

    res = CliRunner().invoke(bench, ["completion", str(tiny), "--sites", "4", "--seed", "1", "--no-jedi", "--json",
                                     "--work-dir", str(tmp_path / "w")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["sites"] == 4 and data["leak_checks"] == 4
    assert sorted(s["system"] for s in data["scores"]) == ["graphmer", "graphmer"]


def test_not_a_package(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no member-access sites"):
        run_completion_bench(tmp_path / "empty", with_jedi=False, work_dir=tmp_path / "w")
