"""The house rules of the package layout, checked on the source (ast, nothing imported).

- no import cycle between modules of graphmer (every import counts: module level, inside
  functions, `from graphmer.x import y` where y is a submodule, relative imports; only
  `if TYPE_CHECKING:` blocks are left out, as they never run);
- no module over 400 lines, no function or method over 80 lines;
- library code (everything but graphmer/cli and graphmer/bench) never imports click or rich,
  nor the CLI or the benchmarks;
- graphmer/index never imports torch when it is imported (module level, followed through
  graphmer's own modules), so `graphmer search` starts without it.

Each check is a function of a package folder, so the tests below also run it on a small
synthetic package that breaks the rule, to see it fail.
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "graphmer"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
FRONT_ENDS = ("cli", "bench")  # subpackages allowed to import click, rich and everything else
UI_LIBRARIES = ("click", "rich")
TORCH_FREE = "index"  # subpackage that must import without torch


@dataclass(frozen=True)
class Import:
    """One import statement's target module, resolved to a module of the package where it is one."""

    target: str  # dotted name: a module of the package (most specific that exists) or an outside one
    line: int
    module_level: bool  # runs when the importing module is imported (not inside a function)


# --- reading the package ----------------------------------------------------------------------


def modules(pkg_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package folder pkg_dir."""
    pkg_dir = Path(pkg_dir)
    out = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        parts = list(path.relative_to(pkg_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST, in_function: bool = False):
    """(import node, inside a function?) for every import, `if TYPE_CHECKING:` bodies left out."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _statements(ast.Module(body=[child], type_ignores=[]), in_function)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _statements(node, inner)


def _resolve(name: str, known: dict[str, Path]) -> str:
    """The most specific module of the package that `import name` loads, or name itself if outside."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in known:
            return ".".join(parts[:n])
    return name


def imports(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """Every import in one module, each target resolved against the package's modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node, in_function in _statements(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from a.b import y`: y may be a submodule (then that is the target) or a name in a.b
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        out += [Import(_resolve(t, known), node.lineno, not in_function) for t in targets]
    return out


def import_graph(pkg_dir: Path) -> dict[str, dict[str, int]]:
    """module -> {imported module of the same package: line of the first such import}."""
    known = modules(pkg_dir)
    graph: dict[str, dict[str, int]] = {}
    for module, path in known.items():
        edges = graph.setdefault(module, {})
        for imp in imports(module, path, known):
            if imp.target in known and imp.target != module:
                edges.setdefault(imp.target, imp.line)
    return graph


# --- the checks: each returns a list of human-readable failures --------------------------------


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), those of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _one_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first), start repeated at the end."""
    start, members = component[0], set(component)
    came_from = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == start:
                    path = [node]
                    while came_from[path[-1]] is not None:
                        path.append(came_from[path[-1]])
                    return path[::-1] + [start]
                if child in members and child not in came_from:
                    came_from[child] = node
                    nxt.append(child)
        frontier = nxt
    return component  # unreachable for a strongly connected component


def import_cycles(pkg_dir: Path) -> list[str]:
    """One failure per group of modules that import each other, with one cycle spelled out (file:line)."""
    graph = import_graph(pkg_dir)
    known = modules(pkg_dir)
    out = []
    for component in _strongly_connected(graph):
        cycle = _one_cycle(graph, component)
        steps = ", ".join(
            f"{a} -> {b} ({known[a].relative_to(Path(pkg_dir).parent)}:{graph[a][b]})" for a, b in zip(cycle, cycle[1:])
        )
        out.append(f"import cycle among {', '.join(component)}: {steps}")
    return out


def long_modules(pkg_dir: Path, limit: int = MAX_MODULE_LINES) -> list[str]:
    out = []
    for path in modules(pkg_dir).values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append(f"{path.relative_to(Path(pkg_dir).parent)}: {n} lines (limit {limit})")
    return out


def long_functions(pkg_dir: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    out = []
    for path in modules(pkg_dir).values():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append(f"{path.relative_to(Path(pkg_dir).parent)}:{node.lineno} {node.name}: {n} lines (limit {limit})")
    return out


def unexplained_lazy_imports(pkg_dir: Path) -> list[str]:
    """Imports inside functions with no comment saying why they wait (issue 19: only where they keep
    start-up fast or a heavy dependency off a path that does not need it). A run of consecutive
    import lines is one group: a comment on any of its lines, or on the line above, explains it."""
    out = []
    for path in modules(pkg_dir).values():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        spans = sorted({(s.lineno, s.end_lineno) for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for s in ast.walk(node) if isinstance(s, (ast.Import, ast.ImportFrom))})
        group: list[tuple[int, int]] = []
        for span in [*spans, (0, 0)]:  # (0, 0) closes the last group
            if group and span[0] == group[-1][1] + 1:
                group.append(span)
                continue
            if group:
                first, last = group[0][0], group[-1][1]
                text = lines[first - 2 : last] if first > 1 else lines[:last]
                if not any("#" in line for line in text):
                    out.append(f"{path.relative_to(Path(pkg_dir).parent)}:{first} an import inside a function with no comment saying why")
            group = [span]
    return out


def private_imports(pkg_dir: Path) -> list[str]:
    """`from pkg.x import _name`: a module reaching into another's private names (make it public or move it)."""
    root = Path(pkg_dir).name
    out = []
    for module, path in modules(pkg_dir).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == root):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        out.append(f"{path.relative_to(Path(pkg_dir).parent)}:{node.lineno} imports private {alias.name} from {node.module or '.'}")
    return out


def _subpackage(pkg_dir: Path, module: str) -> str:
    """graphmer.index.walk -> index; graphmer.__main__ -> __main__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def library_front_end_imports(pkg_dir: Path) -> list[str]:
    """Library modules (all but the cli and bench subpackages) importing click, rich, the CLI or the benchmarks."""
    known = modules(pkg_dir)
    root = Path(pkg_dir).name
    banned = UI_LIBRARIES + tuple(f"{root}.{p}" for p in FRONT_ENDS)
    out = []
    for module, path in known.items():
        if _subpackage(pkg_dir, module) in FRONT_ENDS or module == f"{root}.__main__":
            continue
        for imp in imports(module, path, known):
            if any(imp.target == b or imp.target.startswith(b + ".") for b in banned):
                out.append(f"{path.relative_to(Path(pkg_dir).parent)}:{imp.line} imports {imp.target} (library code: no click, rich or front ends)")
    return out


def torch_on_import(pkg_dir: Path, subpackage: str = TORCH_FREE) -> list[str]:
    """Modules of the subpackage whose import (module-level imports, followed through the package's
    own modules and the packages they sit in) reaches torch."""
    known = modules(pkg_dir)
    level: dict[str, list[Import]] = {m: [i for i in imports(m, p, known) if i.module_level] for m, p in known.items()}

    def loads(module: str) -> list[str]:
        """Modules of the package that importing `module` runs at once: its parents and its module-level imports."""
        parts = module.split(".")
        parents = [".".join(parts[:n]) for n in range(1, len(parts)) if ".".join(parts[:n]) in known]
        return parents + [i.target for i in level[module] if i.target in known]

    out = []
    for module in known:
        if _subpackage(pkg_dir, module) != subpackage:
            continue
        came_from = {module: None}
        todo = [module]
        while todo:  # breadth-first: the shortest chain is reported
            m = todo.pop(0)
            hit = next((i for i in level[m] if i.target.split(".")[0] == "torch"), None)
            if hit:
                chain = [m]
                while came_from[chain[-1]] is not None:
                    chain.append(came_from[chain[-1]])
                out.append(f"importing {module} imports torch: {' -> '.join(chain[::-1])} ({known[m].relative_to(Path(pkg_dir).parent)}:{hit.line})")
                break
            for nxt in loads(m):
                if nxt not in came_from:
                    came_from[nxt] = m
                    todo.append(nxt)
    return out


# --- the rules on graphmer itself -------------------------------------------------------------


def _fail_on(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} found:\n" + "\n".join(problems)


def test_no_import_cycles():
    _fail_on(import_cycles(PACKAGE))


def test_no_module_over_400_lines():
    _fail_on(long_modules(PACKAGE))


def test_no_function_over_80_lines():
    _fail_on(long_functions(PACKAGE))


def test_library_code_imports_no_click_rich_or_front_ends():
    _fail_on(library_front_end_imports(PACKAGE))


def test_no_private_name_is_imported_across_modules():
    _fail_on(private_imports(PACKAGE))


def test_imports_inside_functions_say_why():
    _fail_on(unexplained_lazy_imports(PACKAGE))


def test_index_imports_without_torch():
    _fail_on(torch_on_import(PACKAGE))


def test_the_graph_sees_graphmer():
    """The checks read the real package: a few edges known to exist are found (guards against a checker that sees nothing)."""
    graph = import_graph(PACKAGE)
    assert "graphmer.index.store" in graph["graphmer.index.indexer"]
    assert "graphmer.cli.main" in graph["graphmer.__main__"]


# --- each check fails on a package that breaks its rule ---------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    """A synthetic package `pkg` under tmp_path from {relative path: source}; __init__.py files added."""
    root = tmp_path / "pkg"
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return root


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    pkg = _package(tmp_path, {
        "model/train.py": "from pkg.model.train_data import load\n",
        "model/train_data.py": "def load():\n    from pkg.model import train  # a submodule, named in from-import\n    return train\n",
        "model/other.py": "import pkg.model.train\n",
    })
    problems = import_cycles(pkg)
    assert len(problems) == 1
    assert "pkg.model.train, pkg.model.train_data" in problems[0]
    assert "pkg/model/train_data.py:2" in problems[0] and "pkg/model/train.py:1" in problems[0]


def test_relative_imports_and_longer_cycles_are_found(tmp_path):
    pkg = _package(tmp_path, {
        "lsp/server.py": "from . import features\n",
        "lsp/features.py": "from .state import State\n",
        "lsp/state.py": "def f():\n    from ..lsp.server import x\n",
    })
    (problem,) = import_cycles(pkg)
    assert "pkg.lsp.features, pkg.lsp.server, pkg.lsp.state" in problem


def test_type_checking_imports_and_outside_modules_make_no_cycle(tmp_path):
    pkg = _package(tmp_path, {
        "a.py": "import json\nfrom pkg import b\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import x\nelse:\n    import os\n",
    })
    assert import_cycles(pkg) == []


def test_an_unexplained_import_inside_a_function_is_named(tmp_path):
    pkg = _package(tmp_path, {
        "m.py": """\
            def a():
                import json
                import os
                return json, os


            def b():
                import json  # lazy: explained
                import os
                return json, os


            def c():
                # lazy: explained above
                import json
                return json
            """,
    })
    assert unexplained_lazy_imports(pkg) == ["pkg/m.py:2 an import inside a function with no comment saying why"]


def test_a_private_import_is_named(tmp_path):
    pkg = _package(tmp_path, {
        "a.py": "_secret = 1\n__all__ = []\n",
        "b.py": "from pkg.a import __all__\nfrom pkg.a import (\n    _secret,\n)\nfrom json import _default_decoder\n",
        "c.py": "from .a import _secret\n",
    })
    assert private_imports(pkg) == ["pkg/b.py:2 imports private _secret from pkg.a", "pkg/c.py:1 imports private _secret from a"]


def test_long_modules_and_functions_are_named(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(80))  # def line + 80 = 81 lines
    pkg = _package(tmp_path, {
        "big.py": "\n" * 401,
        "ok.py": "\n" * 400,
        "funcs.py": f"class C:\n    def fine(self):\n        pass\n\n    def m(self):\n{textwrap.indent(body, '    ')}\n\ndef g():\n{body[:-len('    x79 = 79')-1]}",
    })
    assert long_modules(pkg) == ["pkg/big.py: 401 lines (limit 400)"]
    assert long_functions(pkg) == ["pkg/funcs.py:5 m: 81 lines (limit 80)"]


def test_library_code_importing_click_rich_or_the_cli_is_named(tmp_path):
    pkg = _package(tmp_path, {
        "index/search.py": "def f():\n    import rich.console\n",
        "model/report.py": "from click import echo\n",
        "lsp/server.py": "from pkg.cli.render import x\n",
        "cli/main.py": "import click\nfrom rich import print\n",
        "bench/run.py": "import click\n",
        "cli/render.py": "x = 1\n",
    })
    assert sorted(library_front_end_imports(pkg)) == [
        "pkg/index/search.py:2 imports rich.console (library code: no click, rich or front ends)",
        "pkg/lsp/server.py:1 imports pkg.cli.render (library code: no click, rich or front ends)",
        "pkg/model/report.py:1 imports click (library code: no click, rich or front ends)",
    ]


def test_torch_reached_from_the_index_at_import_is_named(tmp_path):
    pkg = _package(tmp_path, {
        "index/search.py": "from pkg.index.embedder import E\n",
        "index/embedder.py": "def load():\n    import torch  # lazy: fine\nfrom pkg.model.encoder import Encoder\n",
        "model/encoder.py": "import torch.nn as nn\n",
        "index/walk.py": "import os\n",
    })
    problems = torch_on_import(pkg)
    assert sorted(problems) == [
        "importing pkg.index.embedder imports torch: pkg.index.embedder -> pkg.model.encoder (pkg/model/encoder.py:1)",
        "importing pkg.index.search imports torch: pkg.index.search -> pkg.index.embedder -> pkg.model.encoder (pkg/model/encoder.py:1)",
    ]


def test_torch_in_a_package_init_counts(tmp_path):
    pkg = _package(tmp_path, {"index/walk.py": "from pkg.model.x import y\n", "model/x.py": "y = 1\n"})
    (pkg / "model" / "__init__.py").write_text("import torch\n")
    assert torch_on_import(pkg) == [
        "importing pkg.index.walk imports torch: pkg.index.walk -> pkg.model.x -> pkg.model (pkg/model/__init__.py:1)"
    ]


@pytest.mark.parametrize("check", [import_cycles, long_modules, long_functions, library_front_end_imports, torch_on_import])
def test_a_clean_package_passes(tmp_path, check):
    pkg = _package(tmp_path, {"index/a.py": "import os\nfrom pkg.index import b\n", "index/b.py": "def f():\n    import torch\n"})
    assert check(pkg) == []
