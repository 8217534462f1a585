"""The attribute-completion score: a weighted sum of named features of one candidate.

Each feature is a log-count of uses or an indicator (complete.py computes them per
candidate). Two weight sets exist: `RankWeights()`, set by hand on four development
packages, and `RankWeights.fitted()`, the shipped default, which `graphmer bench
completion-fit` learns from member-access sites of standard-library packages
(model/complete_fit.py) and writes to index/completion_weights.json.
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
    f["constant"] = 1.0 if name.isupper() else 0.0
    f["capitalized"] = 1.0 if name[:1].isupper() and not name.isupper() else 0.0
    return f


def words_in(text: str) -> frozenset[str]:
    """Every identifier's subwords in a piece of code."""
    out: set[str] = set()
    for ident in set(IDENT.findall(text)):
        out |= subwords(ident)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class RankWeights:
    """Weights of the attribute-completion features, and two settings that are not fitted."""

    member: float = 6.0  # 1 for a member of the receiver's inferred type
    depth: float = 0.2  # minus the number of base classes between the type and the member's class
    exact: float = 2.0  # log(1 + uses after this exact receiver text)
    last: float = 1.0  # log(1 + uses after a receiver ending in the same name)
    buffer: float = 0.6  # log(1 + uses of the name as an attribute in the buffer)
    typed: float = 1.0  # log(1 + uses after receivers typed as the same class, see Completer.typed_receivers)
    qual: float = 1.0  # log(1 + uses after receivers of any file naming the same module/class/external path)
    context: float = 3.0  # log(1 + uses after this receiver text behind the same token: `return t.`, `x: t.`)
    context_last: float = 1.0  # the same after any receiver ending in the same name
    ctx_ratio: float = 3.0  # log((1 + uses in this context) / (1 + uses after this receiver))
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
    def_near: float = 0.0  # exp(-lines between the cursor and the member's definition in the buffer / near_lines)
    words_line: float = 0.0  # share of the name's words (subwords_) among the words of the line before the receiver
    words_func: float = 0.0  # the same among the words of the enclosing function (the module when none), the cursor's line left out
    call_start: float = 0.0  # 1 for a callable member at the start of a statement (`self.` alone on a line)
    call_cond: float = 0.0  # ... after if/elif/while/not/and/or/is/assert
    call_return: float = 0.0  # ... after return/yield/await
    call_in: float = 0.0  # ... after `in` (`for x in self.`)
    call_arg: float = 0.0  # ... after `(`, `,` or `=` (an argument or a value assigned)
    cond_bool: float = 0.0  # 1 for a name starting is_/has_/can_/... after if/while/not/and/or (call_cond's tokens)
    in_plural: float = 0.0  # 1 for a name ending in "s" after `in` (`for x in self.items`)
    constant: float = 0.0  # 1 for an ALL_CAPS name
    capitalized: float = 0.0  # 1 for a Capitalized name (a class, most often)
    popular: int = 150  # without a prefix, this many of the most used attribute names join any non-module's candidates
    near_lines: float = 40.0  # a buffer use `near_lines` lines from the cursor weighs 1/e

    @staticmethod
    def features() -> tuple[str, ...]:
        """The names of the fitted weights, in a fixed order."""
        return tuple(f.name for f in dataclasses.fields(RankWeights) if f.type == "float" and f.name != "near_lines")

    def vector(self) -> list[float]:
        return [getattr(self, n) for n in self.features()]

    def score(self, feats: dict[str, float]) -> float:
        return sum(getattr(self, k) * v for k, v in feats.items())

    @staticmethod
    @functools.cache
    def fitted() -> RankWeights:
        """The shipped weights (index/completion_weights.json)."""
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
    return RankWeights(**{k: float(v) for k, v in weights.items()})


def dump_weights(w: RankWeights, path: Path, meta: dict) -> None:
    """Write weights and how they were fitted as JSON, atomically."""
    data = {"weights": {n: round(getattr(w, n), 6) for n in RankWeights.features()}, "fit": meta}
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
