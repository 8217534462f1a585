"""Benchmark workspace/symbol end to end: a real `graphmer lsp` process, timed per request.

Queries are drawn (seeded) from the index's own symbols in four shapes a user types:
a name prefix (3-6 characters), a whole name, word initials of a multi-word name, and
"Parent.name" for members. Each answer is checked for the symbol the query came from
(found = it is in the answer; rank = its place), so speed is never bought with misses.
"""
from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

from graphmer.bench.search import latency_stats
from graphmer.index.records import CLASS_KINDS
from graphmer.index.store import Store
from graphmer.index.symbol_match import SymbolTable, initials

SHAPES = ("prefix", "name", "initials", "member")


@dataclass(frozen=True, slots=True)
class SymbolQuery:
    shape: str
    query: str
    qualname: str  # the symbol it was made from


@dataclass
class SymbolBench:
    root: str
    symbols: int
    queries: int
    startup_s: float  # initialize -> first answer (index opened)
    latency_ms: dict = field(default_factory=dict)  # mean, p50, p95, max
    by_shape: dict = field(default_factory=dict)  # shape -> {queries, found, mean_rank, p95_ms}
    nested_found: int = 0  # targets defined inside a class (methods, nested classes) that were found

    def to_json(self) -> dict:
        return asdict(self)


def make_queries(table: SymbolTable, n: int, seed: int = 0) -> list[SymbolQuery]:
    """n queries, a quarter of each shape, from symbols chosen at random (seeded)."""
    rng = random.Random(seed)
    rows = [r for r in table.rows if r.kind != "module" and len(r.name) >= 3 and not r.name.startswith("__")]
    out: list[SymbolQuery] = []
    while len(out) < n and rows:
        r = rng.choice(rows)
        shape = SHAPES[len(out) % len(SHAPES)]
        if shape == "prefix":
            q = r.name[: rng.randint(3, min(6, len(r.name)))]
        elif shape == "name":
            q = r.name
        elif shape == "initials":
            q = initials(r.name)
            if len(q) < 2:
                continue
        else:
            parts = r.qualname.split(".")
            if r.kind != "method" or len(parts) < 2:
                continue
            q = f"{parts[-2]}.{r.name[:4]}"
        out.append(SymbolQuery(shape, q, r.qualname))
    return out


async def _run(root: Path, queries: list[SymbolQuery], server: list[str]) -> tuple[float, list[tuple[float, list[str]]]]:
    client = LanguageClient("graphmer-bench", "1")
    await client.start_io(*server)
    uri = from_fs_path(str(root))
    t0 = time.perf_counter()
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=uri,
        workspace_folders=[types.WorkspaceFolder(uri=uri, name=root.name)],
        initialization_options={"dense": False, "autoIndex": False}))
    client.initialized(types.InitializedParams())
    while not await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=queries[0].query)):
        await asyncio.sleep(0.05)
    startup = time.perf_counter() - t0
    out = []
    for q in queries:
        t = time.perf_counter()
        got = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=q.query)) or []
        ms = 1000 * (time.perf_counter() - t)
        out.append((ms, [f"{s.container_name}.{s.name}" if s.container_name else s.name for s in got]))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return startup, out


def bench_symbols(root: str | Path, n: int = 400, seed: int = 0) -> SymbolBench:
    """Time `n` workspace/symbol requests against a server started on the indexed `root`."""
    root = Path(root).resolve()
    store = Store(root / ".graphmer")
    try:
        table = SymbolTable.from_store(store)
    finally:
        store.close()
    queries = make_queries(table, n, seed)
    kinds = {r.qualname: r.kind for r in table.rows}
    server = [sys.executable, "-m", "graphmer.cli.main", "lsp"]
    startup, answers = asyncio.run(_run(root, queries, server))
    res = SymbolBench(str(root), len(table.rows), len(queries), round(startup, 2))
    res.latency_ms = latency_stats([ms for ms, _ in answers])
    for shape in SHAPES:
        rows = [(q, a) for q, a in zip(queries, answers) if q.shape == shape]
        ranks = [names.index(q.qualname) + 1 for q, (_, names) in rows if q.qualname in names]
        res.by_shape[shape] = {
            "queries": len(rows), "found": len(ranks),
            "mean_rank": round(statistics.fmean(ranks), 2) if ranks else None,
            "p95_ms": latency_stats([ms for _, (ms, _) in rows]).get("p95"),
        }
    res.nested_found = sum(  # members of a class (methods, nested classes) that were found
        1 for q, (_, names) in zip(queries, answers) if q.qualname in names and kinds.get(q.qualname.rsplit(".", 1)[0]) in CLASS_KINDS
    )
    return res


async def _ready_once(root: Path, query: str, server: list[str], model: str | None) -> tuple[float, int]:
    """Seconds from `initialize` to the first answer of a dense graphmer.search (the index
    opened and the model loaded), and how many hits it had."""
    from graphmer.bench.dense import user_env  # lazy: loaded only when this bench runs

    client = LanguageClient("graphmer-bench", "1")
    await client.start_io(*server, env=user_env())
    uri = from_fs_path(str(root))
    options = {"dense": True, "autoIndex": False, **({"model": model} if model else {})}
    t0 = time.perf_counter()
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=uri,
        workspace_folders=[types.WorkspaceFolder(uri=uri, name=root.name)], initialization_options=options))
    client.initialized(types.InitializedParams())
    hits = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="graphmer.search", arguments=[query, {"mode": "dense", "limit": 10}]))
    ready = time.perf_counter() - t0
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return ready, len(hits or [])


def lsp_ready(root: str | Path, runs: int = 3, query: str = "parse the configuration file", model: str | None = None) -> list[float]:
    """`graphmer lsp` readiness on the existing index of `root`, one fresh server per run:
    seconds from initialize to its first dense search answer (sorted)."""
    root = Path(root).resolve()
    server = [sys.executable, "-m", "graphmer.cli.main", "lsp"]
    out = []
    asyncio.run(_ready_once(root, query, server, model))  # untimed: bytecode caches, as for a user's second start
    for _ in range(runs):
        ready, n = asyncio.run(_ready_once(root, query, server, model))
        if not n:
            raise RuntimeError(f"graphmer lsp gave no dense hits on {root}: is it indexed with the model?")
        out.append(round(ready, 3))
    return sorted(out)
