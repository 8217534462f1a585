"""`graphmer bench agent-tasks`: questions a coding agent asks about a package, answered two
ways: through `graphmer mcp`'s tools (a real server, the SDK's stdio client) and with grep plus
reading files. Each way is scored on what it returns to the agent: the characters (the tools'
text content; grep's output plus the file text read) and whether the task's facts are in it.

A fact is shown by a strategy when (graphmer/bench/agent_tasks.json says the same):
- {"at": "path:line"}: that line is shown: a grep output line `path:line:` (or `-` for context),
  a line of a file read, or a line a tool result gives (a symbol's first line, a search hit's
  or call site's line, a reference, a line of symbol_context's source);
- {"in": "path:line"}: that line, or the first line of the function or class around it (the
  answer names where it happens);
- {"text": "..."}: the text appears in what was returned.
The outline a grep step reads (each file's def and class lines, to name the function around a
hit) is counted in the characters but shows no places: it lists every function of the file.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anyio

from graphmer.bench.mcp import ToolCall, call, mcp_session
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.neighbours import INCOMING
from graphmer.model.embedder import load_embedder

TASKS_FILE = Path(__file__).with_name("agent_tasks.json")
DEF_LINE = re.compile(r"^(\s*)(async\s+def|def|class)\s")
GREP_LINE = re.compile(r"^(?P<path>[^:\n]+?\.\w+)[:-](?P<line>\d+)[:-]")
SINGLE_FILE_LINE = re.compile(r"^(?P<line>\d+)[:-]")
OUTLINE = r"^\s*(async def|def|class) "
INCOMING_LABELS = frozenset(INCOMING.values())


@dataclass(frozen=True)
class Task:
    id: str
    kind: str
    question: str
    facts: list[dict]
    graphmer: list[dict]  # {"tool": name, "arguments": {...}}
    grep: list[dict]  # {"run": "grep ...", "read": "outline" | "function" (optional)}


@dataclass(frozen=True)
class Returned:
    """What one step gave the agent: its text and the (path, line) places it shows."""

    what: str  # the tool call or command
    text: str
    places: frozenset[tuple[str, int]]
    error: bool = False


@dataclass
class Strategy:
    found: list[bool]  # per fact
    chars: int
    steps: int
    errors: int

    @property
    def answered(self) -> bool:
        return all(self.found)


@dataclass
class TaskResult:
    task: Task
    graphmer: Strategy
    grep: Strategy
    returned: dict = field(default_factory=dict)  # "graphmer" / "grep" -> [Returned]

    def to_json(self) -> dict:
        return {"id": self.task.id, "kind": self.task.kind, "question": self.task.question, "facts": self.task.facts,
                **{name: asdict(s) | {"answered": s.answered} for name, s in (("graphmer", self.graphmer), ("grep", self.grep))}}


def load_tasks(path: str | Path = TASKS_FILE) -> tuple[dict, list[Task]]:
    """The file's header fields and its tasks."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    tasks = [Task(t["id"], t["kind"], t["question"], t["facts"], t["graphmer"], t["grep"]) for t in data["tasks"]]
    return {k: v for k, v in data.items() if k != "tasks"}, tasks


# -- reading source as an agent would ------------------------------------------------------
def read_lines(root: Path, path: str) -> list[str]:
    return (root / path).read_text(encoding="utf-8", errors="replace").splitlines()


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def enclosing_def(lines: list[str], line: int) -> int | None:
    """The 1-based line of the innermost `def`/`class` around `line` (the line itself when it
    is one), or None: the nearest one above, indented less, whose block reaches `line`."""
    if DEF_LINE.match(lines[line - 1]):
        return line
    here = _indent(lines[line - 1])
    for i in range(line - 1, 0, -1):
        m = DEF_LINE.match(lines[i - 1])
        if m and len(m[1]) < here and block_end(lines, i) >= line:
            return i
    return None


def block_end(lines: list[str], start: int) -> int:
    """The last line of the def/class block starting at `start` (1-based): its header runs to the
    first line ending with ':', its body while lines are blank or indented deeper than the header."""
    i = start
    while i < len(lines) and not lines[i - 1].split("#", 1)[0].rstrip().endswith(":"):
        i += 1
    head, end = _indent(lines[start - 1]), i
    for j in range(i + 1, len(lines) + 1):
        text = lines[j - 1]
        if text.strip() and _indent(text) <= head:
            break
        if text.strip():
            end = j
    return end


def def_lines(lines: list[str], line: int) -> set[int]:
    """`line` and the first line (decorators included) of the function or class around it."""
    out = {line}
    start = enclosing_def(lines, line)
    if start is None:
        return out
    head, name = len(DEF_LINE.match(lines[start - 1])[1]), _def_name(lines[start - 1])
    found = [start]
    for i in range(start - 1, 0, -1):  # @overload stubs of the same name just above it
        m = DEF_LINE.match(lines[i - 1])
        if m and len(m[1]) <= head:
            if len(m[1]) < head or _def_name(lines[i - 1]) != name:
                break
            found.append(i)
    for d in found:  # each with its decorators
        out.add(d)
        while d > 1 and lines[d - 2].strip().startswith("@"):
            d -= 1
            out.add(d)
    return out


def _def_name(text: str) -> str:
    return re.sub(r"^\s*(async\s+def|def|class)\s+", "", text).split("(")[0].split(":")[0].strip()


# -- the grep strategy ---------------------------------------------------------------------
def _grep_places(output: str, single_file: str | None) -> frozenset[tuple[str, int]]:
    out = set()
    for row in output.splitlines():
        m = GREP_LINE.match(row)
        if m:
            out.add((m["path"].removeprefix("./"), int(m["line"])))
        elif single_file and (m := SINGLE_FILE_LINE.match(row)):
            out.add((single_file, int(m["line"])))
    return frozenset(out)


def _run(root: Path, argv: list[str]) -> str:
    if argv[0] != "grep":
        raise ValueError(f"a grep step runs grep, not {argv[0]!r}")
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode > 1:
        raise RuntimeError(f"{shlex.join(argv)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _read_function(root: Path, path: str, hits: list[int]) -> list[Returned]:
    """The whole innermost def/class around each hit, merged, numbered as an editor's read shows it."""
    lines = read_lines(root, path)
    spans = sorted({(s, block_end(lines, s)) for h in hits if (s := enclosing_def(lines, h)) is not None})
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [Returned(f"read {path}:{a}-{b}", "\n".join([f"{path}:{a}-{b}"] + [f"{n}: {lines[n - 1]}" for n in range(a, b + 1)]),
                     frozenset((path, n) for n in range(a, b + 1))) for a, b in merged]


def run_grep_step(root: Path, step: dict) -> list[Returned]:
    """One grep command, then the reads it leads to ("outline" or "function" of the files hit)."""
    argv = shlex.split(step["run"])
    single = argv[-1] if len(argv) > 2 and (root / argv[-1]).is_file() else None
    output = _run(root, argv)
    places = _grep_places(output, single)
    out = [Returned(step["run"], output, places)]
    by_file: dict[str, list[int]] = {}
    for path, line in sorted(places):
        by_file.setdefault(path, []).append(line)
    read = step.get("read")
    for path, hits in by_file.items():
        if read == "outline":
            cmd = ["grep", "-nE", OUTLINE, path]
            out.append(Returned(shlex.join(cmd), _run(root, cmd), frozenset()))
        elif read == "function":
            out += _read_function(root, path, hits)
        elif read is not None:
            raise ValueError(f"read must be 'outline' or 'function', not {read!r}")
    return out


# -- the graphmer strategy -----------------------------------------------------------------
def tool_places(tool: str, result: dict | None) -> frozenset[tuple[str, int]]:
    """The places a tool result shows (its compact text shows the same lines, see graphmer/mcp/results.py)."""
    if not result:
        return frozenset()
    out: set[tuple[str, int]] = set()

    def walk(node) -> None:  # every symbol's first line
        if isinstance(node, dict):
            if node.get("path") and node.get("start_line"):
                out.add((node["path"], node["start_line"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(result)
    sym = result.get("symbol") or {}
    if tool == "search":
        out |= {(h["path"], ln["line"]) for h in result["hits"] for ln in h["lines"]}
    elif tool == "symbol_context" and sym.get("path"):
        out |= {(sym["path"], n) for n in range(sym["start_line"], result["source_end_line"] + 1)}
        out |= {(sym["path"], o["start_line"]) for o in result["outline"]}
    elif tool in ("callers", "callees"):
        where = {sym.get("qualname"): sym.get("path")} | {c["qualname"]: c["path"] for c in result["calls"]}
        for c in result["calls"]:  # call sites are lines of the caller's file
            caller = c["path"] if tool == "callers" else where.get(c["via"])
            out |= {(caller, s["line"]) for s in c["sites"] if caller}
    elif tool == "neighbours":
        for g in result["groups"]:  # an edge's line is in its source's file
            for n in g["items"]:
                src = n["path"] if g["relation"] in INCOMING_LABELS else sym.get("path")
                if n["line"] and src:
                    out.add((src, n["line"]))
    elif tool in ("references", "definition"):
        locs = result["references"] if tool == "references" else [result["location"]] if result.get("location") else []
        out |= {(r["path"], r["line"]) for r in locs}
    return frozenset(out)


def returned_by_tool(c: ToolCall) -> Returned:
    return Returned(f"{c.tool}({json.dumps(c.arguments)})", c.text, tool_places(c.tool, c.structured), c.is_error)


# -- scoring -------------------------------------------------------------------------------
def fact_shown(root: Path, fact: dict, returned: list[Returned]) -> bool:
    """Whether the fact is in what the steps returned (the rules in the module docstring)."""
    if "text" in fact:
        return any(fact["text"] in r.text for r in returned)
    where = fact.get("at") or fact.get("in")
    path, line = where.rsplit(":", 1)
    wanted = {int(line)} if "at" in fact else def_lines(read_lines(root, path), int(line))
    places = set().union(*(r.places for r in returned)) if returned else set()
    return any((path, n) in places for n in wanted)


def score(root: Path, task: Task, returned: list[Returned]) -> Strategy:
    return Strategy([fact_shown(root, f, returned) for f in task.facts], sum(len(r.text) for r in returned),
                    len(returned), sum(r.error for r in returned))


async def _graphmer_all(root: Path, tasks: list[Task], server_args: tuple[str, ...]) -> list[list[Returned]]:
    out = []
    async with mcp_session(root, server_args) as conn:
        for task in tasks:
            out.append([returned_by_tool(await call(conn.session, s["tool"], s.get("arguments", {}))) for s in task.graphmer])
    return out


def run_tasks(root: str | Path, tasks: list[Task], server_args: tuple[str, ...] = ()) -> list[TaskResult]:
    """Both strategies on every task, on the indexed repository at `root` (one `graphmer mcp`
    server, started with `server_args`, for all)."""
    root = Path(root).resolve()
    by_tool = anyio.run(_graphmer_all, root, tasks, server_args)
    results = []
    for task, got in zip(tasks, by_tool):
        greps = [r for step in task.grep for r in run_grep_step(root, step)]
        results.append(TaskResult(task, score(root, task, got), score(root, task, greps), {"graphmer": got, "grep": greps}))
    return results


def prepare_copy(package: str | Path, work: str | Path, dense: bool = True) -> Path:
    """Copy the package folder into work/<name> (caches left out) and index work with graphmer; returns work."""
    package, work = Path(package).resolve(), Path(work).resolve()
    if not package.is_dir():
        raise ValueError(f"{package} is not a folder: give the package's folder (e.g. site-packages/werkzeug)")
    dest = work / package.name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(package, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    build_index(work, IndexConfig(embedder=load_embedder() if dense else None))
    return work


def summary(results: list[TaskResult]) -> dict:
    """Totals over tasks: tasks answered (every fact shown) and facts shown by each strategy, characters returned."""
    out = {"tasks": len(results), "facts": sum(len(r.task.facts) for r in results)}
    for name in ("graphmer", "grep"):
        s = [getattr(r, name) for r in results]
        out[name] = {"answered": sum(x.answered for x in s), "facts_shown": sum(sum(x.found) for x in s),
                     "chars": sum(x.chars for x in s), "steps": sum(x.steps for x in s), "errors": sum(x.errors for x in s)}
    both = [r for r in results if r.graphmer.answered and r.grep.answered]
    out["answered_by_both"] = len(both)
    out["chars_where_both_answered"] = {"graphmer": sum(r.graphmer.chars for r in both), "grep": sum(r.grep.chars for r in both)}
    return out


def markdown_table(results: list[TaskResult]) -> str:
    """The README's table: per task, facts shown by each strategy and characters returned."""
    rows = ["| task | kind | graphmer: facts | grep: facts | chars graphmer | chars grep |", "|---|---|---|---|---:|---:|"]
    def cell(s: Strategy) -> str:
        return f"{sum(s.found)}/{len(s.found)}" + (" ✓" if s.answered else "")

    for r in results:
        rows.append(f"| {r.task.question} | {r.task.kind} | {cell(r.graphmer)} | {cell(r.grep)} | "
                    f"{r.graphmer.chars:,} | {r.grep.chars:,} |")
    s = summary(results)
    g, p = s["graphmer"], s["grep"]
    rows.append(f"| **total** ({s['tasks']} tasks, {s['facts']} facts) | | {g['facts_shown']}/{s['facts']}, {g['answered']} tasks "
                f"| {p['facts_shown']}/{s['facts']}, {p['answered']} tasks | {g['chars']:,} | {p['chars']:,} |")
    return "\n".join(rows)


def bench_agent_tasks(package: str | Path, work: str | Path, tasks_file: str | Path = TASKS_FILE, dense: bool = True) -> dict:
    """Copy and index `package` under `work`, run every task both ways; JSON-able results."""
    meta, tasks = load_tasks(tasks_file)
    root = prepare_copy(package, work, dense)
    results = run_tasks(root, tasks, () if dense else ("--no-dense",))
    return {"package": str(Path(package).resolve()), "root": str(root), **meta, "summary": summary(results),
            "tasks": [r.to_json() for r in results], "table": markdown_table(results)}
