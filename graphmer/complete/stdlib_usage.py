"""How often the standard library itself reads each member of a standard-library module.

`os.` offers some 390 names; a repository that has written `os.` a few times ranks them by
those few uses alone, so `os.getcwd` can sit below `os.P_ALL`. The standard library's own
sources say which members are read most (`os.path`, `os.environ`, `sys.stdout`, `re.compile`):
`count` walks them (tests left out), maps each file's imports (`import os`, `import os.path as
p`, `from ctypes import wintypes`) to modules and counts `alias.name` reads by dotted path
("os", "os.path", "sys.stdout"). The counts ship as graphmer/complete/stdlib_usage.json (written by
`graphmer fit-usage`) and completion reads them as one feature for
receivers outside the index. Third-party packages are never counted.
"""
from __future__ import annotations

import functools
import json
import sysconfig
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import tree_sitter as ts

from graphmer.complete import stdlib_members
from graphmer.index import languages
from graphmer.index.graph import absolute_import
from graphmer.index.parse import python_imports
from graphmer.index.pynames import attr_use_sites

USAGE_FILE = Path(__file__).with_name("stdlib_usage.json")
_SKIP_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "lib-dynload", "__pycache__"})
MIN_COUNT = 2  # a member read once is left out of the shipped counts (and the fit's)
Usage = dict[str, dict[str, int]]  # dotted path -> member name -> reads


def imported_modules(root: ts.Node, module: str, is_package: bool) -> dict[str, str]:
    """Local name -> standard-library module for a file's imports, at any depth:
    `import os.path` binds os -> "os", `import xml.dom as d` d -> "xml.dom", `from ctypes
    import wintypes` wintypes -> "ctypes.wintypes" (a name that is no module is left out)."""
    out: dict[str, str] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type not in ("import_statement", "import_from_statement"):
            stack.extend(node.named_children)
            continue
        for target, alias in python_imports(node):
            path = absolute_import(target, module, is_package) if alias != "*" else None
            if not path:
                continue
            if node.type == "import_statement":
                out[alias or path.split(".")[0]] = path if alias else path.split(".")[0]
            elif stdlib_members.is_module(path):
                out[alias] = path
    return {k: v for k, v in out.items() if stdlib_members.is_stdlib(v)}


def module_uses(source: bytes, module: str, is_package: bool) -> Counter:
    """Counter of (dotted path, member name) for the reads of imported modules in one file:
    `os.path.join(a)` counts ("os.path", "join"), `sys.stdout.write` ("sys", "stdout") and
    ("sys.stdout", "write")."""
    root = languages.parser("python").parse(source).root_node
    aliases = imported_modules(root, module, is_package)
    out: Counter = Counter()
    for receiver, name, _, _ in attr_use_sites(root):
        head, dot, rest = receiver.partition(".")
        if head in aliases and "(" not in rest and "[" not in rest:
            out[(aliases[head] + dot + rest, name)] += 1
    return out


def source_files(stdlib: Path) -> list[tuple[Path, str, bool]]:
    """(file, module name, is a package's __init__) of the standard library's Python sources,
    test folders left out."""
    out = []
    for p in sorted(stdlib.rglob("*.py")):
        rel = p.relative_to(stdlib)
        if any(part in _SKIP_DIRS or part.startswith("test_") for part in rel.parts) or "-" in rel.as_posix():
            continue
        is_pkg = p.name == "__init__.py"
        parts = rel.parts[:-1] if is_pkg else (*rel.parts[:-1], p.stem)
        out.append((p, ".".join(parts), is_pkg))
    return out


def count(stdlib: Path | None = None, progress: Callable[[int, int], None] | None = None) -> dict[str, Counter]:
    """Top-level module or package ("os", "asyncio") -> the (dotted path, name) reads of its files."""
    stdlib = stdlib or Path(sysconfig.get_paths()["stdlib"])
    files = source_files(stdlib)
    out: dict[str, Counter] = {}
    for i, (p, module, is_pkg) in enumerate(files, 1):
        try:
            uses = module_uses(p.read_bytes(), module, is_pkg)
        except OSError:
            continue
        out.setdefault(module.split(".")[0], Counter()).update(uses)
        if progress:
            progress(i, len(files))
    return out


def totals(groups: dict[str, Counter], exclude: str = "", min_count: int = MIN_COUNT) -> Usage:
    """Sum the groups' counts (leaving out the group `exclude`) as path -> name -> reads."""
    total: Counter = Counter()
    for g, c in groups.items():
        if g != exclude:
            total.update(c)
    out: Usage = {}
    for (path, name), k in sorted(total.items()):
        if k >= min_count:
            out.setdefault(path, {})[name] = k
    return out


def write(usage: Usage, path: Path, meta: dict) -> None:
    """Write counts as JSON, atomically."""
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps({"uses": usage, "meta": meta}, sort_keys=True, separators=(",", ":")) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


class UsageError(ValueError):
    """A usage file that is not graphmer's."""


def load(path: Path) -> Usage:
    try:
        uses = json.loads(Path(path).read_text(encoding="utf-8"))["uses"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path} is not a graphmer standard-library usage file ({e}): "
                         "re-create it with `graphmer fit-usage`") from None
    if not isinstance(uses, dict) or not all(isinstance(v, dict) for v in uses.values()):
        raise UsageError(f"{path} does not map dotted paths to member counts: "
                         "re-create it with `graphmer fit-usage`")
    return uses


@functools.cache
def shipped() -> Usage:
    """The counts that ship with graphmer (graphmer/complete/stdlib_usage.json)."""
    return load(USAGE_FILE)
