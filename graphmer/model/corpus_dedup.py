"""Duplicate function bodies: exact (after whitespace normalisation) and near (MinHash LSH).

The corpus keeps the first copy of a body it meets and drops later ones, and drops every
body that matches a function of an excluded package (the benchmark and development
packages), so that no model trains on code it is judged on, even code copied into
another package.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from graphmer.index.pysource import functions, strip_docstrings
from graphmer.model.corpus_lock import CorpusError
from graphmer.model.corpus_pairs import read_python

NUM_PERM = 64
THRESHOLD = 0.85  # Jaccard similarity of 5-token shingles above which two bodies are near-duplicates
SHINGLE = 5
MIN_NEAR_TOKENS = 20  # shorter bodies are compared exactly only
_TOKEN = re.compile(r"\w+|[^\w\s]")


def normalize_body(text: str) -> str:
    """Whitespace-normalised text: every run of whitespace becomes one space."""
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _shingles(toks: list[str]) -> set[bytes]:
    return {" ".join(toks[i : i + SHINGLE]).encode() for i in range(max(1, len(toks) - SHINGLE + 1))}


@dataclass
class Deduper:
    """Remembers kept bodies; `check(text)` says whether a new body duplicates one ("exact"/"near") or not (None)."""

    threshold: float = THRESHOLD
    _exact: dict[str, str] = field(default_factory=dict)
    _lsh: object = None
    _n: int = 0

    def __post_init__(self):
        try:
            from datasketch import MinHashLSH  # lazy: an optional extra (graphmer[corpus]), only to build a corpus
        except ImportError:
            raise CorpusError("building a corpus needs datasketch: pip install \"graphmer[corpus]\"") from None

        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM)

    @staticmethod
    def _minhash(toks: list[str]):
        from datasketch import MinHash  # lazy: an optional extra, only to build a corpus

        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch(list(_shingles(toks)))
        return m

    def _fingerprint(self, text: str, near: bool) -> tuple[str, object]:
        """(exact key, MinHash or None when the body is too short or near matches are not wanted)."""
        key = hashlib.sha1(normalize_body(text).encode()).hexdigest()
        toks = tokens(text) if near else []
        return key, self._minhash(toks) if len(toks) >= MIN_NEAR_TOKENS else None

    def _match(self, key: str, mh) -> tuple[str, str] | None:
        if key in self._exact:
            return "exact", self._exact[key]
        hits = self._lsh.query(mh) if mh is not None else []
        return ("near", min(hits).split("\x00", 1)[1]) if hits else None

    def _insert(self, key: str, mh, owner: str) -> None:
        self._exact.setdefault(key, owner)
        if mh is not None:
            self._n += 1
            self._lsh.insert(f"{self._n:09d}\x00{owner}", mh)

    def check(self, text: str, near: bool = True) -> tuple[str, str] | None:
        """(kind, owner of the earlier copy) when `text` duplicates a body already added, else None.

        near=False: exact (whitespace-normalised) matches only."""
        return self._match(*self._fingerprint(text, near))

    def add(self, text: str, owner: str = "") -> None:
        self._insert(*self._fingerprint(text, True), owner)

    def check_add(self, text: str, owner: str = "") -> tuple[str, str] | None:
        """check(), and add the body when it is new (its fingerprint computed once)."""
        key, mh = self._fingerprint(text, True)
        dup = self._match(key, mh)
        if dup is None:
            self._insert(key, mh, owner)
        return dup


def excluded_sources(names: frozenset[str]) -> dict[str, Path]:
    """The excluded packages importable here (import name -> folder or file), to match bodies against."""
    found = {}
    for name in sorted(names):
        mod = name.replace("-", "_")
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
            continue
        origin = Path(spec.origin)
        found[mod] = origin.parent if origin.name == "__init__.py" else origin
    return found


def function_bodies(root: Path) -> list[str]:
    """The text of every function in the .py files at `root` (a folder or one file), docstrings removed."""
    out = []
    for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
        try:
            source = strip_docstrings(read_python(path)[0])  # as the corpus's copies are
            tree = ast.parse(source)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError, LookupError):
            continue
        lines = source.split("\n")
        out += ["\n".join(lines[fn.lineno - 1 : fn.end_lineno]) for _, fn in functions(tree)]
    return out
