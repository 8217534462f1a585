"""Docstring-stripped copies of a Python package: what the search benchmark, the graph fit and
the retrieval pairs of plain folders index.

prepare_copy writes a package's .py files with their docstrings removed (all of them, or only
those a predicate picks), lines kept where they are, and returns the queries (targets) found in
the original files with the function-level chunks of the copy. The realistic mode splits the
targets into folds (assign_folds), each fold's copy losing only its own targets' docstrings
(strip_only); indexed_copies indexes such copies.
"""
from __future__ import annotations

import ast
import hashlib
import logging
import shutil
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from graphmer.index.pysource import Target, def_lines, find_targets, functions, strip_docstrings

log = logging.getLogger(__name__)

SKIP_DIRS = frozenset({"tests", "test", "__pycache__"})  # and dot-directories
FOLD_SEED = 0  # fixed, so that every run (and every machine) splits the same way


class PackageError(ValueError):
    """A path that is not a package folder to copy."""


@dataclass(frozen=True)
class Chunk:
    """A function-level document of the BM25 reference: lines def_line..end_line."""

    path: str
    start_line: int
    end_line: int
    text: str


@dataclass(frozen=True)
class PreparedCopy:
    """A docstring-free copy of a package and what the benchmark needs from it."""

    root: Path
    targets: tuple[Target, ...]
    chunks: tuple[Chunk, ...]
    files: int
    unparsed_files: int


def is_test_or_hidden(rel: Path) -> bool:
    """A file under a tests or hidden folder, or a test module (test_*.py, *_test.py, conftest.py)."""
    name = rel.name
    return (
        any(p in SKIP_DIRS or p.startswith(".") for p in rel.parts[:-1])
        or name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
    )


def package_files(package: Path, skip=None) -> list[Path]:
    """The package's .py files, sorted, without tests, hidden folders and what `skip` (on the relative path) leaves out."""
    if not package.is_dir():
        raise PackageError(f"{package} is not a directory; give the path of a Python package")
    return [p for p in sorted(package.rglob("*.py")) if not is_test_or_hidden(p.relative_to(package))
            and not (skip and skip(p.relative_to(package).as_posix()))]


def read_source(src: Path) -> tuple[str, str, ast.Module]:
    """(source, encoding, tree) of a Python file."""
    with tokenize.open(src) as f:  # honours PEP 263 coding cookies; newlines become "\n"
        source, encoding = f.read(), f.encoding
    return source, encoding, ast.parse(source)


def package_targets(package: Path, skip=None) -> tuple[Target, ...]:
    """The targets prepare_copy finds in `package`, in the same order, without writing a copy."""
    targets: list[Target] = []
    for src in package_files(package, skip):
        rel = src.relative_to(package).as_posix()
        try:
            source, _, _ = read_source(src)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        targets += find_targets(source, rel)
    return tuple(targets)


def prepare_copy(package: Path, dest: Path, skip=None, strip: Callable[[str, ast.AST], bool] | None = None) -> PreparedCopy:
    """Write `package`'s .py files, docstrings stripped, under `dest` (created; must not exist).

    skip: a predicate on a file's relative path (forward slashes) that leaves it out.
    strip: which docstrings go, a predicate on (relative path, owner node) (see
    strip_docstrings); None strips them all. Targets are found in the original files.
    """
    files = package_files(package, skip)
    dest.mkdir(parents=True, exist_ok=False)
    targets: list[Target] = []
    chunks: list[Chunk] = []
    unparsed = 0
    for src in files:
        rel = src.relative_to(package).as_posix()
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            source, encoding, tree = read_source(src)
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            log.info("copying %s unchanged: it does not parse (%s)", rel, exc)
            shutil.copyfile(src, out)
            unparsed += 1
            continue
        stripped = strip_docstrings(source, None if strip is None else (lambda owner, rel=rel: strip(rel, owner)))
        stripped_tree = ast.parse(stripped)
        if def_lines(stripped_tree) != def_lines(tree) or stripped.count("\n") != source.count("\n"):
            raise AssertionError(f"stripping docstrings moved code in {rel}")
        out.write_text(stripped, encoding=encoding)
        targets += find_targets(source, rel)
        kept = stripped.split("\n")
        for _, fn in functions(stripped_tree):
            chunks.append(Chunk(rel, fn.lineno, fn.end_lineno, "\n".join(kept[fn.lineno - 1 : fn.end_lineno])))
    return PreparedCopy(dest, tuple(targets), tuple(chunks), len(files), unparsed)


def assign_folds(targets: Sequence[Target], folds: int, seed: int = FOLD_SEED) -> tuple[int, ...]:
    """The fold (0..folds-1) of each target: the targets are ordered by a sha256 of seed, path
    and qualname (ties by def line), then dealt round-robin, so fold sizes differ by at most
    one and a target's fold does not depend on the order the targets come in.

    >>> ts = [Target("a.py", f"f{i}", i + 1, "q") for i in range(5)]
    >>> assign_folds(ts, 2), assign_folds(ts[::-1], 2)[::-1]
    ((0, 0, 1, 1, 0), (0, 0, 1, 1, 0))
    """
    assert folds >= 1, "folds must be at least 1"

    def key(i: int) -> tuple:
        t = targets[i]
        return hashlib.sha256(f"{seed}\0{t.path}\0{t.qualname}".encode()).hexdigest(), t.path, t.def_line

    fold = [0] * len(targets)
    for position, i in enumerate(sorted(range(len(targets)), key=key)):
        fold[i] = position % folds
    return tuple(fold)


def strip_only(targets: Sequence[Target]):
    """The prepare_copy predicate that removes exactly these targets' docstrings (a function is
    known by its path and `def` line) and keeps the module's, the classes' and all others."""
    wanted = {(t.path, t.def_line) for t in targets}
    return lambda path, owner: isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)) and (path, owner.lineno) in wanted


def indexed_copies(package: Path, work: Path, embedder, folds: int = 0) -> Iterator[tuple[Path, list[Target]]]:
    """Index the package's benchmark copies with `embedder` and yield (index folder, the targets
    to ask there). folds 0: one copy with every docstring stripped, all targets; else one copy
    per fold in which only that fold's targets lose their docstrings. Each copy goes to
    work/fold-N/ (replaced), its index to work/fold-N/index."""
    from graphmer.index.indexer import IndexConfig, build_index  # lazy: `graphmer bench` imports this module at start-up

    targets = package_targets(package)
    fold_of = assign_folds(targets, folds) if folds else (0,) * len(targets)
    for f in range(max(folds, 1)):
        mine = [t for t, k in zip(targets, fold_of) if k == f]
        dest = work / f"fold-{f}" / package.name
        shutil.rmtree(dest.parent, ignore_errors=True)
        prepare_copy(package, dest, strip=strip_only(mine) if folds else None)
        index_dir = dest.parent / "index"
        build_index(dest, IndexConfig(embedder=embedder, index_dir=str(index_dir)))
        yield index_dir, mine
