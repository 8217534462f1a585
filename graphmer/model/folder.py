"""A model folder's files without torch: sha256.json (the per-file hashes loaders check),
config.json's encoder settings, and tokenizer.json.

Used by both loaders: graphmer/model/checkpoint.py (torch weights, for training) and
graphmer/model/onnx_embedder.py (ONNX Runtime, for indexing and search, which never import torch).

sha256.json, {"format": "graphmer-sha256", "version": 1, "files": {name: sha256}}, records
every other file of the folder when it is saved, and loaders refuse a file that no longer
matches: a flipped byte inside a tensor's data parses fine and only shifts the results.
It is a file of its own, not a key of config.json, so that it covers config.json too and
leaves the bytes of the other files (which the index's model_hash is made of) as they were.
`python -m graphmer.model.folder FOLDER` records it for a folder saved before graphmer did.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from graphmer.model.config import EncoderConfig

if TYPE_CHECKING:
    from graphmer.model.tokenizer import Tokenizer

FORMAT = "graphmer-model"
FORMAT_VERSION = 1
HASHES_FILE = "sha256.json"
HASHES_FORMAT = "graphmer-sha256"
HASHES_VERSION = 1
_RESAVE = "restore it or save/train the model again"
_SUFFIXES = (".json", ".safetensors", ".onnx")  # the files sha256.json covers
log = logging.getLogger(__name__)
_unchecked: set[Path] = set()  # folders without sha256.json already reported in this process


class CheckpointError(Exception):
    """A model folder that cannot be loaded; the one-line message says what to do."""


def one_line(e: BaseException) -> str:
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
    """The names of a folder's *.json, *.safetensors and *.onnx files but sha256.json (not MODEL_CARD.md)."""
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and p.suffix in _SUFFIXES and p.name != HASHES_FILE)


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
                        "`python -m graphmer.model.folder %s` records them", folder, HASHES_FILE, folder)
        return None
    except (OSError, UnicodeDecodeError) as e:
        return HASHES_FILE, f"cannot be read ({one_line(e)})"
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
            return name, f"cannot be read ({one_line(e)})"
        if got != recorded:
            return name, f"does not match the sha256 recorded in {HASHES_FILE} (the file is damaged or was changed)"
    return None


def check_hashes(folder: str | os.PathLike, names: Iterable[str], digests: Mapping[str, str] | None = None) -> None:
    """Raise CheckpointError (one line, what to do) when one of `names` fails hash_problem."""
    if problem := hash_problem(folder, names, digests):
        raise CheckpointError(f"{Path(folder) / problem[0]} {problem[1]}; {_RESAVE}")



def read_config(path: Path) -> EncoderConfig:
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
        raise CheckpointError(f"{path}/config.json does not fit this graphmer ({one_line(e)}); upgrade graphmer or retrain") from None


def require_search_model(path: Path, names: Iterable[str], hint=None) -> None:
    """CheckpointError (one line) unless `path` is a search model folder (it has
    retrieval.json) holding every file of `names`; hint(name): what to do about a missing one."""
    if not (path / "retrieval.json").is_file():
        raise CheckpointError(f"{path} is not a graphmer search model (no retrieval.json); "
                              "train one with `graphmer train-retrieval` or leave out --model")
    for name in names:
        if not (path / name).is_file():
            what = hint(name) if hint else None
            raise CheckpointError(f"{path} lacks {name}: {what or 'the model folder is incomplete; train the model again'}")


def read_tokenizer(path: Path, cfg: EncoderConfig, verified: bool = False) -> "Tokenizer":
    """path/tokenizer.json, checked against the model's vocabulary, pad and mask ids.
    verified: its bytes already matched sha256.json, so its own inner hash is not re-checked."""
    from graphmer.model.tokenizer import Tokenizer  # lazy: the tokenizers library only when a model loads

    try:
        tokenizer = Tokenizer.load(path / "tokenizer.json", verify=not verified)
    except Exception as e:  # the tokenizer library's own errors for a damaged file
        raise CheckpointError(f"{path}/tokenizer.json cannot be read ({one_line(e)}); save or train the model again") from None
    got = (tokenizer.vocab_size, tokenizer.pad_id, tokenizer.mask_id)
    if got != (cfg.vocab_size, cfg.pad_id, cfg.mask_id):
        raise CheckpointError(f"{path}/tokenizer.json (vocabulary, pad, mask = {got}) does not belong to this model "
                              f"{(cfg.vocab_size, cfg.pad_id, cfg.mask_id)}; save or train the model again")
    return tokenizer


def main(argv: list[str] | None = None) -> int:
    """`python -m graphmer.model.folder FOLDER...`: record sha256.json in model folders saved without one."""
    parser = argparse.ArgumentParser(prog="python -m graphmer.model.folder", description=main.__doc__)
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
