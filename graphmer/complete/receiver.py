"""Stage 2, the receiver: what the text before the dot names (its inferred type, typer.py) and
the members of that type (members.py), as one `Receiver`; and the path a receiver text names
through a module's imports, for the usage counts per module, class or external path.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from graphmer.complete.cursor import CursorText
from graphmer.complete.members import Member, MemberTable
from graphmer.complete.typer import UNKNOWN, Typer, Val
from graphmer.index.graph import Resolver
from graphmer.index.pynames import norm_receiver


@dataclass(frozen=True)
class Receiver:
    """What completion knows about the receiver of `receiver.`."""

    key: str  # the receiver text as a usage key (pynames.norm_receiver), "" for a literal or none
    val: Val  # its inferred value (UNKNOWN when it cannot be followed)
    members: dict[str, Member]  # the members of its type
    whole: bool  # whether they are all there (False: a base class outside what can be read)

    @property
    def whole_type(self) -> bool:
        """A class or instance whose members are all known: the context token reorders its members
        only, it never lifts a name the class does not define above them."""
        return self.whole and bool(self.members) and self.val.kind in ("class", "instance")

    @property
    def type_name(self) -> str:
        """The qualname shown as the receiver's type ("" unless a module, class or instance)."""
        return self.val.qual if self.val.kind in ("module", "class", "instance") else ""


def resolve_receiver(ct: CursorText, typer: Typer, member_table: MemberTable) -> Receiver:
    """The receiver's value and members, evaluated in the buffer typer.use_buffer set."""
    if ct.literal:
        val = Val("instance", "builtins." + ct.literal)
    elif ct.receiver:
        val = typer.eval(norm_receiver(ct.receiver))
    else:
        val = UNKNOWN
    members, whole = member_table.of(val)
    return Receiver(norm_receiver(ct.receiver or ""), val, members, whole)


class ReceiverPaths:
    """The absolute path a receiver text names in a module, through the module's imports and
    definitions; memoized (the usage totals ask it for every stored row)."""

    def __init__(self, resolver: Resolver) -> None:
        self.r = resolver
        self._cache: dict[tuple[str, str], str] = {}

    def qual(self, module: str, receiver: str) -> str:
        """("t.abc" with `import typing as t` -> "typing.abc"), or "" when it names nothing known."""
        key = (module, receiver)
        if key not in self._cache:
            head, _, rest = receiver.partition(".")
            r = self.r
            target = r.bindings.get(module, {}).get(head) or r.members.get(module, {}).get(head)
            q = ""
            if target and "(" not in receiver and "[" not in receiver:
                q = r.canonical(f"{target}.{rest}" if rest else target) or ""
            self._cache[key] = q
        return self._cache[key]

    def regroup(self, module: str, counts: Counter) -> dict[str, Counter]:
        """(receiver, name) counts of one file regrouped by what the receivers name (qual)."""
        out: dict[str, Counter] = {}
        for (r, n), k in counts.items():
            q = self.qual(module, r)
            if q:
                out.setdefault(q, Counter())[n] += k
        return out
