"""Search over the index: lexical (FTS5 BM25 over split identifiers), dense (FAISS over the
model's vectors), and hybrid (both fused, plus a graph-neighbour signal; graphmer/index/fusion.py).

The model is the caller's: a Searcher is given an embedder (graphmer/index/embedder.py) or none, in
which case it searches lexically and says so in `notes`.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from graphmer.index.embedder import EmbedError, Embedder, checked_vectors
from graphmer.index.fusion import HybridConfig, fuse, graph_boost
from graphmer.index.neighbours import adjacent
from graphmer.index.records import Hit
from graphmer.index.store import Store, StoreError, find_index_dir
from graphmer.index.store_search import SearchFilter, SearchRow, search_filter
from graphmer.index.text import query_terms, split_identifier
from graphmer.index.vectors import VectorConfig, VectorIndex, load_vectors

MODES = ("hybrid", "dense", "lexical")
log = logging.getLogger(__name__)


class SearchError(Exception):
    """A search that cannot run as asked (dense search without vectors or with another model)."""


@dataclass(frozen=True, slots=True)
class LexicalConfig:
    # BM25 column weights: qualified-name words, signature, docstring, body. Chosen on the
    # docstring->code benchmark over jinja2, flask, attr and packaging (dev packages, not
    # the ones reported): body 0.5 beat 1.0 by +0.03 MRR@10; the others moved it < 0.01.
    w_names: float = 4.0
    w_signature: float = 2.0
    w_doc: float = 2.0
    w_body: float = 0.5


_LINE_CACHE_FILES = 64  # files whose lines a Searcher keeps for snippets


class Searcher:
    """Searches one index; open it once and ask many queries.

    `notes` collects what the user should be told (a fallback to lexical search, a rebuilt
    vectors.faiss), each once; `mode_used` is the mode the last search actually ran in.
    """

    def __init__(
        self,
        store: Store,
        cfg: LexicalConfig = LexicalConfig(),
        embedder: Embedder | None = None,
        hybrid: HybridConfig = HybridConfig(),
        vectors: VectorConfig = VectorConfig(),
    ) -> None:
        self.store = store
        self.root = store.root
        self.cfg = cfg
        self.embedder = embedder  # may be set after opening (the CLI loads a model only when needed)
        self.hybrid = hybrid
        self.vector_cfg = vectors
        self.notes: list[str] = []
        self.mode_used: str | None = None
        self._vectors: VectorIndex | None = None
        self._lines: OrderedDict[str, tuple[tuple[int, int], list[str]]] = OrderedDict()  # _file_lines' cache
        self._lines_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        start: str | os.PathLike = ".",
        cfg: LexicalConfig = LexicalConfig(),
        embedder: Embedder | None = None,
        hybrid: HybridConfig = HybridConfig(),
    ) -> "Searcher":
        """The index at or above `start` (a folder inside the indexed repository)."""
        index_dir = find_index_dir(start)
        if index_dir is None:
            raise StoreError(f"no graphmer index at or above {Path(start).resolve()}: run `graphmer index PATH` first")
        return cls(Store(index_dir), cfg, embedder, hybrid)

    def close(self) -> None:
        self.store.close()

    def has_vectors(self) -> bool:
        """Whether the index holds any dense vectors (whatever model made them)."""
        return self.store.has_vectors()

    def _note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)
            log.info("%s", message)

    def dense_problem(self) -> str | None:
        """Why dense search cannot run now, or None when it can (loads vectors.faiss the first time)."""
        meta = self.store.meta
        if self._vectors is None and not self.has_vectors():
            return "the index has no vectors (built with --no-dense or without a model); run `graphmer index` with a model to add them"
        emb = self.embedder
        if emb is None:
            return "no embedding model was given"
        if (emb.model_hash, emb.dim) != (meta.get("model_hash"), meta.get("dim")):
            return (
                f"the index's vectors were made by model {meta.get('model_id')!r} ({str(meta.get('model_hash'))[:12]}), "
                f"not by the loaded {emb.model_id!r} ({emb.model_hash[:12]}); re-run `graphmer index` with this model, "
                "or search with the index's model"
            )
        return self.load_vectors()

    def load_vectors(self) -> str | None:
        """Read vectors.faiss (once), or why there is none. The CLI calls it while the model
        loads in another thread; dense_problem still checks that the model made the vectors."""
        if self._vectors is None:
            loaded = load_vectors(self.store, self.vector_cfg)
            if loaded.note:
                self._note(loaded.note)
            if loaded.index is None:  # the vectors vanished meanwhile (another process re-indexed)
                return "the index has no vectors"
            self._vectors = loaded.index
            missing = len(self.store.symbols_without_vectors())
            if missing:
                self._note(f"{missing} symbol(s) have no vector yet (an interrupted or --no-dense run); `graphmer index` embeds them")
        return None

    def search(
        self,
        query: str,
        top_k: int = 10,
        kinds: tuple[str, ...] | None = None,
        languages: tuple[str, ...] | None = None,
        path: str | None = None,
        mode: str = "hybrid",
        explain: bool = False,
    ) -> list[Hit]:
        """Ranked hits for a natural-language or identifier query (best first).

        mode: "lexical" (FTS5 BM25), "dense" (the embedder's vectors; SearchError when
        unavailable) or "hybrid" (both fused; lexical, with a note, when dense is
        unavailable). explain=True fills each Hit.why with the parts of its score.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        terms = query_terms(query) or split_identifier(query)
        if top_k <= 0 or not query.strip():
            return []
        if mode != "lexical":
            problem = self.dense_problem()
            if problem and mode == "dense":
                raise SearchError(f"dense search is unavailable: {problem}")
            if problem:
                self._note(f"lexical results only: {problem}")
                mode = "lexical"
        self.mode_used = mode
        filt = search_filter(kinds, languages, path)
        if mode == "lexical":
            ranked = self._lexical(terms, top_k, filt)
            return [self._hit(r, s, terms, {"lexical": _part(n, s)} if explain else {}) for n, (r, s) in enumerate(ranked, 1)]
        if mode == "dense":
            ranked = self._dense(query, top_k, filt)
            return [self._hit(r, s, terms, {"dense": _part(n, s)} if explain else {}) for n, (r, s) in enumerate(ranked, 1)]
        return self._hybrid(query, terms, top_k, filt, explain)

    def _hybrid(self, query: str, terms: list[str], top_k: int, filt: SearchFilter, explain: bool) -> list[Hit]:
        h = self.hybrid
        n = max(h.candidates, top_k)
        lists = {"lexical": self._lexical(terms, n, filt), "dense": self._dense(query, n, filt)}
        rows = {r.id: r for ranked in lists.values() for r, _ in ranked}
        ids = {name: [(r.id, s) for r, s in ranked] for name, ranked in lists.items()}
        fused = fuse(ids, {"lexical": h.w_lexical, "dense": h.w_dense}, h.fusion, h.rrf_k)
        boost = graph_boost(fused, adjacent(self.store, list(fused), h.graph_relations), h.w_graph) if h.w_graph > 0 else {}
        total = {i: f + boost.get(i, (0.0, 0))[0] for i, f in fused.items()}
        pos = {name: {i: p for p, (i, _) in enumerate(ranked, 1)} for name, ranked in ids.items()}
        inf = float("inf")
        order = sorted(total, key=lambda i: (-total[i], pos["lexical"].get(i, inf), pos["dense"].get(i, inf), i))[:top_k]
        hits = []
        for i in order:
            why = {}
            if explain:
                for name, ranked in ids.items():
                    if i in pos[name]:
                        why[name] = _part(pos[name][i], ranked[pos[name][i] - 1][1])
                why["fused"] = round(fused[i], 6)
                if i in boost:
                    why["graph"] = {"score": round(boost[i][0], 6), "via": rows[boost[i][1]].qualname}
            hits.append(self._hit(rows[i], total[i], terms, why))
        return hits

    def _lexical(self, terms: list[str], limit: int, filt: SearchFilter) -> list[tuple[SearchRow, float]]:
        """FTS5 BM25 matches (score = -bm25, higher is better), best first."""
        if not terms:
            return []
        c = self.cfg
        return self.store.lexical_matches(terms, (c.w_names, c.w_signature, c.w_doc, c.w_body), limit, filt)

    def _dense(self, query: str, limit: int, filt: SearchFilter) -> list[tuple[SearchRow, float]]:
        """The FAISS neighbours of the query vector that pass the filters (score = cosine), best first.

        Filters apply after the lookup, so a filtered search over-fetches, widening until
        it has `limit` hits or has seen every vector.
        """
        emb, vectors = self.embedder, self._vectors
        assert emb is not None and vectors is not None, "dense_problem() must pass first"
        try:
            raw = emb.embed_queries([query])
        except Exception as e:  # the model's failure, reported as such
            raise EmbedError(f"the model {emb.model_id!r} failed to embed the query: {type(e).__name__}: {e}") from e
        qv = checked_vectors(raw, 1, emb.dim, "query vectors")[0]
        k = limit if not filt[0] else limit * 4
        while True:
            found = vectors.search(qv, k)
            rows = self.store.search_rows([i for i, _ in found], filt)
            out = [(rows[i], s) for i, s in found if i in rows]
            if len(out) >= limit or k >= vectors.ntotal:
                return out[:limit]
            k *= 4

    def _hit(self, r: SearchRow, score: float, terms: list[str], why: dict) -> Hit:
        return Hit(
            path=r.path, start_line=r.start_line, end_line=r.end_line, name=r.name, qualname=r.qualname, kind=r.kind,
            language=r.language, score=score, snippet=self._snippet(r.path, r.start_line, r.end_line, terms),
            symbol_id=r.id, why=why,
        )

    def _file_lines(self, path: str) -> list[str]:
        """A file's lines, from a small cache kept while the file's size and mtime stay the same
        (a session's searches keep hitting the same files); OSError when it cannot be read."""
        st = os.stat(self.root / path)
        key = (st.st_mtime_ns, st.st_size)
        with self._lines_lock:  # the language server may search from several threads
            cached = self._lines.get(path)
            if cached is not None and cached[0] == key:
                self._lines.move_to_end(path)
                return cached[1]
        with open(self.root / path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
        with self._lines_lock:
            self._lines[path] = (key, lines)
            while len(self._lines) > _LINE_CACHE_FILES:
                self._lines.popitem(last=False)
        return lines

    def _snippet(self, path: str, start: int, end: int, terms: list[str]) -> str:
        """The line of the hit's range that mentions the most query terms (read from disk)."""
        try:
            lines = self._file_lines(path)[start - 1 : end]
        except OSError:
            return ""
        if not lines:
            return ""
        stems = [re.escape(t[:6]) for t in terms]
        if not stems:
            return lines[0].strip()[:200]
        pats = [re.compile(p, re.I) for p in stems]
        anyp = re.compile("|".join(stems), re.I)  # one scan finds the lines worth counting on

        def score(i: int) -> tuple[int, int]:
            line = lines[i]
            return (sum(bool(p.search(line)) for p in pats) if anyp.search(line) else 0), -i

        return lines[max(range(len(lines)), key=score)].strip()[:200]


def _part(rank: int, score: float) -> dict:
    """One list's share of a hit's explanation."""
    return {"rank": rank, "score": round(float(score), 6)}
