"""Training pairs for the contrastive stage: a sentence, and the leafy chain graph of its function.

Two sources:
- a built corpus (`graphmer corpus build`): its pairs.jsonl and code/ folders, each
  folder indexed once under the run's pairs/ (kept, so a resumed run does not redo it);
- plain folders (PATHS): each copied with its docstrings removed, docstring pairs only,
  as `graphmer bench search` makes its queries.

The held-out split is by file: a hash of (seed, package/path) below `valid_fraction`.
"""
from __future__ import annotations

import hashlib
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pathspec

from graphmer.index.stripped_copy import prepare_copy
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.store import Store
from graphmer.index.walk import WalkConfig
from graphmer.model.corpus_build import read_corpus
from graphmer.model.kg_samples import extract_corpus


@dataclass
class Pair:
    query: str
    sample: object  # graphmer.model.kg_samples.Sample (the first window of the function)
    group: str = ""  # its file ("package/path"): pairs of one file are each other's hard negatives


def held_out(key: str, fraction: float, seed: int) -> bool:
    """Whether the file `key` belongs to the held-out split."""
    h = hashlib.sha1(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < fraction


def _index(folder: Path, index_dir: Path):
    build_index(folder, IndexConfig(walk=WalkConfig(languages=("python",)), index_dir=str(index_dir)))
    return Store(index_dir)


def _samples(store, tokenizer, cfg, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], object]:
    """(path, def line) -> the first window of that function, for the wanted ones only."""
    ids = {}
    for sid, path, line in store.function_sites():
        if (path, line) in wanted:
            ids[sid] = (path, line)
    if not ids:
        return {}
    corpus = extract_corpus(store, tokenizer, cfg, valid_fraction=0.0, max_windows=1, only=sorted(ids))
    return {ids[s.symbol_id]: s for s in corpus.train if s.symbol_id in ids}


def _split_pairs(folder: Path, index_dir: Path, name: str, wanted: list, tokenizer, cfg, valid_fraction: float,
                 seed: int, train: list, valid: list) -> None:
    """Index `folder`, and add a Pair for each of `wanted` (records with path, def_line and
    query) whose function was found, to `valid` or `train` by its file."""
    store = _index(folder, index_dir)
    try:
        found = _samples(store, tokenizer, cfg, {(w.path, w.def_line) for w in wanted})
    finally:
        store.close()
    for w in wanted:
        s = found.get((w.path, w.def_line))
        if s is not None:
            key = f"{name}/{w.path}"
            (valid if held_out(key, valid_fraction, seed) else train).append(Pair(w.query, s, key))


def corpus_pairs(corpus: Path, work: Path, tokenizer, cfg, valid_fraction: float, seed: int,
                 on_event=None) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) pairs of a built corpus, every code folder indexed under `work`."""
    _, records = read_corpus(corpus)
    by_package: dict[str, list] = defaultdict(list)
    for r in records:
        by_package[r.package].append(r)
    train, valid = [], []
    work.mkdir(parents=True, exist_ok=True)
    for i, (package, recs) in enumerate(sorted(by_package.items()), 1):
        _split_pairs(corpus / "code" / package, work / f"{package}.graphmer", package, recs, tokenizer, cfg,
                     valid_fraction, seed, train, valid)
        if on_event:
            on_event({"event": "pairs", "done": i, "total": len(by_package), "package": package, "pairs": len(train) + len(valid)})
    return train, valid


def folder_pairs(folders: list[str], work: Path, tokenizer, cfg, valid_fraction: float, seed: int,
                 exclude: tuple[str, ...] = ()) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) docstring pairs of plain folders, from docstring-stripped copies under `work`."""
    excluded = pathspec.GitIgnoreSpec.from_lines(exclude)  # as `graphmer train --exclude` reads them
    train, valid = [], []
    for i, path in enumerate(folders):
        name = f"{i}-{Path(path).resolve().name}"
        dest = work / name
        shutil.rmtree(dest, ignore_errors=True)
        targets = prepare_copy(Path(path), dest, skip=excluded.match_file).targets
        _split_pairs(dest, dest.parent / f"{name}.graphmer", name, list(targets), tokenizer, cfg, valid_fraction, seed,
                     train, valid)
    return train, valid
