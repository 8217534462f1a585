"""Training samples and their seed knowledge graph, read from a graphmer index (docs/model.md §8.1-8.2).

One sample per function or method: its source (a method prefixed by its class header
line), comments stripped, as [CLS] ... [SEP] windows of at most R roots. Triples come
from the index's resolved edges only, each anchored on the identifier it is about; a
triple whose head cannot be found on its line is dropped, never placed by guess.
"""
from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphmer.index.store import Store
from graphmer.model.config import RELATIONS, EncoderConfig
from graphmer.model.kg_snippets import Snippet, anchor, read_snippets, token_span, word_starts
from graphmer.model.tokenizer import Tokenizer

log = logging.getLogger(__name__)

REL = {name: i for i, name in enumerate(RELATIONS)}
# Index relation -> model relation, for edges anchored on an identifier at the edge's line.
LINE_RELATIONS = {
    "calls": REL["calls"],
    "instantiates": REL["instantiates"],
    "inherits_from": REL["inherits_from"],
    "raises": REL["raises"],
    "decorated_by": REL["decorated_by"],
    "param_type": REL["param_type"],
}
# Index relation -> model relation, for edges whose head is the def name.
DEF_RELATIONS = {"overrides": REL["overrides"], "returns": REL["returns_type"]}
MAX_HEAD = 7  # m: longest head span in tokens (docs/model.md §8.2)
MAX_CALLERS = 8  # called_by tails kept per function (one is drawn per batch)


@dataclass(frozen=True, slots=True)
class Head:
    """An anchored head: roots pos..pos+length-1, and its candidate (relation, tail ids)."""

    pos: int
    length: int
    triples: tuple[tuple[int, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """One window of one function: root ids with [CLS]/[SEP], word starts, heads by pos."""

    ids: tuple[int, ...]
    word_start: tuple[bool, ...]
    heads: tuple[Head, ...]
    symbol_id: int
    path: str


@dataclass
class KGCorpus:
    """Samples split by file, with train-set triple statistics."""

    train: list[Sample]
    valid: list[Sample]
    relation_counts: tuple[int, ...]  # train triples per relation id (index = id)
    tail_freq: dict[int, Counter]  # relation id -> Counter of tail id tuples (train)
    valid_files: tuple[str, ...]
    tokenizer_sha256: str
    stats: dict = field(default_factory=dict)  # functions, windows, dropped triples, seconds

    def summary(self) -> dict:
        """Counts for logs and reports, relations by name."""
        def per_rel(samples: list[Sample]) -> dict[str, int]:
            c = Counter(r for s in samples for h in s.heads for r, _ in h.triples)
            return {RELATIONS[r]: c[r] for r in sorted(c)}

        return {
            "train_samples": len(self.train),
            "valid_samples": len(self.valid),
            "valid_files": len(self.valid_files),
            "train_heads": sum(len(s.heads) for s in self.train),
            "valid_heads": sum(len(s.heads) for s in self.valid),
            "train_triples": per_rel(self.train),
            "valid_triples": per_rel(self.valid),
            **self.stats,
        }


def is_valid_file(path: str, valid_fraction: float, seed: int = 0) -> bool:
    """Deterministic held-out split by file: a hash of (seed, path) below the fraction."""
    h = hashlib.sha1(f"{seed}:{path}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < valid_fraction


def tail_tables(samples) -> dict[int, Counter]:
    """relation id -> Counter of tail token tuples, over every head's candidate triples."""
    out: dict[int, Counter] = defaultdict(Counter)
    for s in samples:
        for h in s.heads:
            for r, tail in h.triples:
                out[r][tuple(tail)] += 1
    return dict(out)


def short_name(qualname: str) -> str:
    """The tail text: the last two dotted components ("app.store.Store.save" -> "Store.save")."""
    return ".".join(qualname.split(".")[-2:])


def _load(store: Store, limit: int | None, only=None, graph=None):
    """Symbols by id, the functions to sample, resolved edges by source, and callers by callee.

    only: sample exactly these symbol ids (functions, methods and classes) instead.
    graph: a load_graph(store) result to reuse (it is read again when None).
    """
    syms, edges, callers = graph if graph is not None else load_graph(store)
    if only is not None:
        funcs = [syms[i] for i in only if i in syms and syms[i][3] in ("function", "method", "class")]
    else:
        funcs = [r for r in syms.values() if r[3] in ("function", "method")]
    if limit is not None:
        funcs = funcs[:limit]
    return syms, funcs, edges, callers


def load_graph(store: Store):
    """(symbols by id, resolved edges by source, callers by callee): what sampling reads."""
    syms = {r[0]: r for r in store.sample_symbol_rows()}
    edges: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
    callers: dict[int, list[int]] = defaultdict(list)
    rels = tuple(LINE_RELATIONS) + tuple(DEF_RELATIONS)
    for src, rel, line, dst, dst_id in store.named_edges(rels):
        edges[src].append((rel, line, dst))
        if rel == "calls" and src in syms and dst_id != src:
            callers[dst_id].append(src)
    return syms, edges, callers


def function_texts(store: Store, valid_fraction: float = 0.05, seed: int = 0) -> Iterator[str]:
    """Snippet texts of training-split functions: what to train the BPE on."""
    syms, funcs, _, _ = _load(store, None)
    funcs = [f for f in funcs if not is_valid_file(f[7], valid_fraction, seed)]
    for sn in read_snippets(store, syms, funcs):
        if sn.text:
            yield sn.text


def extract_corpus(store: Store, tokenizer: Tokenizer, cfg: EncoderConfig, valid_fraction: float = 0.05,
                   seed: int = 0, max_windows: int = 4, limit: int | None = None, only=None,
                   graph=None) -> KGCorpus:
    """Samples and anchored triples for every function/method in the index, split by file.

    Source is read from the indexed root (store.root). A body longer than R-2 tokens
    becomes up to max_windows windows with stride R/2 (the rest is not sampled). `limit`
    keeps the first `limit` functions in symbol-id order (for quick runs); `only` samples
    exactly those symbol ids (classes too: their first lines). Tails keep their rightmost
    cfg.leaves tokens; relation_counts/tail_freq count the train split.
    """
    t0 = time.perf_counter()
    syms, funcs, edges, callers = _load(store, limit, only, graph)
    children: dict[int, list[int]] = defaultdict(list)
    for r in syms.values():
        if r[6] is not None:
            children[r[6]].append(r[0])
    snippets = [sn for sn in read_snippets(store, syms, funcs) if sn.text]
    encoded = tokenizer.encode_batch([sn.text for sn in snippets])
    tail = _Tails(tokenizer, cfg.leaves)
    rng = random.Random(seed)
    dropped = Counter()
    train, valid, valid_files = [], [], set()
    for sn, (ids, offsets) in zip(snippets, encoded):
        pick = rng if only is None else random.Random(f"{seed}:{sn.symbol_id}")  # `only`: the same per symbol
        found = _triples(sn, syms, children, edges, callers, tail, pick, dropped)
        by_tokens = _bytoken_span(found, offsets, dropped)
        out = valid if is_valid_file(sn.path, valid_fraction, seed) else train
        if out is valid:
            valid_files.add(sn.path)
        out += _windows(sn, ids, offsets, by_tokens, tokenizer, cfg, max_windows)
    tail_freq = tail_tables(train)
    counts = [sum(tail_freq[r].values()) if r in tail_freq else 0 for r in range(len(RELATIONS))]
    stats = {"functions": len(snippets), "dropped_triples": dict(dropped), "seconds": round(time.perf_counter() - t0, 2)}
    corpus = KGCorpus(train, valid, tuple(counts), dict(tail_freq), tuple(sorted(valid_files)), tokenizer.sha256(), stats)
    log.info("extracted %s", corpus.summary())
    return corpus


class _Tails:
    """A qualname's tail: the token ids of its short name, the rightmost `leaves` of them (cached)."""

    def __init__(self, tokenizer: Tokenizer, leaves: int) -> None:
        self.tokenizer, self.leaves = tokenizer, leaves
        self.cache: dict[str, tuple[int, ...]] = {}

    def __call__(self, qualname: str) -> tuple[int, ...]:
        text = short_name(qualname)
        if text not in self.cache:
            self.cache[text] = tuple(self.tokenizer.encode(text)[0][-self.leaves:])
        return self.cache[text]


def _triples(sn: Snippet, syms: dict, children: dict[int, list[int]], edges: dict, callers: dict, tail: _Tails,
             pick: random.Random, dropped: Counter) -> list[tuple[tuple[int, int], int, tuple[int, ...]]]:
    """(char span, relation, tail) of a snippet's triples: line relations anchored on their line
    (of the function and the defs nested in it; inherits_from of a method's class), the rest on
    the def name (at most MAX_CALLERS callers, drawn by `pick`). Triples without an anchor are counted in `dropped`."""
    sym = syms[sn.symbol_id]
    found: list[tuple[tuple[int, int], int, tuple[int, ...]]] = []  # (char span, relation, tail)

    def add(span, rel, tl, why):
        if span is None:
            dropped[why] += 1
        elif tl:
            found.append((span, rel, tl))

    scope, todo = [], [sn.symbol_id]  # the function and the defs nested in it
    while todo:
        s = todo.pop()
        scope.append(s)
        todo.extend(children.get(s, ()))
    for s in scope:
        for rel, line, dst in edges.get(s, ()):
            if rel in LINE_RELATIONS and rel != "inherits_from":
                add(anchor(sn, line, dst.rsplit(".", 1)[-1]), LINE_RELATIONS[rel], tail(dst), "no_anchor")
    parent = syms.get(sym[6])
    if sym[3] == "method" and parent and parent[3] == "class":
        for rel, line, dst in edges.get(parent[0], ()):
            if rel == "inherits_from":
                add(anchor(sn, line, dst.rsplit(".", 1)[-1]), REL["inherits_from"], tail(dst), "no_anchor")
    name_span = anchor(sn, sn.def_line, sym[1], def_name=True)
    def_triples = [(DEF_RELATIONS[rel], tail(dst)) for rel, _, dst in edges.get(sn.symbol_id, ()) if rel in DEF_RELATIONS]
    if sym[3] == "method" and parent and parent[3] == "class":
        def_triples.append((REL["member_of"], tail(parent[2])))
    cs = sorted(set(callers.get(sn.symbol_id, ())))
    for c in pick.sample(cs, MAX_CALLERS) if len(cs) > MAX_CALLERS else cs:
        def_triples.append((REL["called_by"], tail(syms[c][2])))
    for rel, tl in def_triples:
        add(name_span, rel, tl, "no_def_name")
    return found


def _bytoken_span(found: list, offsets: list[tuple[int, int]], dropped: Counter) -> dict[tuple[int, int], set]:
    """{token span of a head: {(relation, tail)}}; heads on no whole tokens or longer than MAX_HEAD are counted in `dropped`."""
    tok_starts = [a for a, _ in offsets]
    by_tokens: dict[tuple[int, int], set] = defaultdict(set)
    for span, rel, tl in found:
        ts = token_span(tok_starts, offsets, *span)
        if ts is None:
            dropped["no_token"] += 1
        elif ts[1] - ts[0] > MAX_HEAD:
            dropped["head_too_long"] += 1
        else:
            by_tokens[ts].add((rel, tl))
    return by_tokens


def _windows(sn: Snippet, ids: list[int], offsets: list[tuple[int, int]], by_tokens: dict[tuple[int, int], set],
             tokenizer: Tokenizer, cfg: EncoderConfig, max_windows: int) -> list[Sample]:
    """A snippet's samples: windows of R-2 content roots with stride R/2 (at most max_windows),
    each with the heads that lie wholly inside it (one leaf group per root)."""
    cap = cfg.roots - 2  # content roots per window
    stride = max(cfg.roots // 2, 1)
    ws = word_starts(sn.text, offsets)
    n_windows = 1 if len(ids) <= cap else min(max_windows, 1 + -(-(len(ids) - cap) // stride))
    samples = []
    for w in range(n_windows):
        lo, hi = w * stride, min(w * stride + cap, len(ids))
        heads: dict[int, Head] = {}
        for (i, j), triples in sorted(by_tokens.items()):
            if lo <= i and j <= hi and i - lo + 1 not in heads:  # one leaf group per root
                heads[i - lo + 1] = Head(i - lo + 1, j - i, tuple(sorted(triples)))
        samples.append(Sample(
            ids=(tokenizer.cls_id, *ids[lo:hi], tokenizer.sep_id),
            word_start=(False, *ws[lo:hi], False),
            heads=tuple(heads[p] for p in sorted(heads)),
            symbol_id=sn.symbol_id,
            path=sn.path,
        ))
    return samples
