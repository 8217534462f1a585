"""Code completion over the index: candidates from the graph, ranked by usage statistics.

After `receiver.` the candidates are the members of the receiver's inferred type (its class
and bases, a module's members and submodules, a builtin type's attributes), beside every
name written after the same receiver elsewhere; without a receiver, the names in scope.
Each candidate's score is a weighted sum of features (graphmer/index/complete_rank.py): how often the
name is used as an attribute in the repository, after that receiver text, its type and its
context token, and in the open buffer (graphmer/index/pynames.py counts them), with indicators read
from the name and the code around the cursor; the weights are fitted on standard-library code.

No leakage: the file being completed is in the index, so its indexed uses are subtracted
from the repository totals and the buffer's own uses added; the buffer overrides the file.
"""
from __future__ import annotations

import builtins
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from graphmer.index import stdlib_usage
from graphmer.index.complete_buffer import (
    Buffer,
    CursorText,
    cursor_text,
    split_lines,
)
from graphmer.index.complete_members import MemberTable
from graphmer.index.complete_owner import OwnerUses
from graphmer.index.complete_rank import (
    IDENT,
    RankWeights,
    name_features,
    returns_named,
    signature_features,
    signature_parts,
    words_in,
)
from graphmer.index.complete_types import BUILTIN_CLASSES, UNKNOWN, Typer, Val
from graphmer.index.complete_usage import (
    Uses,
    assigned_name,
    call_slot,
    last_part,
    name_match,
    near_uses,
    split_uses,
    transitions,
)
from graphmer.index.graph import Resolver
from graphmer.index.indexer import module_names
from graphmer.index.pynames import context_token, norm_receiver
from graphmer.index.records import CLASS_KINDS
from graphmer.index.stdlib_usage import Usage
from graphmer.index.store import Store

_PLAIN_METHODS = frozenset(n for t in (str, list, dict) for n in dir(t) if not n.startswith("_"))
_CTX_PRIOR = 4.0  # pseudo-uses behind ctx_lr's estimate of a name's rate in a context (a Beta prior at the receiver's rate)
_QUOTED = re.compile(r"[\"'](\w+)[\"']")  # a name written as a string literal (`yield "link", self.link`)
_BUILTIN_NAMES = sorted(n for n in dir(builtins) if not n.startswith("_"))
# Scorer: (path, line, candidates) -> one extra score per candidate (e.g. a model's).
Scorer = Callable[[str, int, list["CompletionItem"]], list[float]]


@dataclass(frozen=True, slots=True)
class CompletionItem:
    label: str  # the name inserted
    kind: str  # graphmer symbol kind: "method", "function", "class", "attribute", "module", "variable", ...
    detail: str  # short: qualname or signature
    score: float  # higher is better; items come sorted by it
    symbol_id: int = 0  # store id when the item is an indexed symbol (0 otherwise), used by resolve


@dataclass(frozen=True, slots=True)
class Completions:
    items: list[CompletionItem]  # ranked best first, already filtered by `prefix`
    prefix: str  # the identifier characters typed before the cursor
    receiver: str  # the receiver expression text ("self", "os.path", "") or ""
    receiver_type: str  # what it resolved to (qualname) or "" when unknown
    truncated: bool = False  # more candidates matched than `limit` let through


class Completer:
    """Completion over one index; load once (symbol table, usage totals), ask many times."""

    def __init__(self, store: Store, scorer: Scorer | None = None, weights: RankWeights | None = None,
                 resolver: Resolver | None = None, stdlib_uses: Usage | None = None) -> None:
        """weights: the ranking weights (default: the shipped fitted ones, RankWeights.fitted());
        resolver: the index's name resolver when the caller has built it already (it is read, never changed);
        stdlib_uses: reads of standard-library modules' members (default: the shipped counts, graphmer/index/stdlib_usage.py)."""
        self.store = store
        self.scorer = scorer
        self.w = weights = weights if weights is not None else RankWeights.fitted()
        self.stdlib_uses = stdlib_uses if stdlib_uses is not None else stdlib_usage.shipped()
        self.feature_log: list[tuple[str, dict[str, float]]] | None = None  # set to a list to record each candidate's features
        self.resolver = resolver or Resolver(store.graph_inputs())
        graphs = self.resolver.files
        paths = [p for (p,) in store.conn.execute("SELECT path FROM files ORDER BY id")]
        self.file_ids = dict(store.conn.execute("SELECT path, id FROM files"))
        self.modules = {p: (g.module, g.is_package) for p, g in zip(paths, graphs)}
        self.root_name = store.root.name
        self.symbols: dict[str, tuple[int, str, str]] = {}
        for i, q, kind, sig in store.conn.execute("SELECT id, qualname, kind, signature FROM symbols ORDER BY id DESC"):
            self.symbols[q] = (i, kind, sig)  # the first definition of a name wins, as in the graph
        self.attrs: dict[str, dict[str, str]] = {}
        for owner, name, value in store.conn.execute("SELECT owner, name, value FROM attributes ORDER BY file_id, line"):
            self.attrs.setdefault(owner, {}).setdefault(name, value)
        returns: dict[str, str] = {}
        for src, dst in store.conn.execute(
            "SELECT s.qualname, d.qualname FROM edges e JOIN symbols s ON s.id = e.src JOIN symbols d ON d.id = e.dst "
            "WHERE e.relation = 'returns' ORDER BY e.rowid"
        ):
            returns.setdefault(src, dst)
        self.by_recv: dict[str, Counter] = {}
        self.by_last: dict[str, Counter] = {}
        self.by_name: Counter = Counter()
        for r, n, k in store.conn.execute("SELECT receiver, name, sum(count) FROM attr_uses GROUP BY receiver, name"):
            self.by_recv.setdefault(r, Counter())[n] += k
            self.by_last.setdefault(last_part(r), Counter())[n] += k
            self.by_name[n] += k
        self._recv_qual: dict[tuple[str, str], str] = {}
        self.by_qual: dict[str, Counter] = {}
        fid_module = {self.file_ids[p]: m for p, (m, _) in self.modules.items()}
        for fid, r, n, k in store.conn.execute("SELECT file_id, receiver, name, count FROM attr_uses"):
            q = self.receiver_qual(fid_module.get(fid, ""), r)
            if q:
                self.by_qual.setdefault(q, Counter())[n] += k
        self.popular = [n for n, _ in self.by_name.most_common(weights.popular)]
        self.owners = OwnerUses(store, self.resolver.bases)
        module_file = {g.module: fi for fi, g in enumerate(graphs)}
        self.typer = Typer(self.resolver, module_file, self.attrs, returns, self.symbols)
        self.member_table = MemberTable(store, self.typer)
        self.class_names: dict[str, list[str]] = {}  # lower-case class name, underscores stripped -> qualnames
        for q, kind in sorted(self.resolver.kind.items()):
            if kind in CLASS_KINDS:
                self.class_names.setdefault(q.rpartition(".")[2].lstrip("_").lower(), []).append(q)
        self._indexed_uses: dict[str, Counter] = {}
        self._typed: dict[tuple[str, int], list[str]] = {}
        self._split_cache: dict[str, tuple[dict, dict, Counter]] = {}
        self._ctx_cache: dict[str, dict[tuple[str, str], Counter]] = {}
        self.by_ctx: dict[tuple[str, str], Counter] = {}
        self.by_ctx_last: dict[tuple[str, str], Counter] = {}
        for r, x, n, k in store.conn.execute("SELECT receiver, ctx, name, sum(count) FROM attr_uses GROUP BY receiver, ctx, name"):
            self.by_ctx.setdefault((r, x), Counter())[n] += k
            self.by_ctx_last.setdefault((last_part(r), x), Counter())[n] += k

    # -- public ------------------------------------------------------------------------
    def complete(self, path: str, source: str, line: int, column: int, limit: int = 1000) -> Completions:
        """Ranked completions at (line, column), both 0-based, column in code points."""
        lines = split_lines(source)
        text = lines[line] if 0 <= line < len(lines) else ""
        ct = cursor_text(text[: max(column, 0)])
        if ct.receiver is None and ct.prefix == "" and text[:column].strip():
            return Completions([], "", "", "")  # after an operator or a bracket: nothing to ask
        buf = Buffer(source, line, column, ct.prefix)
        module, is_pkg = self.module_of(path)
        self.typer.use_buffer(buf, module, is_pkg)
        if ct.receiver is None:
            items, rtype = self._scope_items(buf, source), ""
        else:
            uses = Uses(self, self._indexed_split(path), buf.use_counts())
            uses.set_quals(self._quals(module, self.indexed_uses(path)), self._quals(module, buf.use_counts()))
            before = text[: max(column, 0) - len(ct.prefix) - 1 - len(ct.receiver)]
            uses.path_ctx = self._indexed_ctx(path)
            if ct.receiver in ("self", "cls"):  # the only receivers that read them (a second parse)
                uses.owner_swap = (self.owners.indexed(self.file_ids.get(path)), buf.self_uses(module))
            items, rtype = self._member_items(ct, uses, buf, before)
        items = [it for it in items if it.label.startswith(ct.prefix)]
        if self.scorer is not None and items:
            extra = self.scorer(path, line, items)
            items = [CompletionItem(it.label, it.kind, it.detail, it.score + e, it.symbol_id) for it, e in zip(items, extra)]
        items.sort(key=lambda it: (-it.score, it.label))
        return Completions(items[:limit], ct.prefix, ct.receiver or "", rtype, len(items) > limit)

    def resolve(self, symbol_id: int) -> dict:
        """Signature, doc, qualname, path and 1-based start line of an indexed symbol."""
        row = self.store.conn.execute(
            "SELECT s.signature, s.doc, s.qualname, f.path, s.start_line FROM symbols s LEFT JOIN files f ON f.id = s.file_id WHERE s.id = ?",
            (symbol_id,),
        ).fetchone()
        if row is None:
            raise KeyError(f"no symbol with id {symbol_id} in the index: it was re-indexed; ask for completions again")
        sig, doc, qual, path, line = row
        return {"signature": sig, "doc": doc, "qualname": qual, "path": path, "line": line}

    def attribute_uses(self, path: str, source: str, line: int, column: int) -> Counter:
        """The (receiver, name) counts ranking uses at a cursor: the repository's, with the
        file's indexed uses replaced by the buffer's (the benchmark checks them)."""
        lines = split_lines(source)
        ct = cursor_text((lines[line] if 0 <= line < len(lines) else "")[: max(column, 0)])
        out = Counter({(r, n): k for r, names in self.by_recv.items() for n, k in names.items()})
        out.subtract(self.indexed_uses(path))
        out.update(Buffer(source, line, column, ct.prefix).use_counts())
        return +out

    def module_of(self, path: str) -> tuple[str, bool]:
        """Module name and is-package flag of a file, indexed or not."""
        if path in self.modules:
            return self.modules[path]
        return module_names([path], self.root_name)[path] if path.endswith((".py", ".pyi")) else (PurePosixPath(path).stem, False)

    def indexed_uses(self, path: str) -> Counter:
        """(receiver, name) counts stored for the file at path (empty when not indexed)."""
        if path not in self._indexed_uses:
            out: Counter = Counter()
            for (r, _), names in self._indexed_ctx(path).items():  # summed over context tokens
                for n, k in names.items():
                    out[(r, n)] += k
            self._indexed_uses[path] = out
        return self._indexed_uses[path]

    def _indexed_ctx(self, path: str) -> dict[tuple[str, str], Counter]:
        """(receiver, context token) -> name -> count, stored for the file at path."""
        if path not in self._ctx_cache:
            fid = self.file_ids.get(path)
            rows = self.store.conn.execute("SELECT receiver, ctx, name, count FROM attr_uses WHERE file_id = ?", (fid,)) if fid else []
            out: dict[tuple[str, str], Counter] = {}
            for r, x, n, k in rows:
                out.setdefault((r, x), Counter())[n] += k
            self._ctx_cache[path] = out
        return self._ctx_cache[path]

    def _indexed_split(self, path: str) -> tuple[dict, dict, Counter]:
        if path not in self._split_cache:
            self._split_cache[path] = split_uses(self.indexed_uses(path))
        return self._split_cache[path]

    # -- attribute completion ----------------------------------------------------------
    def _member_items(self, ct: CursorText, uses: Uses, buf: Buffer, before: str) -> tuple[list[CompletionItem], str]:
        """Candidates after `receiver.`; `before` is the line's text before the receiver."""
        target, token = assigned_name(before), context_token(before)
        if ct.literal:
            val = Val("instance", "builtins." + ct.literal)
        elif ct.receiver:
            val = self.typer.eval(norm_receiver(ct.receiver))
        else:
            val = UNKNOWN
        members, whole = self.member_table.of(val)
        # A class whose members are all known: the context token reorders its members only, it
        # never lifts a name the class does not define above them.
        whole_type = whole and bool(members) and val.kind in ("class", "instance")
        key = norm_receiver(ct.receiver or "")
        exact = uses.by_receiver(key) if key else Counter()
        ctx = uses.by_context(key, token, buf.use_sites()) if key else Counter()
        fn = next((n for n in buf.chain if n.type == "function_definition"), None)
        func = fn.child_by_field_name("name").text.decode("utf-8", "replace") if fn is not None and fn.child_by_field_name("name") else ""
        near_any: dict[str, float] = {}  # closeness-weighted buffer uses of each name after any receiver
        for _, n, row, _ in buf.use_sites():
            near_any[n] = near_any.get(n, 0.0) + math.exp(-abs(row - buf.line) / self.w.near_lines)
        def_rows: dict[str, int] = {}  # rows of the members the buffer's classes define
        for c in self.typer.mro(val.qual) if val.kind in ("class", "instance") else ():
            node = self.typer._buffer_class(c)
            for n, row in (buf.definition_rows(node) if node is not None else {}).items():
                def_rows.setdefault(n, row)
        line_words = words_in(before)
        line_names = set(re.findall(r"(?<![\w.])" + re.escape(ct.receiver) + r"\s*\.\s*(\w+)", before)) if ct.receiver else set()
        quoted = set(_QUOTED.findall(before))
        func_words = words_in(buf.text_around(fn))
        seq = transitions(buf, key, fn) if key else Counter()
        slot = self._param_at(*call_slot(before))
        ctx_last = uses.by_context_last(key, token, buf.use_sites()) if key and key not in ("self", "cls") else Counter()
        last = uses.by_last(key) if key else Counter()
        rows = [(0, buf.root.end_point.row)]  # the buffer rows whose uses count as near
        if key in ("self", "cls") and members:
            # `self.` names a different class in every file: the repository's counts mix them,
            # the buffer's too; the uses inside the enclosing class and its bases are its own.
            nodes = [self.typer._buffer_class(c) for c in self.typer.mro(val.qual)]
            rows = [(n.start_point.row, n.end_point.row) for n in nodes if n is not None] or rows
            exact = Counter(n for r, n, row, _ in buf.use_sites() if r == key and any(a <= row <= b for a, b in rows))
            last = Counter()  # exact is already these uses
            ctx = Counter(n for r, n, row, x in buf.use_sites() if r == key and x == token and any(a <= row <= b for a, b in rows))
        fam, sub = self.owners.counts(self.typer.mro(val.qual), uses.owner_swap) if key in ("self", "cls") and members else ({}, {})
        typed = uses.by_receivers(self.typed_receivers(val.qual, members)) if val.kind == "instance" and members else Counter()
        quals = uses.by_qual(val.qual) if val.kind in ("module", "class", "external") else Counter()
        near = near_uses(buf, key, self.w.near_lines, rows) if key else {}
        guessed = self._named_class_members(key) if val.kind == "" and key else set()
        std = self.stdlib_uses.get(val.qual, {}) if val.kind == "external" else {}
        on_instances = self.member_table.instance_names(val) if val.kind == "class" else set()
        next_def = self._next_defined(buf, key, val) if key else ""
        pool = set(members) | set(exact) | set(last) | set(quals) | guessed | set(std)
        if val.kind != "module" and ct.prefix:
            # Objects get attributes at run time: any attribute name of the repository may
            # do once a prefix narrows them; ranked by usage alone they rarely lead.
            pool |= {n for n in uses.t.by_name if n.startswith(ct.prefix)} | {n for n in uses.buf_name if n.startswith(ct.prefix)}
        elif not members or not whole:
            # Without a prefix and a known type, the repository's most used attribute names fill
            # the list's tail (their score is usage alone, below the receiver's own names).
            pool |= set(self.popular) | set(uses.buf_name) | (_PLAIN_METHODS if val.kind == "" else set())
        pool = {n for n in pool if n.startswith(ct.prefix)}
        p_ctx = (sum(ctx.values()) + 1) / (sum(exact.values()) + 1)  # how often this receiver's uses stand in this context
        out, feats = [], []
        for name in pool:
            m = members.get(name)
            gated = bool(m) or not whole_type  # a name the fully known class lacks gets no context or family credit
            f = {
                "member": 1.0 if m else 0.0,
                "name_type": 1.0 if name in guessed else 0.0,
                "depth": -float(m[3]) if m else 0.0,
                "exact": math.log1p(exact.get(name, 0)),
                "last": math.log1p(last.get(name, 0)),
                "buffer": math.log1p(uses.in_buffer(name)),
                "typed": math.log1p(typed.get(name, 0)) if m else 0.0,
                "qual": math.log1p(quals.get(name, 0)),
                "named": name_match(target, name),
                "in_def": name_match(func, name),
                "context": math.log1p(ctx.get(name, 0)) if gated else 0.0,
                "context_last": math.log1p(ctx_last.get(name, 0)) if gated else 0.0,
                "ctx_ratio": math.log((1 + ctx.get(name, 0)) / (1 + exact.get(name, 0))) if gated else 0.0,
                "ctx_lr": math.log((ctx.get(name, 0) + _CTX_PRIOR * p_ctx) / ((exact.get(name, 0) + _CTX_PRIOR) * p_ctx)) if gated else 0.0,
                "near": math.log1p(near.get(name, 0.0)),
                "family": math.log1p(fam.get(name, 0)) if gated else 0.0,
                "subclass": math.log1p(sub.get(name, 0)) if gated else 0.0,
                "anywhere": math.log1p(max(uses.name(name), 0)),
                "stdlib": math.log1p(std.get(name, 0)),
            }
            f["plain"] = 1.0 if val.kind == "" and name in _PLAIN_METHODS else 0.0  # an unknown object is often a str, list or dict
            if m is None and not any(v > 0 for k, v in f.items() if k != "ctx_ratio"):
                continue  # a name outside the type with no evidence for it
            f["unused"] = 1.0 if m and f["anywhere"] == 0.0 else 0.0
            f["module_member"] = 1.0 if m and val.kind == "module" else 0.0
            f["near_any"] = math.log1p(near_any.get(name, 0.0))
            own = key in ("self", "cls") and name == func  # the enclosing method itself: a recursive call
            f["own_def"] = 1.0 if own else 0.0
            f["def_near"] = math.exp(-abs(def_rows[name] - buf.line) / self.w.near_lines) if m and name in def_rows and not own else 0.0
            f.update(name_features(name, m[0] if m else "", key, token, line_words, func_words))
            if m:
                sig = self._signature(name, m)
                f.update(signature_features(sig, m[0], token))
                f["ret_named"] = returns_named(target or slot, sig)
            f["seq"] = math.log1p(seq.get(name, 0))
            f["cls_self"] = 1.0 if name in on_instances else 0.0
            f["line_dup"] = 1.0 if name in line_names else 0.0
            f["next_def"] = 1.0 if name == next_def else 0.0
            f["quoted"] = 1.0 if name in quoted else 0.0
            f["slot"] = name_match(slot, name) if slot else 0.0
            if self.feature_log is not None:
                self.feature_log.append((name, f))
            kind, detail, sid = (m[0], m[1], m[2]) if m else ("attribute", "", 0)
            out.append((name, kind, detail, sid))
            feats.append(f)
        items = [CompletionItem(n, k, d, round(s, 6), i) for (n, k, d, i), s in zip(out, self.w.scores(feats))]
        return items, val.qual if val.kind in ("module", "class", "instance") else ""

    def _next_defined(self, buf: Buffer, key: str, val: Val) -> str:
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

    def _named_class_members(self, key: str) -> set[str]:
        """For a receiver of unknown type: the members of the indexed classes named like its
        last part (`style` -> Style, `_cell` -> _Cell), at most three of them."""
        name = last_part(key).lstrip("_").lower()
        classes = self.class_names.get(name, []) if len(name) >= 3 and name.isidentifier() else []
        out: set[str] = set()
        for q in classes[:3]:
            out |= set(self.member_table.of(Val("instance", q))[0])
        return out

    def _param_at(self, callee: str, index: int) -> str:
        """The name of parameter `index` (self left out) of the function or class `callee` names, or ""."""
        if not callee or index < 0:
            return ""
        owner, _, last = norm_receiver(callee).rpartition(".")
        v = self.typer.member(self.typer.eval(owner), last, 0) if owner else self.typer.eval(last)
        q = v.qual + ".__init__" if v.kind == "class" else v.qual if v.kind == "function" else ""
        params = signature_parts(self.symbols.get(q, (0, "", ""))[2])[0] if q else ()
        return params[index] if index < len(params) else ""

    def _signature(self, name: str, m: tuple[str, str, int, int]) -> str:
        """A member's `def` line, or its attribute value (`:T`, `=call()`) when it has one."""
        if m[1].startswith(("def ", "async def ")):
            return m[1]
        owner, _, last = m[1].rpartition(".")
        return self.attrs.get(owner, {}).get(name, "") if last == name else ""

    def receiver_qual(self, module: str, receiver: str) -> str:
        """The absolute path a receiver text names in a module through its module-level imports
        and definitions ("t.abc" with `import typing as t` -> "typing.abc"), or ""."""
        key = (module, receiver)
        if key not in self._recv_qual:
            head, _, rest = receiver.partition(".")
            r = self.resolver
            target = r.bindings.get(module, {}).get(head) or r.members.get(module, {}).get(head)
            q = ""
            if target and "(" not in receiver and "[" not in receiver:
                q = r.canonical(f"{target}.{rest}" if rest else target) or ""
            self._recv_qual[key] = q
        return self._recv_qual[key]

    def _quals(self, module: str, counts: Counter) -> dict[str, Counter]:
        """(receiver, name) counts of one file regrouped by what the receivers name (receiver_qual)."""
        out: dict[str, Counter] = {}
        for (r, n), k in counts.items():
            q = self.receiver_qual(module, r)
            if q:
                out.setdefault(q, Counter())[n] += k
        return out

    def typed_receivers(self, cls: str, members: dict) -> list[str]:
        """Receiver texts of the repository whose attributes (two names or more) are all members
        of cls: a stand-in for "receivers of this type" that needs no whole-repository inference."""
        key = (cls, len(members))
        if key not in self._typed:
            self._typed[key] = [r for r, names in self.by_recv.items()
                                if r not in ("self", "cls") and len(names) > 1 and all(n in members for n in names)]
        return self._typed[key]

    def members(self, val: Val) -> dict[str, tuple[str, str, int, int]]:
        """name -> (kind, detail, symbol id, base depth) for the members of a value's type."""
        return self.member_table.of(val)[0]

    # -- names in scope ----------------------------------------------------------------
    def _scope_items(self, buf: Buffer, source: str) -> list[CompletionItem]:
        counts = Counter(IDENT.findall(source))
        seen: dict[str, CompletionItem] = {}
        scopes = [s for i, s in enumerate(buf.chain) if s.type == "function_definition" or i == 0]
        levels = [(s, 3.0 if i == 0 else 2.0) for i, s in enumerate(scopes)] + [(buf.root, 1.0)]
        for scope, level in levels:
            for name, binding in buf.scope_names(scope).items():
                if name in seen:
                    continue
                kind, val = self._scope_kind(name, binding, scope)
                score = level + 0.5 * math.log1p(counts.get(name, 0))
                sid, sig = (self.symbols.get(val.qual, (0, "", ""))[0], self.symbols.get(val.qual, (0, "", ""))[2]) if val.qual else (0, "")
                seen[name] = CompletionItem(name, kind, sig or val.qual or binding[1], round(score, 6), sid)
        for name in _BUILTIN_NAMES:
            if name not in seen:
                kind = "class" if name in BUILTIN_CLASSES else "function" if callable(getattr(builtins, name)) else "variable"
                seen[name] = CompletionItem(name, kind, f"builtins.{name}", round(0.5 * math.log1p(counts.get(name, 0)), 6))
        return list(seen.values())

    def _scope_kind(self, name: str, binding: tuple[str, str], scope) -> tuple[str, Val]:
        kind = binding[0]
        if kind in ("parameter", "variable"):
            return "variable", UNKNOWN
        val = self.typer._binding(name, binding, scope, 0)
        if kind == "import":
            return {"module": "module", "class": "class", "function": "function"}.get(val.kind, "module"), val
        return kind, val
