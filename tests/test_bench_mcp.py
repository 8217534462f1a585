"""graphmer bench mcp and agent-tasks on the sample project: the latency bench drives a real
`graphmer mcp` (no timing asserted), and the agent-task harness scores a small task set exactly."""
from __future__ import annotations

import json

import pytest

from graphmer.bench.agent_tasks import (
    bench_agent_tasks,
    block_end,
    def_lines,
    load_tasks,
    markdown_table,
    run_tasks,
    summary,
)
from graphmer.bench.mcp import TIMED_TOOLS, bench_mcp
from graphmer.index.indexer import IndexConfig, build_index

NO_DENSE = ("--no-dense",)

TASKS = {
    "package": "app",
    "tasks": [
        {"id": "callers-helper", "kind": "who calls", "question": "Who calls helper?",
         "facts": [{"in": "app/cli.py:9"}, {"at": "app/base.py:5"}, {"text": "def helper"}],
         "graphmer": [{"tool": "callers", "arguments": {"symbol": "helper"}}],
         "grep": [{"run": "grep -rn 'helper(' app", "read": "outline"}]},
        {"id": "raised-StoreError", "kind": "where is it raised", "question": "Where is StoreError raised?",
         "facts": [{"in": "app/store.py:19"}],
         "graphmer": [{"tool": "neighbours", "arguments": {"symbol": "StoreError", "relations": ["raised by"]}}],
         "grep": [{"run": "grep -rn 'def reload' app", "read": "function"}]},
        {"id": "unknown", "kind": "error", "question": "What is nowhere?",
         "facts": [{"text": "nowhere_at_all"}],
         "graphmer": [{"tool": "symbol_context", "arguments": {"symbol": "nowhere_at_all"}}],
         "grep": [{"run": "grep -rn 'nowhere_at_all' app"}]},
    ],
}


@pytest.fixture
def indexed(sample_repo):
    build_index(sample_repo, IndexConfig(jobs=1))
    return sample_repo


def test_latency_bench_calls_every_tool_through_the_protocol(indexed):
    r = bench_mcp(indexed, n=3, server_args=NO_DENSE)
    assert list(r.tools) == list(TIMED_TOOLS)
    for tool, row in r.tools.items():
        assert row["calls"] == 3 and row["errors"] == 0, (tool, row)
        assert 0 < row["p50"] <= row["p95"] <= row["max"]
        assert row["chars_p50"] > 0
    assert not r.first_search_error
    assert 0 < r.startup_s <= r.first_answer_s
    assert json.loads(json.dumps(r.to_json()))["calls"] == 3


def test_latency_bench_needs_an_index(sample_repo):
    with pytest.raises(ValueError, match="has no .graphmer/ index"):
        bench_mcp(sample_repo, n=1)


def test_agent_tasks_are_scored_exactly(indexed, tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(TASKS))
    _, tasks = load_tasks(path)
    res = run_tasks(indexed, tasks, NO_DENSE)

    callers = res[0]
    assert callers.graphmer.found == [True, False, False]  # the call site, not base.py:5, not the def line's text
    assert callers.grep.found == [True, False, True]
    grep_texts = [r.text for r in callers.returned["grep"]]
    assert grep_texts == ["app/cli.py:9:    helper()\napp/cli.py:13:def helper():\n", "5:def main():\n13:def helper():\n"]
    assert callers.grep.chars == sum(map(len, grep_texts)) and callers.grep.steps == 2
    (tool,) = callers.returned["graphmer"]
    assert "app.cli.main  app/cli.py:5-10" in tool.text and "9: helper()" in tool.text
    assert callers.graphmer.chars == len(tool.text) and callers.graphmer.errors == 0

    raised = res[1]
    assert raised.graphmer.found == [True]  # Store.save (line 14) raises it
    assert raised.grep.found == [False]  # grep read Store.reload, not save
    assert [r.text for r in raised.returned["grep"]][1] == "app/store.py:21-22\n21:     def reload(self):\n22:         return b.Base()"

    unknown = res[2]
    assert unknown.graphmer.errors == 1 and "no symbol named 'nowhere_at_all'" in unknown.returned["graphmer"][0].text
    assert unknown.graphmer.found == [True]  # the error message repeats the name: text facts are plain substrings
    assert unknown.grep.found == [False] and unknown.grep.chars == 0

    s = summary(res)
    assert s["graphmer"]["answered"] == 2 and s["grep"]["answered"] == 0 and s["facts"] == 5
    assert s["graphmer"]["chars"] == sum(r.graphmer.chars for r in res)
    assert markdown_table(res).splitlines()[2] == (
        f"| Who calls helper? | who calls | 1/3 | 2/3 | {callers.graphmer.chars:,} | {callers.grep.chars:,} |")


def test_bench_agent_tasks_copies_and_indexes_the_package(sample_repo, tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({**TASKS, "tasks": TASKS["tasks"][:1]}))
    r = bench_agent_tasks(sample_repo / "app", tmp_path / "work", path, dense=False)
    assert (tmp_path / "work" / "app" / "cli.py").is_file() and (tmp_path / "work" / ".graphmer").is_dir()
    assert r["summary"]["grep"]["facts_shown"] == 2 and r["tasks"][0]["graphmer"]["found"] == [True, False, False]


def test_shipped_tasks_load():
    meta, tasks = load_tasks()
    assert meta["package"] == "werkzeug" and len(tasks) == 20 and len({t.id for t in tasks}) == 20
    assert all(t.facts and t.graphmer and t.grep for t in tasks)


def test_def_lines_know_overloads_and_long_signatures():
    src = [
        "class A:",                        # 1
        "    @overload",                   # 2
        "    def f(self, x: int) -> int: ...",  # 3
        "    def f(",                      # 4
        "        self, x",                 # 5
        "    ) -> int:",                   # 6
        "        y = 1",                   # 7
        "        return y",                # 8
        "",                                # 9
        "    def g(self):",                # 10
        "        pass",                    # 11
    ]
    assert def_lines(src, 8) == {8, 4, 3, 2}
    assert def_lines(src, 11) == {11, 10}
    assert block_end(src, 4) == 8 and block_end(src, 1) == 11
