"""`graphmer bench mcp`: latency of `graphmer mcp`'s tools through the real protocol.

A `graphmer mcp --repo ROOT` subprocess is driven with the `mcp` SDK's stdio client on the
existing index of ROOT (the index is only read: `reindex` is not timed). Startup is timed
from spawning the process to `initialize` answered and to the first tool result (the index
opened); then every read tool gets `calls` requests whose arguments are drawn (seeded) from
the index: symbols from the store (functions, methods, classes), search queries from the
docstrings of the indexed files (graphmer/bench/answers.py), references at a symbol's name
on its definition line, definition at the callee's name on a recorded call site. The first
search (which loads the search model) is reported apart from the other searches.
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from graphmer.bench.answers import docstring_queries
from graphmer.bench.dense import user_env
from graphmer.bench.search import latency_stats
from graphmer.index.search import Searcher

TIMED_TOOLS = ("search", "find_symbol", "symbol_context", "callers", "callees", "neighbours", "references",
               "definition", "index_status")
AIM_P95_MS = 100.0  # issue 20: every tool but a first search answers within 100 ms at p95
CALL_TIMEOUT_S = 300.0  # a first search may wait for the model to load


@dataclass(frozen=True)
class ToolCall:
    """One answer of the server: the tool's text for the model, its structured content, and whether it was an error."""

    tool: str
    arguments: dict
    text: str
    structured: dict | None
    is_error: bool
    ms: float


@dataclass(frozen=True)
class Connection:
    """An initialized client session with a `graphmer mcp` subprocess."""

    session: ClientSession
    spawned_at: float  # time.perf_counter() when the process was spawned
    startup_s: float  # spawn -> initialize answered


@asynccontextmanager
async def mcp_session(root: Path, extra_args: tuple[str, ...] = ()):
    """A Connection to a fresh `graphmer mcp --repo root` subprocess (stdio), initialized."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "graphmer", "mcp", "--repo", str(root), *extra_args],
                                   env=user_env())
    t0 = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield Connection(session, t0, time.perf_counter() - t0)


async def call(session: ClientSession, tool: str, arguments: dict) -> ToolCall:
    """Call one tool and time it (ms, the client's wall clock from request to parsed answer)."""
    t = time.perf_counter()
    with anyio.fail_after(CALL_TIMEOUT_S):
        res = await session.call_tool(tool, arguments)
    ms = 1000 * (time.perf_counter() - t)
    text = "\n".join(c.text for c in res.content if getattr(c, "type", "") == "text")
    return ToolCall(tool, arguments, text, res.structured_content, bool(res.is_error), ms)


@dataclass(frozen=True)
class Sample:
    """The arguments drawn from the index: symbols, queries and positions."""

    symbols: list[str]  # qualified names
    queries: list[str]
    name_sites: list[tuple[str, int, int]]  # (path, line, column) of a symbol's name on its definition line
    use_sites: list[tuple[str, int, int]]  # (path, line, column) of a callee's name on a call site


def _column(line_text: str, name: str) -> int | None:
    """1-based column of `name` as a whole word on the line, or None."""
    i = line_text.find(name)
    while i >= 0:
        before = line_text[i - 1] if i else " "
        after = line_text[i + len(name)] if i + len(name) < len(line_text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return i + 1
        i = line_text.find(name, i + 1)
    return None


def _sites(root: Path, rows: list[tuple[str, int, str]], n: int, rng: random.Random) -> list[tuple[str, int, int]]:
    """Up to n (path, line, column) positions of `name` on `line` of `path`, from rows drawn at random."""
    rows = rows[:]
    rng.shuffle(rows)
    out: list[tuple[str, int, int]] = []
    cache: dict[str, list[str]] = {}
    for path, line, name in rows:
        if len(out) >= n:
            break
        if path not in cache:
            try:
                cache[path] = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                cache[path] = []
        lines = cache[path]
        col = _column(lines[line - 1], name) if 0 < line <= len(lines) else None
        if col is not None:
            out.append((path, line, col))
    return out


def sample_arguments(root: str | Path, n: int, seed: int = 0) -> Sample:
    """n of each kind of argument, drawn (seeded) from the index of `root`."""
    root = Path(root).resolve()
    rng = random.Random(seed)
    searcher = Searcher.open(root, embedder=None)
    store = searcher.store
    try:
        queries = docstring_queries(searcher, root, n, seed)
        every = store.sample_symbol_rows()
        rows = [r for r in every if r[3] in ("function", "method", "class") and not r[1].startswith("__")]
        by_id = {r[0]: r for r in every}
        calls = [(by_id[src][7], line, qual.rsplit(".", 1)[-1]) for src, _, line, qual, dst in store.named_edges(("calls",))
                 if src in by_id and dst in by_id and line]  # calls of symbols defined in the repository
    finally:
        searcher.close()
    if not rows:
        raise ValueError(f"the index of {root} has no functions, methods or classes to ask about")
    chosen = [rng.choice(rows) for _ in range(n)]
    names = _sites(root, [(r[7], r[4], r[1]) for r in rows], n, rng)
    return Sample([r[2] for r in chosen], queries or ["parse"], names, _sites(root, calls, n, rng) or names)


def tool_arguments(sample: Sample, tool: str, i: int) -> dict:
    """The i-th call's arguments for `tool` (cycling through the sample)."""
    sym = sample.symbols[i % len(sample.symbols)]
    if tool == "search":
        return {"query": sample.queries[i % len(sample.queries)]}
    if tool == "find_symbol":
        return {"name": sym.rsplit(".", 1)[-1]}
    if tool in ("symbol_context", "callers", "callees", "neighbours"):
        return {"symbol": sym}
    if tool in ("references", "definition"):
        sites = sample.name_sites if tool == "references" else sample.use_sites
        path, line, column = sites[i % len(sites)]
        return {"path": path, "line": line, "column": column}
    return {}


def stats(ms: list[float]) -> dict:
    """{calls, mean, p50, p95, max} in ms, rounded to 0.01."""
    return {"calls": len(ms), **latency_stats(ms)}


@dataclass
class McpBench:
    root: str
    calls: int  # per tool
    startup_s: float  # spawn -> initialize answered
    first_answer_s: float  # spawn -> the first tool result (find_symbol; the index opened)
    first_search_ms: float  # the first search: loads the search model
    first_search_error: bool
    tools: dict = field(default_factory=dict)  # tool -> {calls, errors, mean, p50, p95, max, chars_p50, within_aim}
    all_within_aim: bool = False

    def to_json(self) -> dict:
        return asdict(self) | {"aim_p95_ms": AIM_P95_MS}


async def _run(root: Path, sample: Sample, n: int, server_args: tuple[str, ...]
               ) -> tuple[float, float, ToolCall, dict[str, list[ToolCall]]]:
    async with mcp_session(root, server_args) as conn:
        session = conn.session
        first = await call(session, "find_symbol", {"name": sample.symbols[0].rsplit(".", 1)[-1]})
        first_answer = time.perf_counter() - conn.spawned_at
        if first.is_error:
            raise RuntimeError(f"graphmer mcp could not answer on {root}: {first.text}")
        first_search = await call(session, "search", {"query": sample.queries[0]})
        out: dict[str, list[ToolCall]] = {}
        for tool in TIMED_TOOLS:
            out[tool] = [await call(session, tool, tool_arguments(sample, tool, i + (tool == "search"))) for i in range(n)]
        return conn.startup_s, first_answer, first_search, out


def bench_mcp(root: str | Path, n: int = 100, seed: int = 0, server_args: tuple[str, ...] = ()) -> McpBench:
    """Time `n` calls of every read tool of a `graphmer mcp` server (started with `server_args`
    after `--repo root`) on the existing index of `root`."""
    root = Path(root).resolve()
    if not (root / ".graphmer").is_dir():
        raise ValueError(f"{root} has no .graphmer/ index: run `graphmer index {root}` first")
    sample = sample_arguments(root, n, seed)
    startup, first_answer, first_search, calls = anyio.run(_run, root, sample, n, server_args)
    res = McpBench(str(root), n, round(startup, 3), round(first_answer, 3), round(first_search.ms, 1), first_search.is_error)
    for tool, got in calls.items():
        row = stats([c.ms for c in got])
        row["errors"] = sum(c.is_error for c in got)
        row["chars_p50"] = int(statistics.median(len(c.text) for c in got))
        row["within_aim"] = row["p95"] <= AIM_P95_MS
        res.tools[tool] = row
    res.all_within_aim = all(r["within_aim"] for r in res.tools.values())
    return res
