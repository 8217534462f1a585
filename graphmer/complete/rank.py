"""Stage 5, rank: the attribute-completion score, a weighted sum of named features of one
candidate plus an optional small hidden layer over the same features, and the ranked items.

Each feature is a log-count of uses or an indicator (features.py computes them per
candidate). Two weight sets exist: `RankWeights()`, set by hand on four development
packages, linear only, and `RankWeights.fitted()`, the shipped default, which `graphmer
fit-completion` learns from member-access sites of standard-library packages
(graphmer/model/complete_fit.py) and writes to graphmer/complete/completion_weights.json. The hidden layer
(`Hidden`) adds w2 . tanh(W1 (x / scale) + b1) to the linear score: it lets one feature
count for more or less depending on others, which a sum cannot.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WEIGHTS_FILE = Path(__file__).with_name("completion_weights.json")


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


# Scorer: (path, line, candidates) -> one extra score per candidate (e.g. a model's).
Scorer = Callable[[str, int, list[CompletionItem]], list[float]]


@dataclass(frozen=True, slots=True)
class Hidden:
    """A hidden layer of the score over RankWeights.features(): w2 . tanh(W1 (x / scale) + b1)."""

    scale: tuple[float, ...]  # per feature: its spread over the fitting candidates
    w1: tuple[tuple[float, ...], ...] = dataclasses.field(hash=False)  # one row per hidden unit, one column per feature (left out of the hash: it is long)
    b1: tuple[float, ...]
    w2: tuple[float, ...]

    def extra(self, feats: list[dict[str, float]]) -> list[float]:
        """What the layer adds to each candidate's linear score."""
        import numpy as np  # lazy: numpy loads only when a hidden layer scores, not with the completer

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
    import numpy as np  # lazy: as in Hidden.extra

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
    typed: float = 1.0  # log(1 + uses after receivers typed as the same class, see CandidateFinder.typed_receivers)
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
        """The shipped weights (graphmer/complete/completion_weights.json)."""
        return load_weights(WEIGHTS_FILE)


class WeightsError(ValueError):
    """A weights file that is not graphmer's."""


def load_weights(path: Path) -> RankWeights:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        weights = data["weights"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{path} is not a graphmer completion weights file ({e}): re-create it with `graphmer fit-completion`") from None
    names = set(RankWeights.features())
    if not isinstance(weights, dict) or set(weights) != names or not all(isinstance(v, (int, float)) for v in weights.values()):
        raise WeightsError(f"{path} does not hold one number for each of {sorted(names)}: re-create it with `graphmer fit-completion`")
    hidden = None
    if data.get("hidden") is not None:
        try:
            hidden = Hidden.from_json(data["hidden"])
        except (ValueError, KeyError, TypeError) as e:
            raise WeightsError(f"{path}: {e}: re-create it with `graphmer fit-completion`") from None
    return RankWeights(**{k: float(v) for k, v in weights.items()}, hidden=hidden)


def dump_weights(w: RankWeights, path: Path, meta: dict) -> None:
    """Write weights and how they were fitted as JSON, atomically."""
    data = {"weights": {n: round(getattr(w, n), 6) for n in RankWeights.features()}, "fit": meta}
    if w.hidden is not None:
        data["hidden"] = w.hidden.to_json()
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def scored_items(candidates: list[tuple[str, str, str, int]], feats: list[dict[str, float]],
                 weights: RankWeights) -> list[CompletionItem]:
    """One item per (name, kind, detail, symbol id) candidate, scored by its features (unsorted)."""
    return [CompletionItem(n, k, d, round(s, 6), i) for (n, k, d, i), s in zip(candidates, weights.scores(feats))]


def ranked(items: list[CompletionItem], prefix: str, extra: Scorer | None, path: str, line: int) -> list[CompletionItem]:
    """The items whose label starts with `prefix`, plus the scorer's extra score when there is one,
    best first (ties by label)."""
    items = [it for it in items if it.label.startswith(prefix)]
    if extra is not None and items:
        more = extra(path, line, items)
        items = [CompletionItem(it.label, it.kind, it.detail, it.score + e, it.symbol_id) for it, e in zip(items, more)]
    items.sort(key=lambda it: (-it.score, it.label))
    return items
