"""The embedder the index and search use by default, on ONNX Runtime, without torch (issue 18).

Reads a model folder's model.onnx (written by `graphmer export`, graphmer/model/onnx_export.py),
with its tokenizer.json, config.json and retrieval.json, and checks them against
sha256.json. Inputs are built in numpy (graphmer/model/retrieval_inputs.py), as training builds them.

Each symbol and each query runs on its own: the int8 model scales its activations per
run, so a vector depends on its symbol alone, never on what else was in a batch, and an
incrementally updated index holds the same vectors as a clean one. Runs spread over
`threads` worker threads (default: the machine's cores), each with single-threaded
kernels: on small inputs that beats one run with several threads (see the README).
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from graphmer.index.graph_vectors import GRAPH_FILE, read_propagation
from graphmer.model.embed_inputs import QueryCache, StoreGraph, symbol_samples
from graphmer.model.folder import HASHES_FILE, CheckpointError, check_hashes, read_config, read_tokenizer, require_search_model
from graphmer.model.retrieval_inputs import RETRIEVAL_FILE, RetrievalSpec, batch_arrays, graph_rows, query_rows

ONNX_FILE = "model.onnx"
ONNX_META = "onnx.json"
ONNX_FORMAT = "graphmer-onnx"
ONNX_VERSION = 1
_FILES = ("config.json", ONNX_FILE, "tokenizer.json", RETRIEVAL_FILE, ONNX_META)
_EXPORT = "run `graphmer export {path}` (needs pip install 'graphmer[train]')"


def read_onnx_meta(path: Path, data: bytes | None = None) -> dict:
    """path/onnx.json (how model.onnx was made; data: its bytes, already read), or CheckpointError."""
    try:
        meta = json.loads(data if data is not None else (path / ONNX_META).read_bytes())
    except (OSError, UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path}/{ONNX_META} cannot be read; {_EXPORT.format(path=path)}") from None
    if not isinstance(meta, dict) or meta.get("format") != ONNX_FORMAT:
        raise CheckpointError(f"{path}/{ONNX_META} is not a graphmer ONNX record; {_EXPORT.format(path=path)}")
    if not isinstance(meta.get("version"), int) or meta["version"] > ONNX_VERSION:
        raise CheckpointError(f"{path}/{ONNX_META} has version {meta.get('version')!r}, this graphmer reads up to "
                              f"{ONNX_VERSION}: upgrade graphmer")
    return meta


def _stale_export(path: Path, meta: dict) -> str | None:
    """Which weight file model.onnx was not exported from, by the hashes sha256.json records now."""
    try:
        recorded = json.loads((path / "sha256.json").read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        return None  # check_hashes reports a missing or damaged record
    for name, digest in (meta.get("source") or {}).items():
        if name in recorded and recorded[name] != digest:
            return name
    return None


class OnnxEmbedder:
    """Embeds symbols (leafy chain graphs) and queries (roots) with one model.onnx."""

    def __init__(self, path: str | os.PathLike, leaves: bool | None = None, threads: int = 0, roots: int = 0,
                 propagation: bool = True) -> None:
        import onnxruntime as ort  # lazy: ONNX Runtime loads only when a model does

        path = Path(path)
        require_search_model(path, _FILES, lambda name: _EXPORT.format(path=path) if name in (ONNX_FILE, ONNX_META) else None)
        data = {name: (path / name).read_bytes() for name in _FILES}
        digests = {name: hashlib.sha256(b).hexdigest() for name, b in data.items()}
        check_hashes(path, _FILES, digests)
        recorded = (path / HASHES_FILE).is_file()  # then every file above matched its record
        whole = hashlib.sha256("".join(f"{n}={digests[n]};" for n in _FILES).encode())
        try:
            self.spec = RetrievalSpec.from_json(data[RETRIEVAL_FILE].decode())
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{path}/{RETRIEVAL_FILE} cannot be read ({e}); train the model again") from None
        self.meta = read_onnx_meta(path, data[ONNX_META])
        if stale := _stale_export(path, self.meta):
            raise CheckpointError(f"{path}/{ONNX_FILE} was exported from another {stale} than the folder's; "
                                  + _EXPORT.format(path=path))
        self.cfg = read_config(path)
        self.tokenizer = read_tokenizer(path, self.cfg, verified=recorded)
        trained_roots = self.cfg.roots
        if roots and roots < self.cfg.roots:  # embed fewer code tokens per symbol than trained with
            self.cfg = replace(self.cfg, roots=roots)
        self.propagation = read_propagation(path) if propagation else {}
        if self.propagation:
            check_hashes(path, (GRAPH_FILE,))
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1  # parallel over symbols instead (module docstring)
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(data[ONNX_FILE], so, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime's own error types for a file it cannot load
            raise CheckpointError(f"{path}/{ONNX_FILE} cannot be loaded ({' '.join(str(e).split())[:200]}); "
                                  + _EXPORT.format(path=path)) from None
        self._inputs = [i.name for i in self.session.get_inputs()]
        self.leaves = self.spec.leaves if leaves is None else leaves
        if self.leaves and self.cfg.use_hgat and not self.meta.get("leaves"):  # onnx.json's "leaves": H-GAT is in the graph
            raise CheckpointError(f"{path}/{ONNX_FILE} was exported without H-GAT (the model embeds no leaves): "
                                  "embed without leaves, or use the torch backend")
        self.threads = threads or max(1, min(8, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self.path = path
        self.model_id = (self.spec.model_id + ("-noleaves" if self.spec.leaves and not self.leaves else "")
                         + "-onnx-" + str(self.meta.get("quantization", "int8"))
                         + (f"-r{self.cfg.roots}" if self.cfg.roots != trained_roots else ""))
        whole.update(f"onnx;leaves={self.leaves};roots={self.cfg.roots}".encode())
        self.model_hash = whole.hexdigest()
        self.dim = self.cfg.hidden
        self._queries = QueryCache(self.dim)
        self._graph = StoreGraph()

    def _one(self, row) -> np.ndarray:
        arrays = batch_arrays([row], self.cfg.pad_id, self.cfg.leaves)
        return self.session.run(None, {k: arrays[k] for k in self._inputs})[0][0]

    def _run(self, rows: list) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(rows) == 1 or self.threads == 1:
            out = [self._one(r) for r in rows]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="graphmer-embed")
            out = list(self._pool.map(self._one, rows))
        return np.stack(out).astype(np.float32, copy=False)

    def embed_symbols(self, store, symbol_ids: list[int]) -> np.ndarray:
        """(n, dim) float32 unit vectors, row i for symbol_ids[i]."""
        samples = symbol_samples(store, symbol_ids, self.tokenizer, self.cfg, self._graph.of(store))
        return self._run(graph_rows(samples, self.cfg, self.leaves))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) unit vectors; recent queries come from a small cache (a session asks again)."""
        return self._queries.embed(texts, lambda todo: self._run(
            query_rows(todo, self.tokenizer, self.cfg, self.spec.max_query_tokens)))
