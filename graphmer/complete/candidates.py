"""Stage 3, the candidates: the evidence for the names after one receiver (its usage counts
with the leakage swap, closeness in the buffer, the class family's `self.` uses, what the
cursor's line and function say) gathered as one `Evidence`, and the pool of names it puts
forward: the receiver type's members beside every name written after the same receiver.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from graphmer.complete.buffer import Buffer
from graphmer.complete.cursor import CursorText, assigned_name, call_slot
from graphmer.complete.members import MemberTable
from graphmer.complete.owner import OwnerUses
from graphmer.complete.receiver import Receiver
from graphmer.complete.signatures import signature_parts, words_in
from graphmer.complete.stdlib_usage import Usage
from graphmer.complete.typer import Typer, Val
from graphmer.complete.usage import Uses, last_part, near_uses, transitions
from graphmer.index.pynames import context_token, norm_receiver
from graphmer.index.records import CLASS_KINDS

PLAIN_METHODS = frozenset(n for t in (str, list, dict) for n in dir(t) if not n.startswith("_"))
_QUOTED = re.compile(r"[\"'](\w+)[\"']")  # a name written as a string literal (`yield "link", self.link`)
_OWN = ("self", "cls")


@dataclass(frozen=True)
class Evidence:
    """What one request knows about the names after its receiver (each a name -> count or weight)."""

    key: str  # the receiver as a usage key
    token: str  # the context token before the receiver (pynames.context_token)
    line: int  # the cursor's row
    target: str  # the name the expression is assigned or passed to (cursor.assigned_name), or ""
    slot: str  # the parameter it is passed to positionally, or ""
    func: str  # the enclosing function's name, or ""
    line_words: frozenset[str]  # the words of the line before the receiver
    func_words: frozenset[str]  # the words of the enclosing function (the cursor's line left out)
    line_names: set[str]  # names the line already reads after the same receiver
    quoted: set[str]  # names the line writes as string literals
    exact: Counter  # uses after this receiver text
    last: Counter  # ... after a receiver ending in the same name
    ctx: Counter  # ... after this receiver behind the same context token
    ctx_last: Counter  # ... after a receiver ending in the same name behind the same token
    typed: Counter  # ... after receivers typed as the same class
    quals: Counter  # ... after receivers naming the same module, class or external path
    near: dict[str, float]  # buffer uses after this receiver, weighted by closeness
    near_any: dict[str, float]  # buffer uses after any receiver, weighted by closeness
    seq: Counter  # buffer uses right after the receiver's previous name
    fam: Counter  # `self.`: uses in the methods of the class and its bases in other files
    sub: Counter  # `self.`: uses in the methods of its subclasses
    std: dict[str, int]  # the standard library's reads of this external path's members
    guessed: set[str]  # members of the indexed classes named like an untyped receiver
    def_rows: dict[str, int]  # rows of the members the buffer's classes define
    on_instances: set[str]  # a class's members that belong to its instances
    next_def: str  # the attribute assigned right after the one last read after this receiver
    p_ctx: float  # how often this receiver's uses stand in this context: (ctx uses + 1) / (exact uses + 1)


class CandidateFinder:
    """The candidate stage over one index: its tables are loaded once, each request asks."""

    def __init__(self, typer: Typer, member_table: MemberTable, owners: OwnerUses, by_recv: dict[str, Counter],
                 popular: list[str], stdlib_uses: Usage, near_lines: float) -> None:
        self.typer = typer
        self.member_table = member_table
        self.owners = owners
        self.by_recv = by_recv  # the repository's uses by receiver text (UsageTotals.by_recv)
        self.popular = popular  # the repository's most used attribute names
        self.stdlib_uses = stdlib_uses
        self.near_lines = near_lines
        self.class_names: dict[str, list[str]] = {}  # lower-case class name, underscores stripped -> qualnames
        for q, kind in sorted(typer.r.kind.items()):
            if kind in CLASS_KINDS:
                self.class_names.setdefault(q.rpartition(".")[2].lstrip("_").lower(), []).append(q)
        self._typed: dict[tuple[str, int], list[str]] = {}

    def evidence(self, ct: CursorText, before: str, buf: Buffer, recv: Receiver, uses: Uses,
                 owner_swap: tuple[dict, dict]) -> Evidence:
        """Everything the features read, for the receiver `recv` after the line text `before`."""
        key, val, members = recv.key, recv.val, recv.members
        token = context_token(before)
        fn = next((n for n in buf.chain if n.type == "function_definition"), None)
        name = fn.child_by_field_name("name") if fn is not None else None
        exact, last, ctx, ctx_last, rows = self._receiver_counts(buf, recv, uses, token)
        own_class = key in _OWN and members
        fam, sub = self.owners.counts(self.typer.mro(val.qual), owner_swap) if own_class else ({}, {})
        return Evidence(
            key=key, token=token, line=buf.line, target=assigned_name(before), slot=self.param_at(*call_slot(before)),
            func=name.text.decode("utf-8", "replace") if name is not None else "",
            line_words=words_in(before), func_words=words_in(buf.text_around(fn)),
            line_names=set(re.findall(r"(?<![\w.])" + re.escape(ct.receiver) + r"\s*\.\s*(\w+)", before)) if ct.receiver else set(),
            quoted=set(_QUOTED.findall(before)),
            exact=exact, last=last, ctx=ctx, ctx_last=ctx_last,
            typed=uses.by_receivers(self.typed_receivers(val.qual, members)) if val.kind == "instance" and members else Counter(),
            quals=uses.by_qual(val.qual) if val.kind in ("module", "class", "external") else Counter(),
            near=near_uses(buf, key, self.near_lines, rows) if key else {},
            near_any=self._near_any(buf), seq=transitions(buf, key, fn) if key else Counter(), fam=fam, sub=sub,
            std=self.stdlib_uses.get(val.qual, {}) if val.kind == "external" else {},
            guessed=self.named_class_members(key) if val.kind == "" and key else set(),
            def_rows=self._def_rows(buf, val),
            on_instances=self.member_table.instance_names(val) if val.kind == "class" else set(),
            next_def=self.next_defined(buf, key, val) if key else "",
            p_ctx=(sum(ctx.values()) + 1) / (sum(exact.values()) + 1),
        )

    def _receiver_counts(self, buf: Buffer, recv: Receiver, uses: Uses, token: str) -> tuple:
        """(exact, last, ctx, ctx_last, rows): the uses after this receiver, after its last part,
        behind the same context token, and the buffer rows whose uses count as near."""
        key = recv.key
        exact = uses.by_receiver(key) if key else Counter()
        ctx = uses.by_context(key, token, buf.use_sites()) if key else Counter()
        ctx_last = uses.by_context_last(key, token, buf.use_sites()) if key and key not in _OWN else Counter()
        last = uses.by_last(key) if key else Counter()
        rows = [(0, buf.root.end_point.row)]
        if key in _OWN and recv.members:
            # `self.` names a different class in every file: the repository's counts mix them,
            # the buffer's too; the uses inside the enclosing class and its bases are its own.
            nodes = [self.typer.buffer_class(c) for c in self.typer.mro(recv.val.qual)]
            rows = [(n.start_point.row, n.end_point.row) for n in nodes if n is not None] or rows
            exact = Counter(n for r, n, row, _ in buf.use_sites() if r == key and any(a <= row <= b for a, b in rows))
            last = Counter()  # exact is already these uses
            ctx = Counter(n for r, n, row, x in buf.use_sites() if r == key and x == token and any(a <= row <= b for a, b in rows))
        return exact, last, ctx, ctx_last, rows

    def _near_any(self, buf: Buffer) -> dict[str, float]:
        """Closeness-weighted buffer uses of each name after any receiver."""
        out: dict[str, float] = {}
        for _, n, row, _ in buf.use_sites():
            out[n] = out.get(n, 0.0) + math.exp(-abs(row - buf.line) / self.near_lines)
        return out

    def _def_rows(self, buf: Buffer, val: Val) -> dict[str, int]:
        """Rows of the members the buffer's classes in the value's MRO define."""
        out: dict[str, int] = {}
        for c in self.typer.mro(val.qual) if val.kind in ("class", "instance") else ():
            node = self.typer.buffer_class(c)
            for n, row in (buf.definition_rows(node) if node is not None else {}).items():
                out.setdefault(n, row)
        return out

    def pool(self, prefix: str, recv: Receiver, ev: Evidence, uses: Uses) -> set[str]:
        """The names worth scoring after this receiver, starting with `prefix`."""
        members, kind = recv.members, recv.val.kind
        pool = set(members) | set(ev.exact) | set(ev.last) | set(ev.quals) | ev.guessed | set(ev.std)
        if kind != "module" and prefix:
            # Objects get attributes at run time: any attribute name of the repository may
            # do once a prefix narrows them; ranked by usage alone they rarely lead.
            pool |= {n for n in uses.totals.by_name if n.startswith(prefix)} | {n for n in uses.buf_name if n.startswith(prefix)}
        elif not members or not recv.whole:
            # Without a prefix and a known type, the repository's most used attribute names fill
            # the list's tail (their score is usage alone, below the receiver's own names).
            pool |= set(self.popular) | set(uses.buf_name) | (PLAIN_METHODS if kind == "" else set())
        return {n for n in pool if n.startswith(prefix)}

    def next_defined(self, buf: Buffer, key: str, val: Val) -> str:
        """The attribute assigned right after the one the buffer last read after this receiver,
        before the cursor: code that lists fields (`yield "bold", self.bold` ..., enum members in
        a table) lists them in the order the class defines them."""
        prev, row = "", -1
        for r, n, at, _ in buf.use_sites():
            if r == key and row <= at <= buf.line:
                prev, row = n, at
        if not prev or val.kind not in ("class", "instance"):
            return ""
        order = self.member_table.attribute_order(val)
        i = order.index(prev) if prev in order else -1
        return order[i + 1] if 0 <= i < len(order) - 1 else ""

    def named_class_members(self, key: str) -> set[str]:
        """For a receiver of unknown type: the members of the indexed classes named like its
        last part (`style` -> Style, `_cell` -> _Cell), at most three of them."""
        name = last_part(key).lstrip("_").lower()
        classes = self.class_names.get(name, []) if len(name) >= 3 and name.isidentifier() else []
        out: set[str] = set()
        for q in classes[:3]:
            out |= set(self.member_table.of(Val("instance", q))[0])
        return out

    def param_at(self, callee: str, index: int) -> str:
        """The name of parameter `index` (self left out) of the function or class `callee` names, or ""."""
        if not callee or index < 0:
            return ""
        typer = self.typer
        owner, _, last = norm_receiver(callee).rpartition(".")
        v = typer.member(typer.eval(owner), last, 0) if owner else typer.eval(last)
        q = v.qual + ".__init__" if v.kind == "class" else v.qual if v.kind == "function" else ""
        params = signature_parts(typer.symbols.get(q, (0, "", ""))[2])[0] if q else ()
        return params[index] if index < len(params) else ""

    def typed_receivers(self, cls: str, members: dict) -> list[str]:
        """Receiver texts of the repository whose attributes (two names or more) are all members
        of cls: a stand-in for "receivers of this type" that needs no whole-repository inference."""
        key = (cls, len(members))
        if key not in self._typed:
            self._typed[key] = [r for r, names in self.by_recv.items()
                                if r not in _OWN and len(names) > 1 and all(n in members for n in names)]
        return self._typed[key]
