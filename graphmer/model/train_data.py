"""The data a training run needs: the corpus index(es), the tokenizer, the samples split by
file, the fixed validation batches, and the deterministic batch of each step."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.store import INDEX_DIRNAME, Store
from graphmer.index.walk import WalkConfig
from graphmer.model import distributed as dist_util
from graphmer.model.batch import Batch
from graphmer.model.config import PRESETS, RELATIONS
from graphmer.model.kg_samples import function_texts
from graphmer.model.leafy import extract_corpus, make_batch
from graphmer.model.tokenizer import Tokenizer
from graphmer.model.train_config import TrainConfig, encoder_config


@dataclass
class TrainData:
    cfg: TrainConfig
    enc: object  # EncoderConfig of the preset (vocab fixed later)
    tokenizer: object
    train: list
    valid: list
    rank: int = 0
    world: int = 1
    relation_counts: tuple[int, ...] = ()  # train triples per relation id (the count(r)^-0.5 draw)
    valid_batches: list[Batch] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @functools.lru_cache(maxsize=4)  # noqa: B019 (few epochs are live at once)
    def _perm(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.cfg.seed, 104729, epoch]).permutation(len(self.train))

    def indices(self, step: int) -> list[int]:
        """Sample indices of this process's batch at `step`: epochs of seeded permutations."""
        n, b = len(self.train), self.cfg.batch_size
        start = step * b * self.world + self.rank * b
        return [int(self._perm(i // n)[i % n]) for i in range(start, start + b)]

    def train_batch(self, step: int):
        rng = np.random.default_rng([self.cfg.seed, step, self.rank, 1])
        samples = [self.train[i] for i in self.indices(step)]
        return make_batch(samples, self.enc, self.tokenizer, rng, **batch_options(self.cfg, self.relation_counts))

    def __hash__(self) -> int:  # lru_cache on a method needs a hashable self
        return id(self)


def batch_options(cfg, relation_counts) -> dict:
    """make_batch's options for a training config (shared by training and held-out batches)."""
    return {"layout": cfg.layout, "mlm_prob": cfg.mlm_prob, "mnm_prob": cfg.mnm_prob, "inject_prob": cfg.inject_prob,
            "relation_counts": relation_counts, "copy_cap": cfg.copy_cap if cfg.copy_cap > 0 else None}


def _stores(cfg, run_dir: Path, corpus: list[str] | None, index_dir: str | None, ctx):
    """Stores to read: an existing index, and/or corpus folders indexed into the run folder
    (so training never writes into the sources, e.g. the standard library)."""
    stores = []
    if index_dir:
        stores.append(Store(index_dir))
    for i, path in enumerate(corpus or []):
        where = run_dir / "corpus" / f"{i}-{Path(path).resolve().name}" / INDEX_DIRNAME
        if ctx.is_main:  # incremental: a no-op when the index is current
            build_index(path, IndexConfig(walk=WalkConfig(exclude=tuple(cfg.exclude), languages=("python",)), index_dir=str(where)))
        dist_util.barrier(ctx)
        stores.append(Store(where))
    if not stores:
        raise ValueError("nothing to train on: give corpus paths or an index")
    return stores


def load_train_data(cfg, run_dir: Path, corpus: list[str] | None, index_dir: str | None, ctx) -> TrainData:
    """Index the corpus (if needed), make or load the tokenizer, extract and split samples."""
    preset = PRESETS[cfg.preset]
    stores = _stores(cfg, run_dir, corpus, index_dir, ctx)
    tok_path = run_dir / "tokenizer.json"
    if preset.tokenizer == "wordpiece":
        tokenizer = Tokenizer.minilm()
    elif tok_path.exists():
        tokenizer = Tokenizer.load(tok_path)
    else:
        # The sample texts of training-split files only (held-out files stay unseen).
        texts = [t for s in stores for t in function_texts(s, cfg.valid_fraction, cfg.data_seed())]
        tokenizer = Tokenizer.train_bpe(texts, vocab_size=cfg.vocab_size)
        if ctx.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            tokenizer.save(tok_path)
    enc = encoder_config(cfg, tokenizer.vocab_size, tokenizer.pad_id, tokenizer.mask_id)
    train, valid, counts = [], [], np.zeros(len(RELATIONS), dtype=np.int64)
    for s in stores:
        c = extract_corpus(s, tokenizer, enc, valid_fraction=cfg.valid_fraction, seed=cfg.data_seed())
        train += c.train
        valid += c.valid
        counts += np.asarray(c.relation_counts, dtype=np.int64)
        s.close()
    relation_counts = tuple(int(x) for x in counts)
    if cfg.max_samples:
        train = [train[int(i)] for i in np.random.default_rng([cfg.seed, 3]).permutation(len(train))[: cfg.max_samples]]
    if not train or not valid:
        raise ValueError(f"the corpus gave {len(train)} training and {len(valid)} held-out samples: it needs more files")
    data = TrainData(cfg, enc, tokenizer, train, valid, ctx.rank, ctx.world, relation_counts)
    rng = np.random.default_rng([cfg.data_seed(), 7777])  # the same held-out batches at every evaluation
    held = valid[: cfg.eval_samples]
    for i in range(0, len(held), cfg.batch_size):
        batch, _ = make_batch(held[i : i + cfg.batch_size], enc, tokenizer, rng, **batch_options(cfg, relation_counts))
        data.valid_batches.append(batch)
    data.summary = {
        "relation_counts": {RELATIONS[i]: n for i, n in enumerate(relation_counts) if n},
        "train_samples": len(train), "valid_samples": len(valid), "eval_samples": len(held),
        "train_files": len({s.path for s in train}), "valid_files": len({s.path for s in valid}),
        "tokenizer": tokenizer.kind, "vocab_size": tokenizer.vocab_size, "tokenizer_sha256": tokenizer.sha256(),
        "corpus_paths": [str(Path(p).resolve()) for p in corpus or []],
        "index_dir": str(Path(index_dir).resolve()) if index_dir else None,
    }
    return data
