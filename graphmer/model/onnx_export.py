"""Export a retrieval model folder's encoder + pooler to ONNX, and quantize it (issue 18).

The exported graph takes the arrays of graphmer/model/retrieval_inputs.py (batch_arrays) (INPUT_NAMES)
and returns the (B, H) L2-normalised embeddings, so inference needs onnxruntime and numpy
only (graphmer/model/onnx_embedder.py). The network is the one of graphmer/model/encoder.py, rewritten with
static shapes where training uses data-dependent ones:

- H-GAT (docs/model.md §2) runs on every node for each relation id, and a node keeps the result of its
  own relation only: the same values as the training code's per-relation gather, with no
  nonzero/unique in the graph. A model whose retrieval.json says leaves=false gets no
  H-GAT at all (it never sees a leaf).
- Head spans are read through a fixed window of MAX_HEAD roots: a longer head (an
  identifier of more than 32 tokens) attends over its first 32.
- The decay mask's table f'(sp) is computed for every path length up to roots + 3 once.

Quantization is ONNX Runtime's own dynamic int8: weights per output channel (the token
embedding too), activations scaled per run. The embedder runs each symbol on its own, so
that scale is the symbol's, never its batch's. Chosen by measurement (README, "Fast
inference"): against weight-only int8 (MatMulNBits) it is twice as fast, with cosine
0.994 to the float32 vectors on average, where torch's int8 gave 0.89 at worst.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from graphmer.model.checkpoint import CheckpointError, load_model
from graphmer.model.folder import check_hashes, file_sha256, record_hashes
from graphmer.model.onnx_embedder import ONNX_FILE, ONNX_FORMAT, ONNX_META, ONNX_VERSION
from graphmer.model.retrieval import Pooler
from graphmer.model.retrieval_inputs import INPUT_NAMES, POOLER_FILE, RETRIEVAL_FILE, RetrievalSpec, batch_arrays

MAX_HEAD = 32  # roots a head span may cover in the exported graph
OPSET = 17
_MASKED = -1e4


class ExportError(Exception):
    """The model folder cannot be exported; the one-line message says what to do."""


class _Exportable(nn.Module):
    """GraphMER.encode + Pooler with static shapes (see the module docstring)."""

    def __init__(self, model, pooler, leaves: bool):
        super().__init__()
        self.m, self.pooler, self.cfg = model, pooler, model.cfg
        self.leaves = bool(leaves and model.hgat is not None)
        self.neutral = bool((model.decay.gate.detach().clamp(0.0, 1.0) == 0).all())
        if self.leaves:  # (Wᵀa₁, Wᵀa₂) per relation: the H-GAT scores read W only through them
            W, a, H = model.hgat.W.detach(), model.hgat.a.detach(), self.cfg.hidden
            self.register_buffer("u1", torch.einsum("rij,ri->rj", W, a[:, :H]))
            self.register_buffer("u2", torch.einsum("rij,ri->rj", W, a[:, H:]))

    def _hgat(self, x, valid, is_leaf, node_root, relation, head_len):
        B, N, H = x.shape
        sel = is_leaf & valid & (relation > 0)  # (B, N)
        j = torch.arange(MAX_HEAD)
        idx = node_root[:, :, None] + j  # (B, N, J)
        # a head's roots lie inside its sample, so within the batch's roots; idx < N guards the gather
        ok = (j < head_len.clamp(min=1)[:, :, None]) & (idx < N)
        flat = (idx.clamp(max=N - 1) + (torch.arange(B) * N)[:, None, None]).reshape(-1)
        h = x.reshape(B * N, H).index_select(0, flat).reshape(B, N, MAX_HEAD, H)  # (B, N, J, H)
        out = x
        for r in range(1, self.cfg.num_relations):
            # elementwise products, not matmuls with a vector (whose exported shapes ORT misreads)
            e = F.leaky_relu((x * self.u1[r]).sum(-1)[:, :, None] + (h * self.u2[r]).sum(-1), 0.01)  # (B, N, J)
            alpha = e.masked_fill(~ok, _MASKED).softmax(-1)  # (B, N, J)
            v = x + (alpha[..., None] * h).sum(2) @ self.m.hgat.W[r].T  # (B, N, H)
            out = torch.where((sel & (relation == r))[..., None], v, out)
        return out

    def forward(self, input_ids, valid, is_leaf, node_root, node_slot, relation, head_len):
        m, cfg = self.m, self.cfg
        x = m.tok_emb(input_ids)  # (B, N, H)
        if self.leaves:
            x = self._hgat(x, valid, is_leaf, node_root, relation, head_len)
        x = x + m.type_emb.weight[0]
        if cfg.use_positions:
            x = x + m.pos_emb(node_root) + m.slot_emb(node_slot)
        x = m.emb_ln(x)
        if self.neutral:  # every gate clamps to 0: f' = 1 on every path, the mask is the 1/√d scale alone
            mask = torch.tensor(1.0 / (cfg.hidden // cfg.heads) ** 0.5 if cfg.decay_mode == "multiply" else 0.0)
            if cfg.decay_mode != "multiply":
                mask = mask.expand(1, 1, 1, 1).masked_fill(~valid[:, None, None, :], _MASKED)
            for layer in m.layers:
                x = layer(x, mask, valid)
            return self.pooler(x, valid)
        # The decay mask (docs/model.md §3) from closed-form graph distances, through a table of every length.
        ri, rj = node_root[:, :, None], node_root[:, None, :]
        li, lj = is_leaf[:, :, None], is_leaf[:, None, :]
        d = (ri - rj).abs() + li.long() + lj.long()
        dk = (node_slot[:, :, None] - node_slot[:, None, :]).abs().clamp(max=2)
        sp = torch.where(li & lj & (ri == rj), dk, d) + 1  # (B, N, N)
        if cfg.decay_mode == "multiply":
            table = m.decay.table(cfg.roots + 3) / (cfg.hidden // cfg.heads) ** 0.5  # (D, h)
            mask = F.embedding(sp, table).permute(0, 3, 1, 2)  # (B, h, N, N)
        else:
            table = torch.log(m.decay.table(cfg.roots + 3))
            mask = F.embedding(sp, table).permute(0, 3, 1, 2).masked_fill(~valid[:, None, None, :], _MASKED)
        for layer in m.layers:
            x = layer(x, mask, valid)
        return self.pooler(x, valid)


def _example(cfg, leaves: bool):
    """A small batch with leaves (or without) to trace the export with."""
    rows = [([101, 5, 6, 7, 8, 102], [(1, 1, 2, [9, 10]), (3, 5, 1, [11])] if leaves else []), ([101, 12, 102], [])]
    return tuple(torch.from_numpy(v) for v in batch_arrays(rows, cfg.pad_id, cfg.leaves).values())


def export_onnx(folder: str | os.PathLike, quantize: bool = True) -> Path:
    """Write folder/model.onnx and folder/onnx.json from the folder's torch weights, and
    record both in sha256.json; returns model.onnx's path. The previous export, if any,
    stays until the new one is complete."""
    folder = Path(folder)
    if not (folder / RETRIEVAL_FILE).is_file():
        raise ExportError(f"{folder} is not a graphmer search model (no {RETRIEVAL_FILE}); give a folder made by `graphmer train-retrieval`")
    try:
        spec = RetrievalSpec.from_json((folder / RETRIEVAL_FILE).read_text())
        model, _ = load_model(folder)
        pooler = Pooler(model.cfg.hidden)
        pooler.load_state_dict(load_file(str(folder / POOLER_FILE)))
        check_hashes(folder, (POOLER_FILE, RETRIEVAL_FILE))
    except (CheckpointError, ValueError) as e:
        raise ExportError(str(e)) from None
    except Exception as e:  # safetensors' own errors for a damaged pooler
        raise ExportError(f"{folder}/{POOLER_FILE} cannot be read ({' '.join(str(e).split())[:200]}); train the model again") from None
    model.float().eval()
    pooler.float().eval()
    net = _Exportable(model, pooler, spec.leaves).eval()
    out = folder / ONNX_FILE
    tmp = folder / f".{ONNX_FILE}.tmp-{os.getpid()}"
    dyn = {k: {0: "batch", 1: "nodes"} for k in INPUT_NAMES}
    try:
        with torch.no_grad(), quiet_onnx():
            torch.onnx.export(net, _example(model.cfg, net.leaves), str(tmp), input_names=list(INPUT_NAMES),
                              output_names=["embedding"], dynamic_axes=dyn, opset_version=OPSET, dynamo=False)
            if quantize:
                quantize_int8(tmp)
        meta = {"format": ONNX_FORMAT, "version": ONNX_VERSION, "quantization": "int8" if quantize else "float32",
                "leaves": net.leaves, "opset": OPSET, "max_head": MAX_HEAD,  # leaves: whether H-GAT is in the graph
                "source": {n: file_sha256(folder / n) for n in ("config.json", "model.safetensors", POOLER_FILE)}}
        meta_tmp = folder / f".{ONNX_META}.tmp-{os.getpid()}"
        meta_tmp.write_text(json.dumps(meta, indent=2) + "\n")
        for f in (tmp, meta_tmp):
            os.chmod(f, 0o644)
        os.replace(tmp, out)
        os.replace(meta_tmp, folder / ONNX_META)
    finally:
        tmp.unlink(missing_ok=True)
    record_hashes(folder)
    return out


@contextlib.contextmanager
def quiet_onnx():
    """Silence the exporter's and quantizer's warnings and INFO lines for the duration."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def quantize_int8(path: Path) -> None:
    """ONNX Runtime's dynamic int8, weights per channel, in place."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # lazy: onnx, only when quantizing

    q = path.with_name(path.name + ".int8")
    try:
        quantize_dynamic(str(path), str(q), per_channel=True, weight_type=QuantType.QInt8)
        os.replace(q, path)
    finally:
        q.unlink(missing_ok=True)
