"""Member-access sites of a Python package, sampled for completion: what `graphmer bench
completion` measures on and what the completion weights are fitted on (graphmer/model/complete_fit.py).

Sites are `obj.attr` in load context (attribute name of 3+ characters, not a dunder unless
asked, the receiver ending on the attribute's line) in a copy of the package, indexed as a
whole. At each site the rest of the line is deleted from the cursor (cut_buffer), with
PREFIXES characters of the attribute typed.
"""
from __future__ import annotations

import functools
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tree_sitter as ts

from graphmer.index import languages
from graphmer.complete.signatures import is_dunder
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.pynames import norm_receiver
from graphmer.index.store import INDEX_DIRNAME

Progress = Callable[[str, int, int], None]
PREFIXES = (0, 1)  # characters of the attribute typed before asking
_NOT_LOAD = frozenset({"pattern_list", "tuple_pattern", "list_pattern", "delete_statement"})


@dataclass(frozen=True, slots=True)
class Site:
    """One member access: path relative to the indexed root, 0-based line and code-point column of the name."""

    path: str
    line: int
    column: int
    name: str
    receiver: str


@functools.cache
def _site_query() -> ts.Query:
    return ts.Query(languages.ts_language("python"), "(attribute object: (_) @obj attribute: (identifier) @attr) @a")


def _is_load(node: ts.Node) -> bool:
    parent = node.parent
    if parent is None:
        return True
    if parent.type in ("assignment", "augmented_assignment", "for_statement", "for_in_clause") and parent.child_by_field_name("left") == node:
        return False
    return parent.type not in _NOT_LOAD


def find_sites(root: Path, files: list[str], dunders: bool = False) -> list[Site]:
    """Every qualifying member-access site in the given files (paths relative to root); with
    `dunders`, `x.__name__` sites too (the weight fit learns how rarely they are written)."""
    out: list[Site] = []
    for rel in files:
        data = (root / rel).read_bytes()
        lines = data.split(b"\n")
        tree = languages.parser("python").parse(data)
        for _, caps in ts.QueryCursor(_site_query()).matches(tree.root_node):
            node, obj, attr = caps["a"][0], caps["obj"][0], caps["attr"][0]
            name = attr.text.decode()
            if len(name) < 3 or (not dunders and is_dunder(name)) or not _is_load(node):
                continue
            row = attr.start_point.row
            if obj.end_point.row != row:
                continue
            column = len(lines[row][: attr.start_point.column].decode("utf-8", "replace"))
            out.append(Site(rel, row, column, name, norm_receiver(obj.text.decode())))
    return sorted(out, key=lambda s: (s.path, s.line, s.column))


def copy_package(package: Path, work: Path) -> Path:
    """A copy of the package at work/<its name> (replaced), without caches or an index."""
    dest = work / package.name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(package, dest, ignore=shutil.ignore_patterns("__pycache__", INDEX_DIRNAME, "*.pyc"))
    return dest


def indexed_sample(package: Path, work: Path, sites: int, seed: int, progress: Progress | None = None,
                   dunders: bool = False) -> tuple[list[str], list[Site], list[Site], float]:
    """Copy the package into `work` and index it there; its .py files (relative to work), every
    qualifying site in them (dunders: see find_sites), `sites` of those sampled with `seed`
    (in file order), and the seconds the indexing took."""
    copy = copy_package(package, work)
    t0 = time.perf_counter()
    build_index(work, IndexConfig(), progress=progress)
    index_s = time.perf_counter() - t0
    files = sorted(p.relative_to(work).as_posix() for p in copy.rglob("*.py"))
    found = find_sites(work, files, dunders)
    chosen = sorted(random.Random(seed).sample(found, min(sites, len(found))), key=lambda s: (s.path, s.line, s.column))
    return files, found, chosen, index_s


def cut_buffer(source_lines: list[str], site: Site, k: int) -> tuple[str, int]:
    """The buffer with the site's line cut `k` characters into the attribute, and the cursor column."""
    col = site.column + k
    lines = list(source_lines)
    lines[site.line] = lines[site.line][:col]
    return "\n".join(lines), col
