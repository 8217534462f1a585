"""A trained model on disk: model.safetensors + config.json + tokenizer.json, no pickle.

config.json is {"format": "graphmer-model", "version": 1, "encoder": EncoderConfig fields,
"parameters": n}. The LM and SBO decoders use the token embedding itself (tied), so every
tensor is stored once and nothing needs retying. `load_model` is the only loader of the
torch weights; the folder's hashes, config and tokenizer are read by graphmer/model/folder.py,
which inference without torch shares.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from graphmer.model.encoder import GraphMER
from graphmer.model.folder import (  # noqa: F401 (re-exported: callers import them from here)
    FORMAT,
    FORMAT_VERSION,
    HASHES_FILE,
    CheckpointError,
    check_hashes,
    file_sha256,
    hash_problem,
    main,
    one_line,
    read_config,
    read_tokenizer,
    record_hashes,
)

if TYPE_CHECKING:
    from graphmer.model.tokenizer import Tokenizer

_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def save_model(out_dir: str | os.PathLike, model: GraphMER, tokenizer: Tokenizer,
               extra_files: dict[str, bytes] | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write the model folder atomically (temporary sibling, then rename); returns its path.

    The folder is replaced as a whole: an interrupted save leaves the previous model.
    sha256.json records every file written, checked by load_model and the embedder.
    extra_files: more files (name -> bytes) written into the folder, e.g. a retrieval head.
    dtype: store floating-point weights in this dtype (e.g. float16 to halve a shipped
    model); loading casts them back to the model's float32.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": FORMAT})
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "encoder": model.cfg.to_dict(),
           "parameters": model.num_parameters()}
    (tmp / "config.json").write_text(json.dumps(doc, indent=2) + "\n")
    tokenizer.save(tmp / "tokenizer.json")
    for name, data in (extra_files or {}).items():
        (tmp / name).write_bytes(data)
    record_hashes(tmp, [f.name for f in tmp.iterdir()])
    for f in tmp.iterdir():  # readable by everyone who can read the folder (safetensors writes 0600)
        f.chmod(0o644)
    if out.exists():
        os.replace(out, old)  # from here to the next rename the previous model is at `old`
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
    return out


@contextlib.contextmanager
def _no_init():
    """torch.nn.init's initialisers as no-ops for the duration (as transformers does on load)."""
    names = ("normal_", "uniform_", "kaiming_uniform_", "xavier_uniform_", "zeros_", "ones_", "trunc_normal_")
    saved = {n: getattr(torch.nn.init, n) for n in names}
    try:
        for n in names:
            setattr(torch.nn.init, n, lambda tensor, *a, **k: tensor)
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu",
               digests: Mapping[str, str] | None = None) -> tuple[GraphMER, Tokenizer]:
    """(GraphMER in eval mode on map_location, graphmer.model.tokenizer.Tokenizer) from a saved folder.

    Each file is parsed (the specific message for a malformed one), then all three are checked
    against sha256.json. digests: their sha256 where the caller already read them (the embedder
    reads every byte for the index's model_hash); None: read here.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no model folder at {path}; train one with `graphmer train` or pass the right path")
    for name in _FILES:
        if not (path / name).is_file():
            raise CheckpointError(f"{path} lacks {name}: the model folder is incomplete; save or train it again")
    cfg = read_config(path)
    try:
        tensors = load_file(str(path / "model.safetensors"))
    except Exception as e:  # safetensors raises its own error types for corrupt or truncated files
        raise CheckpointError(f"{path}/model.safetensors is corrupt ({one_line(e)}); save or train the model again") from None
    with _no_init():  # weights about to be replaced need no random init (a third of the load time)
        model = GraphMER(cfg)
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{path}/model.safetensors does not match its config.json (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}); save or train the model again")
    for k, v in tensors.items():
        if v.shape != own[k].shape:
            raise CheckpointError(f"{path}/model.safetensors: {k} has shape {tuple(v.shape)}, the config needs "
                                  f"{tuple(own[k].shape)}; save or train the model again")
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}  # float16 files too
    model.load_state_dict(tensors, strict=True, assign=True)  # take the tensors, no second copy
    tokenizer = read_tokenizer(path, cfg)
    check_hashes(path, _FILES, digests)
    return model.to(map_location).eval(), tokenizer


if __name__ == "__main__":
    raise SystemExit(main())
