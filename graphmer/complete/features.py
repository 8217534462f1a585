"""Stage 4, the features: one candidate name's named features (log-counts of uses and
indicators read from the name, its member entry and the code around the cursor), from the
`Evidence` the candidate stage gathered. Rank (rank.py) weighs them.
"""
from __future__ import annotations

import math
import re

from graphmer.complete.candidates import PLAIN_METHODS, Evidence
from graphmer.complete.members import Member
from graphmer.complete.receiver import Receiver
from graphmer.complete.signatures import WORD, is_dunder, signature_parts, subwords, words_in
from graphmer.complete.usage import Uses

_CTX_PRIOR = 4.0  # pseudo-uses behind ctx_lr's estimate of a name's rate in a context (a Beta prior at the receiver's rate)
# The context token before a receiver (pynames.context_token) -> the indicator a callable member sets.
CALL_CONTEXTS = {"^": "call_start", "return": "call_return", "yield": "call_return", "await": "call_return",
                 "in": "call_in", "(": "call_arg", ",": "call_arg", "=": "call_arg",
                 **dict.fromkeys(("if", "elif", "while", "not", "and", "or", "is", "assert"), "call_cond")}
_BOOL_HEADS = frozenset({"is", "has", "can", "should", "needs", "allow", "allows", "use", "uses", "enable", "enabled"})
_ITERABLE = re.compile(r"\b(?:list|List|tuple|Tuple|set|Set|frozenset|dict|Dict|Iterable|Iterator|Sequence|Generator|Mapping)\b")


def name_features(name: str, member_kind: str, receiver: str, token: str, line_words: frozenset[str],
                  func_words: frozenset[str]) -> dict[str, float]:
    """The features read from the candidate's name and kind (member_kind: "" for a non-member)
    and the cursor's surroundings: the receiver text, its context token, the words around."""
    f: dict[str, float] = {}
    f["private"] = 1.0 if name.startswith("_") and receiver not in ("self", "cls") else 0.0
    f["callable"] = 1.0 if member_kind in ("method", "function", "class") else 0.0
    call_ctx = CALL_CONTEXTS.get(token, "")
    if call_ctx and f["callable"]:
        f[call_ctx] = 1.0
    sw = subwords(name)
    f["words_line"] = len(sw & line_words) / len(sw) if sw else 0.0
    f["words_func"] = len(sw & func_words) / len(sw) if sw else 0.0
    head = WORD.match(name.lstrip("_"))
    f["cond_bool"] = 1.0 if call_ctx == "call_cond" and head and head.group().lower() in _BOOL_HEADS else 0.0
    f["in_plural"] = 1.0 if token == "in" and name.endswith("s") and not name.endswith("ss") else 0.0
    f["dunder"] = 1.0 if is_dunder(name) else 0.0
    f["constant"] = 1.0 if name.isupper() else 0.0
    f["capitalized"] = 1.0 if name[:1].isupper() and not name.isupper() else 0.0
    return f


_TYPING_WORDS = frozenset({"optional", "union", "list", "dict", "tuple", "set", "iterable", "iterator", "sequence",
                           "type", "none", "str", "int", "bool", "float", "any", "callable", "mapping", "typing", "self"})


def returns_named(target: str, sig: str) -> float:
    """Share of the words of the name a value is assigned or passed to that the candidate's
    return (or attribute) type names: `render_options = options.` -> `update` (-> ConsoleOptions)."""
    if not target:
        return 0.0
    _, ret, _ = signature_parts(sig)
    if sig.startswith(":"):
        ret = sig[1:]
    elif sig.startswith("=") and sig.endswith("()"):
        ret = sig[1:-2]  # `self.style = Style(...)`
    words = words_in(ret) - _TYPING_WORDS
    tw = subwords(target)
    return len(tw & words) / len(tw) if tw and words else 0.0


def signature_features(sig: str, member_kind: str, token: str) -> dict[str, float]:
    """Features of a member's signature (a `def` line; `:T` / `=value` for an attribute) against
    the context token before the receiver: awaited async methods, bool-returning names in
    conditions, iterable-returning names after `in`."""
    f: dict[str, float] = {}
    _, ret, is_async = signature_parts(sig)
    if member_kind in ("method", "function") and sig.startswith(("def ", "async def ")):
        f["await_async"] = 1.0 if is_async and token == "await" else 0.0
        f["async_other"] = 1.0 if is_async and token != "await" else 0.0
    elif sig.startswith(":"):
        ret = sig[1:]
    elif sig in ("=True", "=False"):
        ret = "bool"
    f["bool_cond"] = 1.0 if ret == "bool" and CALL_CONTEXTS.get(token) == "call_cond" else 0.0
    f["iter_in"] = 1.0 if token == "in" and _ITERABLE.search(ret) else 0.0
    return f


FeatureLog = list[tuple[str, dict[str, float]]]


def candidate_features(pool: set[str], recv: Receiver, ev: Evidence, uses: Uses, attrs: dict[str, dict[str, str]],
                       near_lines: float, log: FeatureLog | None = None) -> tuple[list[tuple[str, str, str, int]], list[dict[str, float]]]:
    """(name, kind, detail, symbol id) and the features of each name of the pool worth ranking
    (a name outside the type with no evidence for it is dropped); `log` records every one."""
    out, feats = [], []
    for name in pool:
        m = recv.members.get(name)
        f = features(name, m, recv, ev, uses, attrs, near_lines)
        if f is None:
            continue
        if log is not None:
            log.append((name, f))
        out.append((name, m.kind, m.detail, m.symbol_id) if m else (name, "attribute", "", 0))
        feats.append(f)
    return out, feats


def features(name: str, m: Member | None, recv: Receiver, ev: Evidence, uses: Uses,
             attrs: dict[str, dict[str, str]], near_lines: float) -> dict[str, float] | None:
    """The named features of one candidate (None: outside the type, with no evidence for it).
    The keys' order is the order the score sums them in."""
    gated = bool(m) or not recv.whole_type  # a name the fully known class lacks gets no context or family credit
    kind = recv.val.kind
    exact, ctx = ev.exact.get(name, 0), ev.ctx.get(name, 0)
    f = {
        "member": 1.0 if m else 0.0,
        "name_type": 1.0 if name in ev.guessed else 0.0,
        "depth": -float(m.depth) if m else 0.0,
        "exact": math.log1p(exact),
        "last": math.log1p(ev.last.get(name, 0)),
        "buffer": math.log1p(uses.in_buffer(name)),
        "typed": math.log1p(ev.typed.get(name, 0)) if m else 0.0,
        "qual": math.log1p(ev.quals.get(name, 0)),
        "named": name_match(ev.target, name),
        "in_def": name_match(ev.func, name),
        "context": math.log1p(ctx) if gated else 0.0,
        "context_last": math.log1p(ev.ctx_last.get(name, 0)) if gated else 0.0,
        "ctx_ratio": math.log((1 + ctx) / (1 + exact)) if gated else 0.0,
        "ctx_lr": math.log((ctx + _CTX_PRIOR * ev.p_ctx) / ((exact + _CTX_PRIOR) * ev.p_ctx)) if gated else 0.0,
        "near": math.log1p(ev.near.get(name, 0.0)),
        "family": math.log1p(ev.fam.get(name, 0)) if gated else 0.0,
        "subclass": math.log1p(ev.sub.get(name, 0)) if gated else 0.0,
        "anywhere": math.log1p(max(uses.name(name), 0)),
        "stdlib": math.log1p(ev.std.get(name, 0)),
    }
    f["plain"] = 1.0 if kind == "" and name in PLAIN_METHODS else 0.0  # an unknown object is often a str, list or dict
    if m is None and not any(v > 0 for k, v in f.items() if k != "ctx_ratio"):
        return None  # a name outside the type with no evidence for it
    f["unused"] = 1.0 if m and f["anywhere"] == 0.0 else 0.0
    f["module_member"] = 1.0 if m and kind == "module" else 0.0
    f["near_any"] = math.log1p(ev.near_any.get(name, 0.0))
    own = ev.key in ("self", "cls") and name == ev.func  # the enclosing method itself: a recursive call
    f["own_def"] = 1.0 if own else 0.0
    f["def_near"] = math.exp(-abs(ev.def_rows[name] - ev.line) / near_lines) if m and name in ev.def_rows and not own else 0.0
    f.update(name_features(name, m.kind if m else "", ev.key, ev.token, ev.line_words, ev.func_words))
    if m:
        sig = member_signature(name, m, attrs)
        f.update(signature_features(sig, m.kind, ev.token))
        f["ret_named"] = returns_named(ev.target or ev.slot, sig)
    f["seq"] = math.log1p(ev.seq.get(name, 0))
    f["cls_self"] = 1.0 if name in ev.on_instances else 0.0
    f["line_dup"] = 1.0 if name in ev.line_names else 0.0
    f["next_def"] = 1.0 if name == ev.next_def else 0.0
    f["quoted"] = 1.0 if name in ev.quoted else 0.0
    f["slot"] = name_match(ev.slot, name) if ev.slot else 0.0
    return f


def member_signature(name: str, m: Member, attrs: dict[str, dict[str, str]]) -> str:
    """A member's `def` line, or its attribute value (`:T`, `=call()`) when it has one."""
    if m.detail.startswith(("def ", "async def ")):
        return m.detail
    owner, _, last = m.detail.rpartition(".")
    return attrs.get(owner, {}).get(name, "") if last == name else ""


def name_match(target: str, name: str) -> float:
    """1 when two names are the same up to case and underscores, 0.5 when one holds the
    other (three characters or more), else 0: `environment = self.environment`."""
    a, b = target.lower().strip("_"), name.lower().strip("_")
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return 0.5 if min(len(a), len(b)) >= 3 and (a in b or b in a) else 0.0
