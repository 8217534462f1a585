"""A trained model on disk: model.safetensors + config.json + tokenizer.json, no pickle.

config.json is {"format": "graphmer-model", "version": 1, "encoder": EncoderConfig fields,
"parameters": n}. The LM and SBO decoders use the token embedding itself (tied), so every
tensor is stored once and nothing needs retying. `load_model` is the only loader.

sha256.json, {"format": "graphmer-sha256", "version": 1, "files": {name: sha256}}, records
every other file of the folder when it is saved, and loaders refuse a file that no longer
matches: a flipped byte inside a tensor's data parses fine and only shifts the results.
It is a file of its own, not a key of config.json, so that it covers config.json too and
leaves the bytes of the other files (which the index's model_hash is made of) as they were.
`python -m model.checkpoint FOLDER` records it for a folder saved before graphmer did.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from model.config import EncoderConfig
from model.encoder import GraphMER

if TYPE_CHECKING:
    from model.tokenizer import Tokenizer

FORMAT = "graphmer-model"
FORMAT_VERSION = 1
_FILES = ("config.json", "model.safetensors", "tokenizer.json")
HASHES_FILE = "sha256.json"
HASHES_FORMAT = "graphmer-sha256"
HASHES_VERSION = 1
_RESAVE = "restore it or save/train the model again"
log = logging.getLogger(__name__)
_unchecked: set[Path] = set()  # folders without sha256.json already reported in this process


class CheckpointError(Exception):
    """A model folder that cannot be loaded; the one-line message says what to do."""


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())[:300]


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (hashlib.file_digest needs Python 3.11;
    graphmer supports 3.10)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _model_files(folder: Path) -> list[str]:
    """The names of a folder's *.json and *.safetensors files but sha256.json (not MODEL_CARD.md)."""
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and p.suffix in (".json", ".safetensors") and p.name != HASHES_FILE)


def record_hashes(folder: str | os.PathLike, names: Iterable[str] | None = None) -> Path:
    """Write folder/sha256.json with the sha256 of `names` (None: every *.json and *.safetensors file)."""
    folder = Path(folder)
    files = {n: file_sha256(folder / n) for n in sorted(set(_model_files(folder) if names is None else names) - {HASHES_FILE})}
    out = folder / HASHES_FILE
    tmp = out.with_name(f".{HASHES_FILE}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"format": HASHES_FORMAT, "version": HASHES_VERSION, "files": files}, indent=2) + "\n")
    tmp.chmod(0o644)
    os.replace(tmp, out)
    return out


def hash_problem(folder: str | os.PathLike, names: Iterable[str],
                 digests: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(file, what is wrong) for the first of `names` that fails folder/sha256.json, else None.

    digests: the files' sha256 where the caller already read them (others are read here).
    Fails closed: a damaged or foreign record, or a file it does not list, is a problem.
    A folder with no record at all was saved before graphmer wrote one: it is accepted, with
    a warning once per process. Refusing it would break every model trained before, and a
    record written now could only vouch for the bytes as they are now, not detect earlier
    damage; every save records one from now on.
    """
    folder = Path(folder)
    try:
        text = (folder / HASHES_FILE).read_text()
    except FileNotFoundError:
        if folder not in _unchecked:
            _unchecked.add(folder)
            log.warning("%s has no %s (saved before graphmer recorded file hashes), so its files are not checked; "
                        "`python -m model.checkpoint %s` records them", folder, HASHES_FILE, folder)
        return None
    except (OSError, UnicodeDecodeError) as e:
        return HASHES_FILE, f"cannot be read ({_one_line(e)})"
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != HASHES_FORMAT or not isinstance(doc.get("files"), dict):
        return HASHES_FILE, f"is damaged (not a {HASHES_FORMAT} record)"
    if not isinstance(doc.get("version"), int) or doc["version"] > HASHES_VERSION:
        return HASHES_FILE, f"has version {doc.get('version')!r}, this graphmer reads up to {HASHES_VERSION}: upgrade graphmer"
    for name in names:
        recorded = doc["files"].get(name)
        if recorded is None:
            return name, f"is not listed in {HASHES_FILE} (the record is incomplete or belongs to another model)"
        try:
            got = digests[name] if digests and name in digests else file_sha256(folder / name)
        except OSError as e:
            return name, f"cannot be read ({_one_line(e)})"
        if got != recorded:
            return name, f"does not match the sha256 recorded in {HASHES_FILE} (the file is damaged or was changed)"
    return None


def check_hashes(folder: str | os.PathLike, names: Iterable[str], digests: Mapping[str, str] | None = None) -> None:
    """Raise CheckpointError (one line, what to do) when one of `names` fails hash_problem."""
    if problem := hash_problem(folder, names, digests):
        raise CheckpointError(f"{Path(folder) / problem[0]} {problem[1]}; {_RESAVE}")


def save_model(out_dir: str | os.PathLike, model: GraphMER, tokenizer: Tokenizer,
               extra_files: dict[str, bytes] | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write the model folder atomically (temporary sibling, then rename); returns its path.

    The folder is replaced as a whole: an interrupted save leaves the previous model.
    sha256.json records every file written, checked by load_model and the embedder.
    extra_files: more files (name -> bytes) written into the folder, e.g. a retrieval head.
    dtype: store floating-point weights in this dtype (e.g. float16 to halve a shipped
    model); loading casts them back to the model's float32.
    """
    from safetensors.torch import save_file

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


def _read_config(path: Path) -> EncoderConfig:
    try:
        doc = json.loads((path / "config.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path} is not a graphmer model (config.json is not JSON); point to a folder written by `graphmer train`") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a graphmer model (config.json has no format {FORMAT!r}); point to a folder written by `graphmer train`")
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}/config.json has an invalid version {version!r}; retrain or re-save the model")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer graphmer (model format {version}, this one reads {FORMAT_VERSION}); upgrade graphmer")
    if not isinstance(doc.get("encoder"), dict):
        raise CheckpointError(f"{path}/config.json has no encoder settings; retrain or re-save the model")
    try:
        return EncoderConfig.from_dict(doc["encoder"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}/config.json does not fit this graphmer ({_one_line(e)}); upgrade graphmer or retrain") from None


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
    """(GraphMER in eval mode on map_location, model.tokenizer.Tokenizer) from a saved folder.

    Each file is parsed (the specific message for a malformed one), then all three are checked
    against sha256.json. digests: their sha256 where the caller already read them (the embedder
    reads every byte for the index's model_hash); None: read here.
    """
    from safetensors.torch import load_file

    from model.tokenizer import Tokenizer

    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no model folder at {path}; train one with `graphmer train` or pass the right path")
    for name in _FILES:
        if not (path / name).is_file():
            raise CheckpointError(f"{path} lacks {name}: the model folder is incomplete; save or train it again")
    cfg = _read_config(path)
    try:
        tensors = load_file(str(path / "model.safetensors"))
    except Exception as e:  # safetensors raises its own error types for corrupt or truncated files
        raise CheckpointError(f"{path}/model.safetensors is corrupt ({_one_line(e)}); save or train the model again") from None
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
    try:
        tokenizer = Tokenizer.load(path / "tokenizer.json")
    except Exception as e:  # the tokenizer library's own errors for a damaged file
        raise CheckpointError(f"{path}/tokenizer.json cannot be read ({_one_line(e)}); save or train the model again") from None
    got = (tokenizer.vocab_size, tokenizer.pad_id, tokenizer.mask_id)
    if got != (cfg.vocab_size, cfg.pad_id, cfg.mask_id):
        raise CheckpointError(f"{path}/tokenizer.json (vocabulary, pad, mask = {got}) does not belong to this model "
                              f"{(cfg.vocab_size, cfg.pad_id, cfg.mask_id)}; save or train the model again")
    check_hashes(path, _FILES, digests)
    return model.to(map_location).eval(), tokenizer


def main(argv: list[str] | None = None) -> int:
    """`python -m model.checkpoint FOLDER...`: record sha256.json in model folders saved without one."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m model.checkpoint", description=main.__doc__)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--replace", action="store_true", help="overwrite a record the files no longer match")
    args = parser.parse_args(argv)
    for folder in args.folders:
        names = _model_files(folder) if folder.is_dir() else []
        if not names:
            parser.error(f"{folder} holds no model files")
        if (folder / HASHES_FILE).exists() and not args.replace:
            if problem := hash_problem(folder, names):  # a record that disagrees is evidence of damage
                parser.error(f"{folder / problem[0]} {problem[1]}; restore it, or pass --replace to record the files as they are")
            print(f"{folder / HASHES_FILE}: already up to date")
            continue
        print(record_hashes(folder, names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
