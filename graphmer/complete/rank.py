"""The attribute-completion score: a weighted sum of named features of one candidate, plus
an optional small hidden layer over the same features.

Each feature is a log-count of uses or an indicator (complete.py computes them per
candidate). Two weight sets exist: `RankWeights()`, set by hand on four development
packages, linear only, and `RankWeights.fitted()`, the shipped default, which `graphmer bench
completion-fit` learns from member-access sites of standard-library packages
(graphmer/model/complete_fit.py) and writes to graphmer/index/completion_weights.json. The hidden layer
(`Hidden`) adds w2 . tanh(W1 (x / scale) + b1) to the linear score: it lets one feature
count for more or less depending on others, which a sum cannot.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

WEIGHTS_FILE = Path(__file__).with_name("completion_weights.json")
# The context token before a receiver (pynames.context_token) -> the indicator a callable member sets.
CALL_CONTEXTS = {"^": "call_start", "return": "call_return", "yield": "call_return", "await": "call_return",
                 "in": "call_in", "(": "call_arg", ",": "call_arg", "=": "call_arg",
                 **dict.fromkeys(("if", "elif", "while", "not", "and", "or", "is", "assert"), "call_cond")}
_BOOL_HEADS = frozenset({"is", "has", "can", "should", "needs", "allow", "allows", "use", "uses", "enable", "enabled"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
IDENT = re.compile(r"[^\W\d]\w*")  # a Python identifier


@functools.lru_cache(maxsize=8192)
def subwords(name: str) -> frozenset[str]:
    """The lower-cased words of an identifier, split at underscores and case changes, two letters
    or more: subwords("get_send_file_max_age") -> {"get", "send", "file", "max", "age"};
    subwords("HTTPServer") -> {"http", "server"}."""
    return frozenset(w.lower() for w in _WORD.findall(name) if len(w) >= 2)


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
    head = _WORD.match(name.lstrip("_"))
    f["cond_bool"] = 1.0 if call_ctx == "call_cond" and head and head.group().lower() in _BOOL_HEADS else 0.0
    f["in_plural"] = 1.0 if token == "in" and name.endswith("s") and not name.endswith("ss") else 0.0
    f["dunder"] = 1.0 if is_dunder(name) else 0.0
    f["constant"] = 1.0 if name.isupper() else 0.0
    f["capitalized"] = 1.0 if name[:1].isupper() and not name.isupper() else 0.0
    return f


_PARAMS = re.compile(r"\((.*)\)", re.DOTALL)
_ITERABLE = re.compile(r"\b(?:list|List|tuple|Tuple|set|Set|frozenset|dict|Dict|Iterable|Iterator|Sequence|Generator|Mapping)\b")


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


def words_in(text: str) -> frozenset[str]:
    """Every identifier's subwords in a piece of code."""
    out: set[str] = set()
    for ident in set(IDENT.findall(text)):
        out |= subwords(ident)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Hidden:
    """A hidden layer of the score over RankWeights.features(): w2 . tanh(W1 (x / scale) + b1)."""

    scale: tuple[float, ...]  # per feature: its spread over the fitting candidates
    w1: tuple[tuple[float, ...], ...] = dataclasses.field(hash=False)  # one row per hidden unit, one column per feature (left out of the hash: it is long)
    b1: tuple[float, ...]
    w2: tuple[float, ...]

    def extra(self, feats: list[dict[str, float]]) -> list[float]:
        """What the layer adds to each candidate's linear score."""
        import numpy as np

        scale, w1, b1, w2 = _arrays(self)
        names = RankWeights.features()
        x = np.array([[f.get(n, 0.0) for n in names] for f in feats], dtype=np.float64) / scale
        return (np.tanh(x @ w1.T + b1) @ w2).tolist()

    def to_json(self) -> dict:
        return {"features": list(RankWeights.features()), "scale": [round(v, 8) for v in self.scale],
                "w1": [[round(v, 8) for v in row] for row in self.w1], "b1": [round(v, 8) for v in self.b1],
                "w2": [round(v, 8) for v in self.w2]}

    @staticmethod
    def from_json(data: object) -> Hidden:
        """Raises ValueError when the shapes do not fit the features."""
        if not isinstance(data, dict) or data.get("features") != list(RankWeights.features()):
            raise ValueError("its hidden layer was fitted on other features")
        nf = len(data["features"])
        h = Hidden(tuple(map(float, data["scale"])), tuple(tuple(map(float, r)) for r in data["w1"]),
                   tuple(map(float, data["b1"])), tuple(map(float, data["w2"])))
        if len(h.scale) != nf or any(len(r) != nf for r in h.w1) or not (len(h.w1) == len(h.b1) == len(h.w2)):
            raise ValueError("its hidden layer's shapes do not match")
        return h


@functools.lru_cache(maxsize=4)
def _arrays(h: Hidden):
    import numpy as np

    return (np.array(h.scale), np.array(h.w1).reshape(len(h.w1), len(h.scale)), np.array(h.b1), np.array(h.w2))


@dataclass(frozen=True, slots=True)
class RankWeights:
    """Weights of the attribute-completion features, and two settings that are not fitted."""

    member: float = 6.0  # 1 for a member of the receiver's inferred type
    name_type: float = 0.0  # 1 for a member of a class named like an untyped receiver (`style.` -> Style)
    depth: float = 0.2  # minus the number of base classes between the type and the member's class
    exact: float = 2.0  # log(1 + uses after this exact receiver text)
    last: float = 1.0  # log(1 + uses after a receiver ending in the same name)
    buffer: float = 0.6  # log(1 + uses of the name as an attribute in the buffer)
    typed: float = 1.0  # log(1 + uses after receivers typed as the same class, see Completer.typed_receivers)
    qual: float = 1.0  # log(1 + uses after receivers of any file naming the same module/class/external path)
    context: float = 3.0  # log(1 + uses after this receiver text behind the same token: `return t.`, `x: t.`)
    context_last: float = 1.0  # the same after any receiver ending in the same name
    ctx_ratio: float = 3.0  # log((1 + uses in this context) / (1 + uses after this receiver))
    ctx_lr: float = 0.0  # log of a name's smoothed rate in this context over the receiver's rate in it
    plain: float = 0.05  # 1 for a str/list/dict method on a receiver of unknown type
    named: float = 3.0  # name_match of the name the expression is assigned or passed to (`x = y.x`)
    in_def: float = 1.0  # name_match of the enclosing function's name (`def close(self): self._file.close()`)
    near: float = 3.0  # log(1 + uses after this receiver text in the buffer, each weighted by closeness)
    family: float = 1.0  # `self.`: log(1 + uses in the methods of the class and its bases in other files)
    subclass: float = 1.0  # `self.`: log(1 + uses in the methods of its subclasses, any file)
    anywhere: float = 0.3  # log(1 + uses of the name as an attribute anywhere)
    private: float = 0.0  # 1 for a name starting with "_" after a receiver other than self/cls
    unused: float = 0.0  # 1 for a member never used as an attribute anywhere (buffer included)
    callable: float = 0.0  # 1 for a member that is a method, function or class
    module_member: float = 0.0  # 1 for a member of a module (not of a class or instance)
    near_any: float = 0.0  # log(1 + uses of the name after any receiver in the buffer, each weighted by closeness)
    def_near: float = 0.0  # exp(-lines between the cursor and the member's definition in the buffer / near_lines), own_def's left out
    words_line: float = 0.0  # share of the name's words (subwords_) among the words of the line before the receiver
    words_func: float = 0.0  # the same among the words of the enclosing function (the module when none), the cursor's line left out
    call_start: float = 0.0  # 1 for a callable member at the start of a statement (`self.` alone on a line)
    call_cond: float = 0.0  # ... after if/elif/while/not/and/or/is/assert
    call_return: float = 0.0  # ... after return/yield/await
    call_in: float = 0.0  # ... after `in` (`for x in self.`)
    call_arg: float = 0.0  # ... after `(`, `,` or `=` (an argument or a value assigned)
    cond_bool: float = 0.0  # 1 for a name starting is_/has_/can_/... after if/while/not/and/or (call_cond's tokens)
    in_plural: float = 0.0  # 1 for a name ending in "s" after `in` (`for x in self.items`)
    dunder: float = 0.0  # 1 for a __dunder__ name
    constant: float = 0.0  # 1 for an ALL_CAPS name
    capitalized: float = 0.0  # 1 for a Capitalized name (a class, most often)
    await_async: float = 0.0  # 1 for an async method after `await`
    async_other: float = 0.0  # 1 for an async method elsewhere
    bool_cond: float = 0.0  # 1 for a member returning (or annotated) bool after if/while/not/...
    iter_in: float = 0.0  # 1 for a member returning (or annotated) a list/tuple/Iterable/... after `in`
    slot: float = 0.0  # name_match of the parameter the expression is passed to positionally (`f(a, self.` -> f's 2nd)
    seq: float = 0.0  # log(1 + times the buffer uses this name right after the receiver's previous name)
    own_def: float = 0.0  # 1 for the method enclosing the cursor after self/cls (a recursive call)
    cls_self: float = -1.0  # 1 for an instance's member (`self` method, property, `self.x`) read on the class object
    line_dup: float = 0.0  # 1 for a name the cursor's line already reads after the same receiver (`self.a - self.`)
    next_def: float = 0.0  # 1 for the attribute its class assigns right after the one last read after this receiver
    ret_named: float = 0.0  # share of the assigned / passed-to name's words its return type names (`opts = o.` -> update() -> Options)
    quoted: float = 0.0  # 1 for a name the cursor's line writes as a string literal before the receiver
    stdlib: float = 0.5  # log(1 + reads of this member of a standard-library module by the standard library itself)
    hidden: Hidden | None = dataclasses.field(default=None, hash=False)  # the fitted hidden layer (None: the weighted sum alone); compared, not hashed
    popular: int = 150  # without a prefix, this many of the most used attribute names join any non-module's candidates
    near_lines: float = 40.0  # a buffer use `near_lines` lines from the cursor weighs 1/e

    @staticmethod
    def features() -> tuple[str, ...]:
        """The names of the fitted weights, in a fixed order."""
        return tuple(f.name for f in dataclasses.fields(RankWeights) if f.type == "float" and f.name != "near_lines")

    def vector(self) -> list[float]:
        return [getattr(self, n) for n in self.features()]

    def score(self, feats: dict[str, float]) -> float:
        """The weighted sum of one candidate's features (the hidden layer left out: see scores)."""
        w = self.table()
        return sum(w[k] * v for k, v in feats.items() if v)

    def scores(self, feats: list[dict[str, float]]) -> list[float]:
        """Every candidate's score: the weighted sum, plus the hidden layer's part when there is one."""
        w = self.table()
        linear = [sum(w[k] * v for k, v in f.items() if v) for f in feats]
        if self.hidden is None or not feats:
            return linear
        return [a + b for a, b in zip(linear, self.hidden.extra(feats))]

    @functools.lru_cache(maxsize=16)  # noqa: B019 (a few frozen weight sets live for the process)
    def table(self) -> dict[str, float]:
        """The fitted weights by feature name."""
        return {n: getattr(self, n) for n in self.features()}

    @staticmethod
    @functools.cache
    def fitted() -> RankWeights:
        """The shipped weights (graphmer/index/completion_weights.json)."""
        return load_weights(WEIGHTS_FILE)


class WeightsError(ValueError):
    """A weights file that is not graphmer's."""


def load_weights(path: Path) -> RankWeights:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        weights = data["weights"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{path} is not a graphmer completion weights file ({e}): re-create it with `graphmer bench completion-fit`") from None
    names = set(RankWeights.features())
    if not isinstance(weights, dict) or set(weights) != names or not all(isinstance(v, (int, float)) for v in weights.values()):
        raise WeightsError(f"{path} does not hold one number for each of {sorted(names)}: re-create it with `graphmer bench completion-fit`")
    hidden = None
    if data.get("hidden") is not None:
        try:
            hidden = Hidden.from_json(data["hidden"])
        except (ValueError, KeyError, TypeError) as e:
            raise WeightsError(f"{path}: {e}: re-create it with `graphmer bench completion-fit`") from None
    return RankWeights(**{k: float(v) for k, v in weights.items()}, hidden=hidden)


def dump_weights(w: RankWeights, path: Path, meta: dict) -> None:
    """Write weights and how they were fitted as JSON, atomically."""
    data = {"weights": {n: round(getattr(w, n), 6) for n in RankWeights.features()}, "fit": meta}
    if w.hidden is not None:
        data["hidden"] = w.hidden.to_json()
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
