"""Names and `def` signatures read as text: an identifier's words, a signature's parameters
and return annotation, splitting at top-level commas. Shared by the receiver types (typer.py),
the member table (members.py) and the features (features.py).
"""
from __future__ import annotations

import functools
import re

WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
IDENT = re.compile(r"[^\W\d]\w*")  # a Python identifier
_PARAMS = re.compile(r"\((.*)\)", re.DOTALL)


@functools.lru_cache(maxsize=8192)
def subwords(name: str) -> frozenset[str]:
    """The lower-cased words of an identifier, split at underscores and case changes, two letters
    or more: subwords("get_send_file_max_age") -> {"get", "send", "file", "max", "age"};
    subwords("HTTPServer") -> {"http", "server"}."""
    return frozenset(w.lower() for w in WORD.findall(name) if len(w) >= 2)


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside brackets: split_top("a, B[c, d]") -> ["a", " B[c, d]"]."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


@functools.lru_cache(maxsize=8192)
def _split_signature(sig: str) -> tuple[tuple[str, ...], str]:
    """A `def` signature's parameters as written, annotations and defaults cut off (`*b`,
    `*` and `/` kept), and its return annotation; ((), "") for anything else."""
    if not sig.startswith(("def ", "async def ")):
        return (), ""
    head, arrow, ret = sig.partition(") ->")
    m = _PARAMS.search(head + ")" if arrow else head)
    params = tuple(p.split(":", 1)[0].split("=", 1)[0].strip() for p in split_top(m.group(1))) if m else ()
    return params, ret.strip()


def signature_parts(sig: str) -> tuple[tuple[str, ...], str, bool]:
    """A `def` signature's parameter names (self/cls, `*`, `/` and starred ones left out), its
    return annotation ("" when none), and whether it is async:
    signature_parts("def f(self, a: int, *b, c=1) -> bool") -> (("a", "c"), "bool", False)."""
    params, ret = _split_signature(sig)
    names = tuple(p for p in params if p and p.isidentifier() and p not in ("self", "cls"))
    return names, ret, sig.startswith("async ")


def first_param(sig: str) -> str:
    """The first parameter's name of a `def` signature ("" for none or no def):
    first_param("def fit(cls, x)") -> "cls"."""
    params = _split_signature(sig)[0]
    return params[0] if params else ""


def words_in(text: str) -> frozenset[str]:
    """Every identifier's subwords in a piece of code."""
    out: set[str] = set()
    for ident in set(IDENT.findall(text)):
        out |= subwords(ident)
    return frozenset(out)
