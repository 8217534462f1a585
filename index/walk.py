"""File discovery: ignore rules, include/exclude globs, language detection, symlink safety.

Rules, as git applies them: every `.gitignore` (and `.graphmerignore`, same syntax) applies
to the paths below its folder; deeper files and later lines win; `!pattern` re-includes;
a folder that is ignored is not entered. Content checks (binary, undecodable) happen when
a file is read, in parse workers; here only what the directory entry tells is checked.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

import pathspec

from index.languages import detect_language

IGNORE_FILES = (".gitignore", ".graphmerignore")
# Never indexed, whatever the ignore files say.
ALWAYS_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".graphmer"})
# Skipped unless an include glob names them (so are folders holding a pyvenv.cfg).
DEFAULT_SKIP_DIRS = frozenset({"__pycache__", "node_modules", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
DEFAULT_MAX_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # relative to the root, forward slashes
    abspath: str
    language: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(slots=True)
class WalkResult:
    files: list[FileEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WalkConfig:
    include: tuple[str, ...] = ()  # gitignore-style globs; when given, a file must match one
    exclude: tuple[str, ...] = ()  # gitignore-style globs to leave out
    max_bytes: int = DEFAULT_MAX_BYTES  # files larger than this are skipped
    languages: tuple[str, ...] = ()  # restrict to these languages; empty = all supported


def _load_spec(dirpath: str) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    for name in IGNORE_FILES:
        try:
            with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as fh:
                lines.extend(fh.read().splitlines())
        except OSError:
            continue
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _ignored(specs: list[tuple[str, pathspec.GitIgnoreSpec]], rel: str, is_dir: bool) -> bool:
    """Whether the nested ignore files exclude `rel`; the deepest matching rule wins."""
    verdict = None
    for base, spec in specs:
        sub = rel[len(base) + 1 :] if base else rel
        res = spec.check_file(sub + "/" if is_dir else sub)
        if res.include is not None:
            verdict = res.include
    return bool(verdict)


def walk(root: str, cfg: WalkConfig = WalkConfig()) -> WalkResult:
    """Every source file under root that the rules let through, sorted by path."""
    out = WalkResult()
    root = os.path.abspath(root)
    include = pathspec.GitIgnoreSpec.from_lines(cfg.include) if cfg.include else None
    exclude = pathspec.GitIgnoreSpec.from_lines(cfg.exclude) if cfg.exclude else None
    langs = frozenset(cfg.languages)
    seen_dirs: set[tuple[int, int]] = set()

    def visit(dirpath: str, rel: str, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> None:
        try:
            st = os.stat(dirpath)
        except OSError as e:
            out.skipped.append(Skipped(rel or ".", f"unreadable folder: {e.strerror}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            out.skipped.append(Skipped(rel, "symlink loop (folder already visited)"))
            return
        seen_dirs.add(key)
        spec = _load_spec(dirpath)
        if spec is not None:
            specs = [*specs, (rel, spec)]
        try:
            entries = sorted(os.scandir(dirpath), key=lambda e: e.name)
        except OSError as e:
            out.skipped.append(Skipped(rel or ".", f"unreadable folder: {e.strerror}"))
            return
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name in ALWAYS_SKIP_DIRS:
                    continue
                default_skip = entry.name in DEFAULT_SKIP_DIRS or os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
                if default_skip and not (include and include.match_file(child + "/")):
                    continue  # caches, node_modules and virtual environments
                if _ignored(specs, child, True) or (exclude and exclude.match_file(child + "/")):
                    continue
                visit(entry.path, child, specs)
                continue
            language = detect_language(entry.name)
            if language is None or (langs and language not in langs):
                continue
            if _ignored(specs, child, False) or (exclude and exclude.match_file(child)):
                continue
            if include and not include.match_file(child):
                continue
            try:
                st = entry.stat()
            except OSError as e:
                reason = "broken symlink" if entry.is_symlink() else f"unreadable: {e.strerror}"
                out.skipped.append(Skipped(child, reason))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if st.st_size > cfg.max_bytes:
                out.skipped.append(Skipped(child, f"too large ({st.st_size} bytes > {cfg.max_bytes})"))
                continue
            out.files.append(FileEntry(child, entry.path, language, st.st_size, st.st_mtime_ns))

    visit(root, "", [])
    return out
