"""Which embedder opens a model folder (graphmer/index/embedder.py's protocol); imports no torch.

`load_embedder(None)` opens the default model shipped in the package (graphmer/model/default/).
A folder with model.onnx runs on ONNX Runtime (graphmer/model/onnx_embedder.py): indexing, search
and the language server need neither torch nor a GPU. A folder without one (a model just
trained, before `graphmer export`) runs on torch (graphmer/model/torch_embedder.py), which
`pip install 'graphmer[train]'` brings.
"""
from __future__ import annotations

import os
from pathlib import Path

from graphmer.model.folder import CheckpointError
from graphmer.model.onnx_embedder import ONNX_FILE

DEFAULT_MODEL = Path(__file__).resolve().parent / "default"
BACKENDS = ("auto", "onnx", "torch")


def load_embedder(path: str | os.PathLike | None = None, backend: str = "auto", quantize: bool = True, **kw):
    """The embedder of a retrieval model folder; None: the default model shipped with graphmer.

    backend: "onnx" (model.onnx, int8), "torch" (the folder's torch weights; quantize=False
    embeds in float32), or "auto": onnx where the folder has model.onnx, unless float32 is
    asked for (quantize=False), else torch.
    kw: leaves, threads, roots, propagation (both backends); batch_size (torch).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if path is None:
        if not (DEFAULT_MODEL / "retrieval.json").is_file():
            raise CheckpointError(f"the default model is missing from {DEFAULT_MODEL}: reinstall graphmer")
        path = DEFAULT_MODEL
    if backend == "auto":
        backend = "onnx" if quantize and ((Path(path) / ONNX_FILE).is_file() or not Path(path).is_dir()) else "torch"
    if backend == "onnx":
        if not quantize:
            raise ValueError("model.onnx is the int8 model: float32 embedding needs the torch backend (--backend torch)")
        kw.pop("batch_size", None)  # each symbol runs on its own
        from graphmer.model.onnx_embedder import OnnxEmbedder  # lazy: numpy and the ONNX inputs only when a model loads

        return OnnxEmbedder(path, **kw)
    try:
        import torch  # noqa: F401  # lazy: torch only for a folder without model.onnx
    except ImportError:
        raise CheckpointError(f"{path} has no {ONNX_FILE}, and embedding with its torch weights needs torch: "
                              f"pip install 'graphmer[train]', then `graphmer export {path}`") from None
    from graphmer.model.torch_embedder import GraphEmbedder  # lazy: imports torch

    return GraphEmbedder(path, quantize=quantize, **kw)
