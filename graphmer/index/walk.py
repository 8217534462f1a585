"""File discovery: ignore rules, include/exclude globs, language detection, symlink safety.

Rules, as git applies them: every `.gitignore` (and `.graphmerignore`, same syntax) applies
to the paths below its folder; deeper files and later lines win; `!pattern` re-includes;
a folder that is ignored is not entered. Content checks (binary, undecodable) happen when
a file is read, in parse workers; here only what the directory entry tells is checked.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

import pathspec

from graphmer.index.languages import detect_language

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
    follow_links: bool = False  # follow symbolic links whose target is outside the root (skipped and reported by default)


def shown(name: str) -> str:
    r"""A path as it can be shown and stored: bytes that are not UTF-8 (which Python keeps as
    lone surrogates) written as backslash escapes. shown("caf\udce9.py") -> "caf\\xe9.py"."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _file_type(mode: int) -> str:
    for test, what in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return "not a regular file"


def _load_spec(dirpath: str, readable: Callable[[str], bool]) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    for name in IGNORE_FILES:
        path = os.path.join(dirpath, name)
        if not readable(path):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
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


class _Walker:
    """One walk: the rules of a WalkConfig applied under one root, the result gathered in `out`."""

    def __init__(self, root: str, cfg: WalkConfig) -> None:
        self.cfg = cfg
        self.out = WalkResult()
        self.root = os.path.abspath(root)
        self.real_root = os.path.realpath(self.root)
        self.include = pathspec.GitIgnoreSpec.from_lines(cfg.include) if cfg.include else None
        self.exclude = pathspec.GitIgnoreSpec.from_lines(cfg.exclude) if cfg.exclude else None
        self.langs = frozenset(cfg.languages)
        self.seen_dirs: set[tuple[int, int]] = set()

    def outside(self, path: str) -> str | None:
        """The real target of `path` when it lies outside root (None when inside or when links may leave)."""
        if self.cfg.follow_links:
            return None
        target = os.path.realpath(path)
        return None if target == self.real_root or target.startswith(self.real_root + os.sep) else target

    def readable(self, path: str) -> bool:
        return not os.path.islink(path) or self.outside(path) is None

    def leaves_root(self, entry: os.DirEntry, child: str) -> bool:
        """Whether entry is a link out of root (recorded as skipped when it is)."""
        if not entry.is_symlink():
            return False
        target = self.outside(entry.path)
        if target is None:
            return False
        self.out.skipped.append(Skipped(child, f"symbolic link to {shown(target)}, outside the indexed folder "
                                               "(not followed; --follow-links follows it)"))
        return True

    def visit(self, dirpath: str, rel: str, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> None:
        """A folder's entries, in name order (a folder seen before, through a link, is skipped as a loop)."""
        try:
            st = os.stat(dirpath)
        except OSError as e:
            self.out.skipped.append(Skipped(rel or ".", f"unreadable folder: {e.strerror}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in self.seen_dirs:
            self.out.skipped.append(Skipped(rel, "symlink loop (folder already visited)"))
            return
        self.seen_dirs.add(key)
        spec = _load_spec(dirpath, self.readable)
        if spec is not None:
            specs = [*specs, (rel, spec)]
        try:
            entries = sorted(os.scandir(dirpath), key=lambda e: e.name)
        except OSError as e:
            self.out.skipped.append(Skipped(rel or ".", f"unreadable folder: {e.strerror}"))
            return
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if is_dir:
                self.folder(entry, child, specs)
            else:
                self.file(entry, child, specs)

    def folder(self, entry: os.DirEntry, child: str, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> None:
        """A sub-folder: visited unless a rule leaves it out."""
        if entry.name in ALWAYS_SKIP_DIRS:
            return
        default_skip = entry.name in DEFAULT_SKIP_DIRS or os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
        if default_skip and not (self.include and self.include.match_file(child + "/")):
            return  # caches, node_modules and virtual environments
        if _ignored(specs, child, True) or (self.exclude and self.exclude.match_file(child + "/")):
            return
        if not _is_utf8(entry.name):  # paths are stored as text: a folder that cannot be named is left out
            self.out.skipped.append(Skipped(shown(child), "folder name is not valid UTF-8 (its files are not indexed)"))
            return
        if self.leaves_root(entry, child):
            return
        self.visit(entry.path, child, specs)

    def file(self, entry: os.DirEntry, child: str, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> None:
        """A file: kept when it is a source file of a wanted language, let through by the rules, regular and small enough."""
        language = detect_language(entry.name)
        if language is None or (self.langs and language not in self.langs):
            return
        if _ignored(specs, child, False) or (self.exclude and self.exclude.match_file(child)):
            return
        if self.include and not self.include.match_file(child):
            return
        if not _is_utf8(entry.name):
            self.out.skipped.append(Skipped(shown(child), "file name is not valid UTF-8"))
            return
        if self.leaves_root(entry, child):
            return
        try:
            st = entry.stat()
        except OSError as e:
            reason = "broken symlink" if entry.is_symlink() else f"unreadable: {e.strerror}"
            self.out.skipped.append(Skipped(child, reason))
            return
        if not stat.S_ISREG(st.st_mode):  # never opened: reading a named pipe would block
            self.out.skipped.append(Skipped(child, f"{_file_type(st.st_mode)}, not a regular file"))
            return
        if st.st_size > self.cfg.max_bytes:
            self.out.skipped.append(Skipped(child, f"too large ({st.st_size} bytes > {self.cfg.max_bytes})"))
            return
        self.out.files.append(FileEntry(child, entry.path, language, st.st_size, st.st_mtime_ns))


def walk(root: str, cfg: WalkConfig = WalkConfig()) -> WalkResult:
    """Every source file under root that the rules let through, sorted by path.

    Nothing outside root is read: a symbolic link whose target lies outside it is skipped
    and reported (unless cfg.follow_links), and so is a name that is not valid UTF-8, a
    named pipe, socket or device.
    """
    walker = _Walker(root, cfg)
    walker.visit(walker.root, "", [])
    return walker.out
