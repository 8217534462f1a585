"""`graphmer mcp` end to end: a subprocess driven by the MCP SDK's stdio client, asked right
after it starts. Every tool with its exact answer, a bad argument (a tool error, then the
server keeps serving), an unknown symbol, the index built in the background on a first start
(without torch, with the shipped model), and an index rebuilt underneath the running server."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from graphmer.cli.main import cli
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.lock import IndexLock

REPO = Path(__file__).resolve().parent.parent
TOOLS = ["search", "find_symbol", "symbol_context", "references", "definition", "callers", "callees", "neighbours",
         "index_status", "reindex"]
WAIT = 240.0  # seconds a test waits for a background build (generous: the machine may be busy)


@asynccontextmanager
async def session(root: Path, *args: str, env: dict | None = None):
    params = StdioServerParameters(command=sys.executable, args=["-m", "graphmer", "mcp", "--repo", str(root), *args],
                                   env=env or dict(os.environ), cwd=str(REPO))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            yield s


async def call(s: ClientSession, tool: str, **args):
    r = await s.call_tool(tool, args)
    return r.is_error, r.content[0].text, r.structured_content


async def until_answered(s: ClientSession, tool: str, **args):
    """Call the tool until it stops answering "indexing" (the first answer must say it)."""
    with anyio.fail_after(WAIT):
        while True:
            err, text, data = await call(s, tool, **args)
            if not err:
                return text, data
            assert "graphmer is indexing" in text or "opening the index" in text, text
            await anyio.sleep(0.05)


@pytest.fixture
def indexed(sample_repo):
    build_index(sample_repo, IndexConfig(jobs=1))
    return sample_repo


def test_every_tool_answers_over_stdio(indexed):
    async def run():
        async with session(indexed, "--no-dense") as s:
            assert (await call(s, "find_symbol", name="save"))[1] == (
                "2 symbols match 'save'\napp.base.Base.save  method  app/base.py:4-6\napp.store.Store.save  method  app/store.py:14-19")
            listed = (await s.list_tools()).tools
            assert [t.name for t in listed] == TOOLS
            search = listed[0]
            assert search.input_schema["required"] == ["query"]
            assert list(search.input_schema["properties"]) == ["query", "k", "mode", "path_glob", "kind", "language"]
            assert search.output_schema["required"] == ["query", "mode", "hits", "notes"]
            assert all(t.output_schema and t.description for t in listed)
            err, text, data = await call(s, "search", query="save the store", k=2, mode="lexical")
            assert not err and [h["qualname"] for h in data["hits"]] == ["app.store.Store.save", "app.base.Base.save"]
            assert data["hits"][0]["lines"] == [{"line": 14, "text": "def save(self):"}, {"line": 15, "text": '"""Save the store, then push it."""'}]
            assert text.startswith("2 hits for 'save the store' (lexical)\n1. app/store.py:14-19  app.store.Store.save  method  ")
            err, text, data = await call(s, "symbol_context", symbol="Base.save")
            assert text == ("app.base.Base.save  method  app/base.py:4-6\nsignature: def save(self)\ndoc: Write the object to disk.\n"
                            "class: app.base.Base  app/base.py:1-9  class Base\nsource:\n4:     def save(self):\n"
                            '5:         """Write the object to disk."""\n6:         return self.serialize()\n'
                            "outline of app/base.py (3 symbols):\n  1-9  class  app.base.Base\n  4-6  method  app.base.Base.save\n"
                            "  8-9  method  app.base.Base.serialize")
            assert (await call(s, "callers", symbol="Base.save"))[1] == (
                "callers of app.base.Base.save (method, app/base.py:4-6), depth 1: 1\n  app.store.Store.save  app/store.py:14-19\n"
                "    16: super().save()")
            err, text, data = await call(s, "callees", symbol="app.cli.main")
            assert [(c["qualname"], [x["line"] for x in c["sites"]]) for c in data["calls"]] == [
                ("app.cli.helper", [9]), ("app.store.Store", [7, 8])]
            assert (await call(s, "neighbours", symbol="Store.save", relations=["overrides", "raises"]))[1] == (
                "app.store.Store.save (method, app/store.py:14-19)\n  overrides (1)\n    app.base.Base.save  app/base.py:4\n"
                "  raises (1)\n    app.store.StoreError  app/store.py:7 (line 19)")
            assert (await call(s, "references", path="app/base.py", line=4, column=9))[1] == (
                "2 references to app.base.Base.save (method, app/base.py:4-6)\napp/base.py:4:9  def save(self):\n"
                "app/store.py:16:17  super().save()")
            err, text, data = await call(s, "definition", path="app/cli.py", line=9, column=5)
            assert data == {"symbol": {"qualname": "app.cli.helper", "kind": "function", "path": "app/cli.py", "start_line": 13,
                                       "end_line": 14}, "location": {"path": "app/cli.py", "line": 13, "column": 5, "text": "def helper():"},
                            "signature": "def helper()"}
            err, text, data = await call(s, "index_status")
            assert (data["state"], data["index"]["files"], data["index"]["symbols"]) == ("ready", 4, 13)
            err, text, data = await call(s, "reindex")
            assert data["started"] and text.startswith(f"re-indexing {indexed} in the background")

    anyio.run(run)


def test_bad_arguments_are_tool_errors_and_the_server_keeps_serving(indexed):
    async def run():
        async with session(indexed, "--no-dense") as s:
            assert await call(s, "search", query="save", k=-1) == (
                True, "Error executing tool search: k must be an integer from 1 to 100, not -1", None)
            assert await call(s, "search", query="save", mode="semantic") == (
                True, "Error executing tool search: mode must be one of hybrid, dense, lexical, not 'semantic'", None)
            assert await call(s, "definition", path="/etc/passwd", line=1, column=1) == (
                True, f"Error executing tool definition: /etc/passwd is outside the repository {indexed}: give a path relative to it", None)
            assert await call(s, "references", path="app/cli.py", line=500, column=1) == (
                True, "Error executing tool references: line must be an integer from 1 to 14, not 500", None)
            assert await call(s, "callers", symbol="Stor") == (
                True, "Error executing tool callers: no symbol named 'Stor' in the index; did you mean app.store.Store, app.store, "
                      "app.store.StoreError? (find_symbol matches names loosely, search by words)", None)
            err, text, data = await call(s, "search", query="save", k=1, mode="lexical")
            assert not err and data["hits"][0]["qualname"] == "app.base.Base.save"

    anyio.run(run)


@pytest.mark.parametrize("args, message", [
    (["--repo", "/nonexistent/repo"], "Error: --repo '/nonexistent/repo' is not a folder; give the repository (or a folder inside it)"),
    (["--model", "/nonexistent/model"], "Error: --model '/nonexistent/model' does not exist; give a model folder, or leave out --model for the shipped model"),
    (["--model", ".", "--no-dense"], "Error: --model and --no-dense contradict each other; give one"),
])
def test_bad_options_are_one_line_errors(sample_repo, args, message):
    r = CliRunner().invoke(cli, ["mcp", "--repo", str(sample_repo), *args])
    assert r.exit_code in (1, 2) and r.output.strip().splitlines()[-1] == message


NO_TORCH = "raise ModuleNotFoundError(\"No module named 'torch' (blocked by graphmer's tests)\", name='torch')\n"


def test_first_start_builds_the_index_without_torch(sample_repo, tmp_path):
    """The server builds the index (with the shipped model, on ONNX) while it answers
    "indexing"; here it waits first for the writers' lock this test holds, so the first
    answers are "indexing" whatever the machine's speed."""
    shadow = tmp_path / "shadow" / "torch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(NO_TORCH)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "shadow"), str(REPO)]))

    async def run():
        lock = IndexLock(sample_repo / ".graphmer").__enter__()
        try:
            async with session(sample_repo, env=env) as s:
                err, text, _ = await call(s, "find_symbol", name="Store.save")
                assert err and text.startswith(f"Error executing tool find_symbol: graphmer is indexing {sample_repo}: 0% done (stage ")
                assert text.endswith("; ask again shortly")
                assert (await call(s, "index_status"))[2]["state"] == "indexing"
                lock.__exit__(None, None, None)  # let the build run
                text, data = await until_answered(s, "find_symbol", name="Store.save")
                assert [x["qualname"] for x in data["symbols"]] == ["app.store.Store.save"]
                text, data = await until_answered(s, "search", query="save the store to disk", k=1, mode="dense")
                assert data["mode"] == "dense" and data["notes"] == [] and len(data["hits"]) == 1
                assert (await call(s, "index_status"))[2]["index"]["vectors"] == 9
        finally:
            lock.__exit__(None, None, None)

    anyio.run(run)


def test_an_index_rebuilt_underneath_is_followed(indexed):
    async def run():
        async with session(indexed, "--no-dense") as s:
            assert [x["qualname"] for x in (await call(s, "find_symbol", name="helper"))[2]["symbols"]] == ["app.cli.helper"]
            cli = indexed / "app" / "cli.py"
            cli.write_text(cli.read_text().replace("helper", "assistant"))
            r = subprocess.run([sys.executable, "-m", "graphmer", "index", str(indexed), "--rebuild", "--no-dense", "--jobs", "1"],
                               capture_output=True, text=True, cwd=REPO, timeout=WAIT)
            assert r.returncode == 0, r.stderr
            err, text, data = await call(s, "find_symbol", name="assistant")
            assert not err and [x["qualname"] for x in data["symbols"]] == ["app.cli.assistant"]
            assert (await call(s, "callees", symbol="app.cli.main"))[2]["calls"][0]["sites"] == [{"line": 9, "text": "assistant()"}]
            err, text, _ = await call(s, "callers", symbol="app.cli.helper")
            assert err and "no symbol named 'app.cli.helper'" in text

    anyio.run(run)
