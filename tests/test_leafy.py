"""graphmer/model/kg_samples.py and graphmer/model/leafy.py: extraction from a tiny index, masking, layouts."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from graphmer.index.indexer import build_index
from graphmer.index.store import INDEX_DIRNAME, Store
from graphmer.model.batch import IGNORE
from graphmer.model.config import RELATIONS, EncoderConfig
from graphmer.model.kg_samples import Head, Sample, extract_corpus, function_texts, is_valid_file
from graphmer.model.leafy import MAX_SPAN, BatchStats, link_query, make_batch, triple_weights
from graphmer.model.tokenizer import Tokenizer
from tests.conftest import write_tree

R = {name: i for i, name in enumerate(RELATIONS)}

TINY = {
    "pkg/__init__.py": "",
    "pkg/base.py": '''
        class Base:
            def save(self):
                return self.serialize()

            def serialize(self):
                return "{}"
    ''',
    "pkg/store.py": '''
        import json
        from .base import Base


        class StoreError(Exception):
            pass


        class Store(Base):
            # a comment line
            @property
            def path(self) -> str:
                return "x"

            def save(self):  # overrides Base.save
                self.serialize()
                data = json.dumps({})
                raise StoreError("read only")
    ''',
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(store, tokenizer, cfg, corpus) for the tiny repo, everything in train."""
    root = write_tree(tmp_path_factory.mktemp("tiny") / "repo", TINY)
    build_index(root)
    store = Store(root / INDEX_DIRNAME)
    texts = list(function_texts(store, valid_fraction=0.0))
    tok = Tokenizer.train_bpe(texts * 50 + ["serialize StoreError property dumps Base.save"] * 50, vocab_size=400)
    cfg = EncoderConfig(vocab_size=tok.vocab_size)
    corpus = extract_corpus(store, tok, cfg, valid_fraction=0.0)
    yield store, tok, cfg, corpus
    store.close()


def _by_qualname(store, corpus):
    names = dict(store.conn.execute("SELECT id, qualname FROM symbols"))
    return {names[s.symbol_id]: s for s in corpus.train}


def _heads(tok, cfg, sample):
    """{(char offset of the head in the text, head text): {(relation, tail ids)}}, positions checked exactly."""
    text = tok.decode(sample.ids)
    out = {}
    for h in sample.heads:
        before = tok.decode(sample.ids[1 : h.pos])
        word = tok.decode(sample.ids[h.pos : h.pos + h.length])
        assert text.startswith(before + word)
        start = len(before) + len(word) - len(word.lstrip())  # a BPE token may carry the space before
        out[(start, word.strip())] = set(h.triples)
    return out


def _t(tok, cfg, text):
    return tuple(tok.encode(text)[0][-cfg.leaves :])


def test_tiny_repo_samples_and_triples(tiny):
    store, tok, cfg, corpus = tiny
    by_q = _by_qualname(store, corpus)
    assert sorted(by_q) == ["pkg.base.Base.save", "pkg.base.Base.serialize", "pkg.store.Store.path", "pkg.store.Store.save"]

    save = by_q["pkg.store.Store.save"]
    text = (
        "class Store(Base):\n    def save(self):\n        self.serialize()\n"
        '        data = json.dumps({})\n        raise StoreError("read only")'
    )
    assert tok.decode(save.ids) == text  # class header prefixed, comments dropped
    assert (save.ids[0], save.ids[-1], save.path) == (tok.cls_id, tok.sep_id, "pkg/store.py")
    assert _heads(tok, cfg, save) == {
        (text.index("Base"), "Base"): {(R["inherits_from"], _t(tok, cfg, "base.Base"))},
        (text.index("save"), "save"): {(R["member_of"], _t(tok, cfg, "store.Store")), (R["overrides"], _t(tok, cfg, "Base.save"))},
        (text.index("serialize"), "serialize"): {(R["calls"], _t(tok, cfg, "Base.serialize"))},  # through self.
        (text.index("dumps"), "dumps"): {(R["calls"], _t(tok, cfg, "json.dumps"))},
        (text.index("StoreError"), "StoreError"): {
            (R["raises"], _t(tok, cfg, "store.StoreError")),
            (R["instantiates"], _t(tok, cfg, "store.StoreError")),
        },
    }

    path = by_q["pkg.store.Store.path"]
    text = 'class Store(Base):\n    @property\n    def path(self) -> str:\n        return "x"'
    assert tok.decode(path.ids) == text  # decorators kept (the index's def starts after them)
    assert _heads(tok, cfg, path) == {
        (text.index("Base"), "Base"): {(R["inherits_from"], _t(tok, cfg, "base.Base"))},
        (text.index("property"), "property"): {(R["decorated_by"], _t(tok, cfg, "builtins.property"))},
        (text.index("path"), "path"): {(R["member_of"], _t(tok, cfg, "store.Store")), (R["returns_type"], _t(tok, cfg, "builtins.str"))},
    }

    ser = by_q["pkg.base.Base.serialize"]
    text = 'class Base:\n    def serialize(self):\n        return "{}"'
    assert _heads(tok, cfg, ser) == {
        (text.index("serialize"), "serialize"): {
            (R["member_of"], _t(tok, cfg, "base.Base")),
            (R["called_by"], _t(tok, cfg, "Base.save")),
            (R["called_by"], _t(tok, cfg, "Store.save")),
        },
    }
    assert corpus.relation_counts[R["calls"]] == 3 and corpus.relation_counts[R["called_by"]] == 2
    assert corpus.tail_freq[R["member_of"]][_t(tok, cfg, "store.Store")] == 2


def test_word_starts(tiny):
    _, tok, _, corpus = tiny
    for s in corpus.train:
        starts = [i for i, w in enumerate(s.word_start) if w] + [len(s.ids) - 1]
        words = [tok.decode(s.ids[a:b]).strip() for a, b in zip(starts, starts[1:])]
        assert words == re.findall(r"\w+|[^\w\s]+", tok.decode(s.ids))  # one start per identifier/punctuation run
        assert not s.word_start[0] and not s.word_start[-1]


def test_split_by_file_and_windows(tiny):
    store, tok, _, _ = tiny
    assert is_valid_file("a.py", 0.05, seed=0) == is_valid_file("a.py", 0.05, seed=0)
    all_valid = extract_corpus(store, tok, EncoderConfig(vocab_size=tok.vocab_size), valid_fraction=1.0)
    assert (len(all_valid.train), len(all_valid.valid), all_valid.valid_files) == (0, 4, ("pkg/base.py", "pkg/store.py"))
    small = EncoderConfig(vocab_size=tok.vocab_size, roots=16)
    c = extract_corpus(store, tok, small, valid_fraction=0.0, max_windows=3)
    for s in c.train:
        assert len(s.ids) <= 16 and len(s.word_start) == len(s.ids)
        assert all(1 <= h.pos and h.pos + h.length <= len(s.ids) - 1 for h in s.heads)
    save = [s for s in c.train if s.symbol_id == _by_qualname(store, tiny[3])["pkg.store.Store.save"].symbol_id]
    assert len(save) == 3  # capped by max_windows
    assert save[0].ids[1 + 8 : -1] == save[1].ids[1 : 1 + 6]  # stride R/2 = 8, windows overlap


def _handmade(rng: np.random.Generator, n: int, n_heads: int) -> Sample:
    """A sample with random ids, words of 1-3 tokens, and heads of 1-2 tokens on word starts."""
    ids = [1, *rng.integers(5, 300, size=n - 2).tolist(), 2]
    ws = [False] * n
    i = 1
    while i < n - 1:
        ws[i] = True
        i += int(rng.integers(1, 4))
    starts = [i for i in range(1, n - 3) if ws[i]]
    pos = sorted(rng.choice(starts, size=min(n_heads, len(starts)), replace=False).tolist())
    heads = tuple(
        Head(p, 1 + int(ws[p + 1] is False), tuple((int(r), tuple(rng.integers(5, 300, size=int(rng.integers(1, 5))).tolist()))
                                                 for r in rng.choice(np.arange(1, 16), size=int(rng.integers(1, 4)), replace=False)))
        for p in pos
    )
    return Sample(tuple(ids), tuple(ws), heads, 0, "x.py")


@pytest.fixture(scope="module")
def handmade():
    rng = np.random.default_rng(7)
    return [_handmade(rng, int(rng.integers(8, 129)), int(rng.integers(0, 30))) for _ in range(40)]


def _groups(batch, b, cfg):
    """Leaf groups of graph b in the compact layout: (anchor, [leaf node indices])."""
    out = []
    for g in range(cfg.max_groups):
        nodes = [cfg.roots + g * cfg.leaves + k for k in range(cfg.leaves)]
        nodes = [i for i in nodes if batch.valid[b, i]]
        if nodes:
            out.append((int(batch.node_root[b, nodes[0]]), nodes))
    return out


def test_leak_rule_over_many_batches(tiny, handmade):
    _, tok, cfg, _ = tiny
    rng = np.random.default_rng(0)
    forced = 0
    for _ in range(60):
        batch, stats = make_batch(handmade[:16], cfg, tok, rng, mlm_prob=0.3, mnm_prob=0.3, inject_prob=0.9)
        forced += stats.leak_forced_groups
        for b in range(batch.shape[0]):
            for anchor, nodes in _groups(batch, b, cfg):
                m = int(batch.head_len[b, nodes[0]])
                head_masked = bool((batch.labels[b, anchor : anchor + m] != IGNORE).any())
                leaves_masked = (batch.labels[b, nodes] != IGNORE).tolist()
                assert len(set(leaves_masked)) == 1  # a group is masked whole or not at all
                assert leaves_masked[0] or not head_masked
    assert forced > 0  # the rule was exercised


def test_spans_respect_words_and_ends(tiny, handmade):
    _, tok, cfg, _ = tiny
    rng = np.random.default_rng(1)
    masked = content = 0
    for _ in range(30):
        batch, stats = make_batch(handmade[:16], cfg, tok, rng)
        for b, s in enumerate(handmade[:16]):
            n = len(s.ids)
            lab = batch.labels[b, : cfg.roots]
            assert lab[0] == IGNORE and lab[n - 1] == IGNORE and (lab[n:] == IGNORE).all()
            for i in torch.nonzero(lab != IGNORE).flatten().tolist():
                lo, hi = int(batch.sbo_left[b, i]) + 1, int(batch.sbo_right[b, i]) - 1
                assert 1 <= lo <= i <= hi <= n - 2 and hi - lo + 1 <= MAX_SPAN
                assert s.word_start[lo] and (hi + 1 == n - 1 or s.word_start[hi + 1])  # whole words
                assert (lab[lo : hi + 1] != IGNORE).all() and int(batch.sbo_offset[b, i]) == i - lo
                assert int(lab[i]) == s.ids[i]
            masked += int((lab != IGNORE).sum())
            content += n - 2
    assert 0.12 < masked / content < 0.2


def _nodes(batch, b):
    v = batch.valid[b]
    cols = (batch.node_root[b], batch.node_slot[b], batch.input_ids[b], batch.labels[b], batch.relation[b], batch.head_len[b],
            batch.sbo_left[b], batch.sbo_right[b])
    return sorted(zip(*[c[v].tolist() for c in cols]))


def test_fixed_and_compact_layouts_hold_the_same_graphs(tiny, handmade):
    _, tok, cfg, corpus = tiny
    samples = handmade[:12] + corpus.train
    compact, s1 = make_batch(samples, cfg, tok, np.random.default_rng(3))
    fixed, s2 = make_batch(samples, cfg, tok, np.random.default_rng(3), layout="fixed")
    assert compact.shape == (len(samples), cfg.nodes_compact) and fixed.shape == (len(samples), cfg.nodes_fixed)
    assert s1 == s2 and s1.injected_groups > 0
    for b in range(len(samples)):
        assert _nodes(compact, b) == _nodes(fixed, b)
    leaves = fixed.is_leaf & fixed.valid  # in the fixed layout a leaf sits under its anchor root
    idx = torch.nonzero(leaves)
    assert (fixed.node_root[leaves] * cfg.leaves + fixed.node_slot[leaves] - 1 + cfg.roots == idx[:, 1]).all()


def test_determinism_by_seed(tiny, handmade):
    _, tok, cfg, _ = tiny
    a, sa = make_batch(handmade[:8], cfg, tok, np.random.default_rng(11))
    b, sb = make_batch(handmade[:8], cfg, tok, np.random.default_rng(11))
    c, _ = make_batch(handmade[:8], cfg, tok, np.random.default_rng(12))
    for f in dataclasses.fields(a):
        assert torch.equal(getattr(a, f.name), getattr(b, f.name)), f.name
    assert sa == sb
    assert not torch.equal(a.input_ids, c.input_ids)


def test_copy_rate_arithmetic(tiny):
    _, tok, cfg, _ = tiny
    s = Sample(
        ids=(1, 10, 11, 12, 13, 2),
        word_start=(False, True, True, True, True, False),
        heads=(
            Head(1, 1, ((R["calls"], (11, 20)),)),  # 1 of 2 tokens among the roots
            Head(2, 1, ((R["calls"], (11, 12)),)),  # 2 of 2, and verbatim
            Head(3, 2, ((R["raises"], (1, 13, 12)),)),  # 2 of 3: [CLS] is no copy; 13 12 is not the roots' order
        ),
        symbol_id=0,
        path="x.py",
    )
    batch, stats = make_batch([s], cfg, tok, np.random.default_rng(0), mlm_prob=0.0, mnm_prob=0.0, inject_prob=1.0)
    assert stats == BatchStats(samples=1, injected_groups=3, tail_tokens=7, copy_tokens=5, copy_groups=1, relations=stats.relations)
    assert stats.copy_rate == pytest.approx(5 / 7)
    assert dict(stats.relations) == {R["calls"]: 2, R["raises"]: 1}
    assert (batch.labels == IGNORE).all() and batch.input_ids[0, cfg.roots : cfg.roots + 2].tolist() == [11, 20]
    assert batch.head_len[0, cfg.roots + 2 * cfg.leaves].item() == 2


def test_copy_cap(tiny, handmade):
    _, tok, cfg, _ = tiny
    # Every other head gets a tail copied from its own roots.
    samples = [dataclasses.replace(s, heads=tuple(
        Head(h.pos, h.length, ((1, s.ids[h.pos : h.pos + 2]),)) if k % 2 else h for k, h in enumerate(s.heads)))
        for s in handmade[:16]]
    _, free = make_batch(samples, cfg, tok, np.random.default_rng(5), inject_prob=1.0)
    _, capped = make_batch(samples, cfg, tok, np.random.default_rng(5), inject_prob=1.0, copy_cap=0.1)
    assert free.capped_groups == 0 and free.copy_groups > 0.3 * free.injected_groups
    assert capped.copy_groups <= 0.1 * capped.injected_groups and capped.capped_groups > 0
    assert capped.injected_groups + capped.capped_groups == free.injected_groups


def test_max_groups_cap(tiny, handmade):
    _, tok, _, _ = tiny
    cfg = EncoderConfig(vocab_size=tok.vocab_size, max_groups=3)
    busy = max(handmade, key=lambda s: len(s.heads))
    batch, stats = make_batch([busy], cfg, tok, np.random.default_rng(0), inject_prob=1.0)
    assert stats.injected_groups == 3 and stats.dropped_groups == len(busy.heads) - 3
    anchors = [a for a, _ in _groups(batch, 0, cfg)]
    assert anchors == sorted(anchors) and len(set(anchors)) == 3


def test_triple_weights():
    w = triple_weights(Head(1, 1, ((1, (7,)), (7, (8,)), (7, (9,)))), [0, 100, 0, 0, 0, 0, 0, 4])
    assert w.tolist() == pytest.approx([1 / 6, 5 / 12, 5 / 12])  # relation 7 is 5x as likely, split over 2 tails


@pytest.mark.parametrize("layout", ["compact", "fixed"])
def test_link_query(tiny, layout):
    _, tok, cfg, corpus = tiny
    sample = next(s for s in corpus.train if len(s.heads) >= 3)
    head = sample.heads[2]
    batch, nodes = link_query(sample, head, R["calls"], 3, cfg, layout=layout)
    n = len(sample.ids)
    assert batch.shape[0] == 1 and (batch.labels == IGNORE).all()
    assert batch.input_ids[0, :n].tolist() == list(sample.ids)
    assert batch.input_ids[0, nodes].tolist() == [cfg.mask_id] * 3
    assert torch.equal(torch.nonzero(batch.valid[0, cfg.roots :]).flatten() + cfg.roots, nodes)
    assert batch.node_root[0, nodes].tolist() == [head.pos] * 3 and batch.node_slot[0, nodes].tolist() == [1, 2, 3]
    assert batch.relation[0, nodes].tolist() == [R["calls"]] * 3 and batch.head_len[0, nodes].tolist() == [head.length] * 3
    with pytest.raises(ValueError):
        link_query(sample, head, R["calls"], cfg.leaves + 1, cfg, layout=layout)
