"""Completion without a receiver: the names in scope at the cursor (the enclosing functions',
the module's, then builtins), ranked by scope level and how often the buffer writes them.
"""
from __future__ import annotations

import builtins
import math
from collections import Counter

from graphmer.complete.buffer import Buffer
from graphmer.complete.rank import CompletionItem
from graphmer.complete.signatures import IDENT
from graphmer.complete.typer import BUILTIN_CLASSES, UNKNOWN, Typer, Val

_BUILTIN_NAMES = sorted(n for n in dir(builtins) if not n.startswith("_"))


def scope_items(buf: Buffer, source: str, typer: Typer) -> list[CompletionItem]:
    """One item per name in scope (inner scopes first, then builtins), unsorted."""
    symbols = typer.symbols
    counts = Counter(IDENT.findall(source))
    seen: dict[str, CompletionItem] = {}
    scopes = [s for i, s in enumerate(buf.chain) if s.type == "function_definition" or i == 0]
    levels = [(s, 3.0 if i == 0 else 2.0) for i, s in enumerate(scopes)] + [(buf.root, 1.0)]
    for scope, level in levels:
        for name, binding in buf.scope_names(scope).items():
            if name in seen:
                continue
            kind, val = _scope_kind(typer, name, binding, scope)
            score = level + 0.5 * math.log1p(counts.get(name, 0))
            sid, sig = (symbols.get(val.qual, (0, "", ""))[0], symbols.get(val.qual, (0, "", ""))[2]) if val.qual else (0, "")
            seen[name] = CompletionItem(name, kind, sig or val.qual or binding[1], round(score, 6), sid)
    for name in _BUILTIN_NAMES:
        if name not in seen:
            kind = "class" if name in BUILTIN_CLASSES else "function" if callable(getattr(builtins, name)) else "variable"
            seen[name] = CompletionItem(name, kind, f"builtins.{name}", round(0.5 * math.log1p(counts.get(name, 0)), 6))
    return list(seen.values())


def _scope_kind(typer: Typer, name: str, binding: tuple[str, str], scope) -> tuple[str, Val]:
    kind = binding[0]
    if kind in ("parameter", "variable"):
        return "variable", UNKNOWN
    val = typer.binding(name, binding, scope, 0)
    if kind == "import":
        return {"module": "module", "class": "class", "function": "function"}.get(val.kind, "module"), val
    return kind, val
