"""The torch embedder (graphmer/index/embedder.py's protocol) over a retrieval model folder: encoder +
tokenizer (graphmer/model/checkpoint.py), pooler, retrieval.json. The reference that the ONNX export
is measured against (`graphmer bench search --backend torch`), and the embedder of a
folder that has no model.onnx yet; graphmer/model/embedder.py picks one.

Symbols are read from the store (their code windows and resolved edges, as training
reads them), sorted by length and embedded in batches; int8 dynamic quantization of the
Linear layers is on by default on CPU (its effect on quality and speed is measured by
`graphmer bench search`).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from graphmer.index.graph_vectors import GRAPH_FILE, read_propagation
from graphmer.model.checkpoint import CheckpointError, check_hashes, load_model
from graphmer.model.embed_inputs import QueryCache, StoreGraph, symbol_samples
from graphmer.model.folder import require_search_model
from graphmer.model.retrieval import POOLER_FILE, RETRIEVAL_FILE, Pooler, RetrievalSpec, embed, graph_batch, query_batch

_FILES = ("config.json", "model.safetensors", "tokenizer.json", POOLER_FILE, RETRIEVAL_FILE)


def _read_digests(path: Path):
    """One read of each model file: (running sha256 of names + bytes, {name: the file's own sha256}).

    The running hash, finished with the load options, is the index's model_hash (unchanged
    since before sha256.json, so existing indexes keep their vectors); the per-file hashes
    are checked against sha256.json without reading the files a second time.
    """
    whole, each = hashlib.sha256(), {}
    for name in _FILES:
        data = (path / name).read_bytes()
        whole.update(name.encode())
        whole.update(data)
        each[name] = hashlib.sha256(data).hexdigest()
    return whole, each


class GraphEmbedder:
    """Embeds symbols (leafy chain graphs) and queries (roots) with one retrieval model."""

    def __init__(self, path: str | os.PathLike, quantize: bool = True, leaves: bool | None = None,
                 batch_size: int = 32, threads: int = 0, roots: int = 0, propagation: bool = True) -> None:
        path = Path(path)
        require_search_model(path, _FILES)
        whole, digests = _read_digests(path)
        try:
            self.spec = RetrievalSpec.from_json((path / RETRIEVAL_FILE).read_text())
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}/{RETRIEVAL_FILE} cannot be read ({e}); train the model again") from None
        self.model, self.tokenizer = load_model(path, digests=digests)
        self.cfg = self.model.cfg
        if roots and roots < self.cfg.roots:  # embed fewer code tokens per symbol than trained with
            self.cfg = replace(self.cfg, roots=roots)
        self.pooler = Pooler(self.cfg.hidden)
        try:
            self.pooler.load_state_dict(load_file(str(path / POOLER_FILE)))
        except Exception as e:  # safetensors' own errors, or missing keys
            raise CheckpointError(f"{path}/{POOLER_FILE} is missing or corrupt ({str(e).splitlines()[0]}); "
                                  "train the model again") from None
        check_hashes(path, (POOLER_FILE, RETRIEVAL_FILE), digests)  # load_model checked the other three
        # The graph propagation the model ships (graphmer/index/graph_vectors.py); the index applies it
        # when it builds vectors.faiss. propagation=False: the no-graph ablation.
        self.propagation = read_propagation(path) if propagation else {}
        if self.propagation:
            check_hashes(path, (GRAPH_FILE,))
        self.pooler.float().eval()
        self.model.float().eval()
        if threads:
            torch.set_num_threads(threads)
        if quantize:
            with warnings.catch_warnings():  # torch.ao's deprecation notices; the API works in the pinned torch
                warnings.simplefilter("ignore")
                torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        self.leaves = self.spec.leaves if leaves is None else leaves
        self.batch_size = batch_size
        self.path = path
        self.model_id = (self.spec.model_id + ("-noleaves" if self.spec.leaves and not self.leaves else "") + ("-int8" if quantize else "")
                         + (f"-r{self.cfg.roots}" if self.cfg.roots != self.model.cfg.roots else ""))
        whole.update(f"quantize={quantize};leaves={self.leaves};roots={self.cfg.roots}".encode())
        self.model_hash = whole.hexdigest()
        self.dim = self.cfg.hidden
        self._queries = QueryCache(self.dim)
        self._graph = StoreGraph()

    @torch.no_grad()
    def _run(self, items: list, make) -> np.ndarray:
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        order = sorted(range(len(items)), key=lambda i: items[i][0])  # by length: less padding
        for a in range(0, len(order), self.batch_size):
            idx = order[a : a + self.batch_size]
            out[idx] = embed(self.model, self.pooler, make([items[i][1] for i in idx])).float().numpy()
        return out

    def embed_symbols(self, store, symbol_ids: list[int]) -> np.ndarray:
        """(n, dim) float32 unit vectors, row i for symbol_ids[i]."""
        samples = symbol_samples(store, symbol_ids, self.tokenizer, self.cfg, self._graph.of(store))
        items = [(len(s.ids) + len(s.heads) * self.cfg.leaves, s) for s in samples]
        return self._run(items, lambda ss: graph_batch(ss, self.cfg, self.leaves))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) unit vectors; recent queries come from a small cache (a session asks again)."""
        return self._queries.embed(texts, lambda todo: self._run(
            [(len(t), t) for t in todo], lambda ts: query_batch(ts, self.tokenizer, self.cfg, self.spec.max_query_tokens)))
