"""`graphmer bench export`: how model.onnx's quantization was chosen, measured on a package.

Each scheme embeds the same symbols (an index of the package built for the purpose):
- torch-int8: the torch model with torch's dynamic int8 Linear layers, batches of 32
  (what graphmer shipped before model.onnx);
- onnx-float32: the export without quantization;
- onnx-int8-weights: int8 weights only (MatMulNBits, 8 bits), activations in float;
- onnx-int8-dynamic: ONNX Runtime's dynamic int8 (weights per channel, activations scaled
  per run), what `graphmer export` writes.
For each: symbols/s as the embedder runs it (ONNX: one symbol per run over `threads`
workers; batches of 32 in one run are timed too), the cosine of each vector to the torch
float32 network's (min and mean), and how far a symbol's vector moves when it is embedded
with 31 others in one run instead of alone (the batch dependence that makes an
incrementally updated index differ from a clean one).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def _sessions(onnx_path: Path, threads: int):
    import onnxruntime as ort  # lazy: onnxruntime and torch load only when this bench runs

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = 1, 1, 3
    one = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    so_b = ort.SessionOptions()
    so_b.intra_op_num_threads, so_b.log_severity_level = threads, 3
    batched = ort.InferenceSession(str(onnx_path), so_b, providers=["CPUExecutionProvider"])
    return one, batched


def _measure_onnx(onnx_path: Path, rows, cfg, ref: np.ndarray, threads: int) -> dict:

    from graphmer.model.retrieval_inputs import batch_arrays  # lazy: onnxruntime and torch load only when this bench runs

    one, batched = _sessions(onnx_path, threads)
    names = [i.name for i in one.get_inputs()]

    def run(session, rs):
        a = batch_arrays(rs, cfg.pad_id, cfg.leaves)
        return session.run(None, {k: a[k] for k in names})[0]

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda r: run(one, [r]), rows[:8]))  # warm up
        t0 = time.perf_counter()
        alone = np.stack(list(pool.map(lambda r: run(one, [r])[0], rows)))
        per_symbol_s = time.perf_counter() - t0
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    together = np.zeros_like(alone)
    t0 = time.perf_counter()
    for a in range(0, len(order), 32):
        idx = order[a : a + 32]
        together[idx] = run(batched, [rows[i] for i in idx])
    batch_s = time.perf_counter() - t0
    cos = (alone * ref).sum(1)
    return {"symbols_per_s": round(len(rows) / per_symbol_s, 1), "symbols_per_s_batch32": round(len(rows) / batch_s, 1),
            "cos_min": round(float(cos.min()), 4), "cos_mean": round(float(cos.mean()), 4),
            "batch_vs_alone_max": float(np.abs(together - alone).max()), "bytes": onnx_path.stat().st_size}


def compare_quantizations(model_dir: str | Path, package: str | Path, threads: int = 2, limit: int = 400) -> dict:
    """The schemes of the module docstring on up to `limit` symbols of `package`."""
    import torch  # lazy: onnxruntime and torch load only when this bench runs

    from graphmer.index.indexer import IndexConfig, build_index  # lazy: onnxruntime and torch load only when this bench runs
    from graphmer.index.store import Store
    from graphmer.model.embed_inputs import StoreGraph, symbol_samples
    from graphmer.model.onnx_export import export_onnx, quantize_int8, quiet_onnx
    from graphmer.model.retrieval import graph_batch
    from graphmer.model.retrieval_inputs import graph_rows
    from graphmer.model.torch_embedder import GraphEmbedder

    model_dir = Path(model_dir).resolve()
    work = Path(tempfile.mkdtemp(prefix="graphmer-bench-export-"))
    try:
        build_index(Path(package).resolve(), IndexConfig(index_dir=str(work / "index")))
        store = Store(work / "index")
        ids = store.symbol_ids_of_kinds(("function", "method", "class"))[:limit]
        torch.set_num_threads(threads)
        fp32 = GraphEmbedder(model_dir, quantize=False)
        samples = symbol_samples(store, ids, fp32.tokenizer, fp32.cfg, StoreGraph().of(store))
        store.close()
        rows = graph_rows(samples, fp32.cfg, fp32.leaves)
        ref = fp32._run([(len(s.ids), s) for s in samples], lambda ss: graph_batch(ss, fp32.cfg, fp32.leaves))
        out = {"model": str(model_dir), "package": str(package), "symbols": len(ids), "threads": threads,
               "mean_tokens": round(float(np.mean([len(r[0]) for r in rows])), 1), "schemes": {}}
        q8 = GraphEmbedder(model_dir, quantize=True)
        t0 = time.perf_counter()
        v = q8._run([(len(s.ids), s) for s in samples], lambda ss: graph_batch(ss, q8.cfg, q8.leaves))
        dt = time.perf_counter() - t0
        alone = np.stack([q8._run([(len(s.ids), s)], lambda ss: graph_batch(ss, q8.cfg, q8.leaves))[0] for s in samples[:64]])
        cos = (v * ref).sum(1)
        out["schemes"]["torch-int8"] = {"symbols_per_s_batch32": round(len(ids) / dt, 1), "cos_min": round(float(cos.min()), 4),
                                        "cos_mean": round(float(cos.mean()), 4),
                                        "batch_vs_alone_max": float(np.abs(alone - v[:64]).max())}
        folder = work / "model"
        shutil.copytree(model_dir, folder, ignore=shutil.ignore_patterns("model.onnx", "onnx.json"))
        export_onnx(folder, quantize=False)
        base = folder / "model.onnx"
        out["schemes"]["onnx-float32"] = _measure_onnx(base, rows, fp32.cfg, ref, threads)
        nbits = work / "nbits.onnx"
        _weights_only(base, nbits)
        out["schemes"]["onnx-int8-weights"] = _measure_onnx(nbits, rows, fp32.cfg, ref, threads)
        dyn = work / "dynamic.onnx"
        shutil.copy(base, dyn)
        with quiet_onnx():
            quantize_int8(dyn)
        out["schemes"]["onnx-int8-dynamic"] = _measure_onnx(dyn, rows, fp32.cfg, ref, threads)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _weights_only(src: Path, dst: Path) -> None:
    """int8 weights, float activations: ONNX Runtime's MatMulNBits (8 bits, blocks of 32)."""
    import onnx  # lazy: onnxruntime and torch load only when this bench runs
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    from graphmer.model.onnx_export import quiet_onnx  # lazy: onnxruntime and torch load only when this bench runs

    with quiet_onnx():
        q = MatMulNBitsQuantizer(onnx.load(str(src)), bits=8, block_size=32, is_symmetric=True, accuracy_level=4)
        q.process()
        onnx.save(q.model.model, str(dst))
