"""`graphmer bench answers`: what search answers on an existing index, query by query, so that
two versions of graphmer can be compared (a refactor must leave every ranking as it was).

The queries are the docstring sentences of the indexed Python files (the sample `graphmer
bench latency` times), shuffled with `seed`; each is asked in every mode, and the top `top_k`
hits are recorded with their score. The digest is the sha256 of the JSON of the answers: two
runs answered alike exactly when their digests are equal.
"""
from __future__ import annotations

import hashlib
import json
import random
import tokenize
from pathlib import Path

from graphmer.index.pysource import find_targets
from graphmer.index.search import Searcher
from graphmer.model.embedder import load_embedder

MODES = ("hybrid", "dense", "lexical")


def docstring_queries(searcher: Searcher, root: Path, n: int, seed: int = 0) -> list[str]:
    """Up to n docstring sentences of the index's Python files, in a seeded random order."""
    queries = []
    for path in searcher.store.file_paths_in_language("python"):
        try:
            with tokenize.open(root / path) as f:
                queries += [t.query for t in find_targets(f.read(), path)]
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
    random.Random(seed).shuffle(queries)
    return queries[:n]


def search_answers(root: str | Path, n_queries: int = 200, modes: tuple[str, ...] = MODES, top_k: int = 10,
                   model: str | None = None, seed: int = 0) -> dict:
    """{root, queries, modes, top_k, digest, answers: {mode: [[path, qualname, start_line, score] ...] per query]}}."""
    root = Path(root).resolve()
    searcher = Searcher.open(root, embedder=load_embedder(model) if set(modes) - {"lexical"} else None)
    try:
        queries = docstring_queries(searcher, root, n_queries, seed)
        answers = {mode: [[[h.path, h.qualname, h.start_line, round(float(h.score), 6)]
                           for h in searcher.search(q, top_k=top_k, mode=mode)] for q in queries]
                   for mode in modes}
    finally:
        searcher.close()
    digest = hashlib.sha256(json.dumps([queries, answers], sort_keys=True).encode()).hexdigest()
    return {"root": str(root), "queries": queries, "modes": list(modes), "top_k": top_k, "digest": digest, "answers": answers}
