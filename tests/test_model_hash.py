"""Recorded sha256 of model files: a byte flipped inside tensor data (which still parses) is
refused by the embedder, on --resume, and by `graphmer index` / `graphmer search`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from graph_batches import small_config
from test_checkpoint import flip_data_byte

from graphmer.model.checkpoint import HASHES_FILE, CheckpointError, file_sha256, hash_problem
from graphmer.model.embedder import DEFAULT_MODEL, load_embedder
from graphmer.model.encoder import GraphMER
from graphmer.model.retrieval import Pooler
from graphmer.model.tokenizer import Tokenizer


def one_line(msg: str) -> str:
    assert "\n" not in msg.strip() and "Traceback" not in msg and len(msg) < 500, msg
    return msg


@pytest.fixture(scope="module")
def small_embedder_folder(tmp_path_factory) -> Path:
    """A retrieval model folder as `graphmer train-retrieval` writes it, untrained and tiny."""
    from graphmer.model.retrieval_train import RetrievalConfig, save_embedder

    tok = Tokenizer.train_bpe(["def add(a, b):\n    return a + b\n"] * 4, vocab_size=270)
    torch.manual_seed(0)
    model = GraphMER(small_config(vocab_size=tok.vocab_size, pad_id=tok.pad_id, mask_id=tok.mask_id))
    return save_embedder(tmp_path_factory.mktemp("emb") / "model", model, Pooler(model.cfg.hidden), tok,
                         RetrievalConfig(model_id="small"), half=False)


def test_saved_embedder_records_every_file(small_embedder_folder):
    rec = json.loads((small_embedder_folder / HASHES_FILE).read_text())
    names = ["config.json", "model.onnx", "model.safetensors", "onnx.json", "pooler.safetensors", "retrieval.json",
             "tokenizer.json"]
    assert rec == {"format": "graphmer-sha256", "version": 1,
                   "files": {n: file_sha256(small_embedder_folder / n) for n in names}}
    assert load_embedder(small_embedder_folder, quantize=False).model_id == "small"
    assert load_embedder(small_embedder_folder).model_id == "small-onnx-int8"


def flip_middle_byte(f: Path) -> None:
    """XOR the lowest bit of the byte halfway through a file (inside model.onnx's weights)."""
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["pooler.safetensors", "model.safetensors", "model.onnx"])
def test_flipped_byte_refused_by_the_embedder(small_embedder_folder, tmp_path, name):
    bad = shutil.copytree(small_embedder_folder, tmp_path / "m")
    (flip_middle_byte if name.endswith(".onnx") else flip_data_byte)(bad / name)
    with pytest.raises(CheckpointError) as e:
        load_embedder(bad, quantize=not name.endswith(".safetensors"))  # torch for its weights, ONNX for model.onnx
    assert str(e.value) == (f"{bad / name} does not match the sha256 recorded in sha256.json (the file is damaged "
                            "or was changed); restore it or save/train the model again")


def test_changed_retrieval_json_refused(small_embedder_folder, tmp_path):
    bad = shutil.copytree(small_embedder_folder, tmp_path / "m")
    spec = json.loads((bad / "retrieval.json").read_text())
    (bad / "retrieval.json").write_text(json.dumps({**spec, "leaves": False}))  # valid, but not what was trained
    with pytest.raises(CheckpointError, match=r"retrieval.json does not match the sha256 recorded"):
        load_embedder(bad, quantize=False)


def test_shipped_default_model_carries_matching_hashes():
    rec = json.loads((DEFAULT_MODEL / HASHES_FILE).read_text())["files"]
    assert sorted(rec) == ["config.json", "model.onnx", "model.safetensors", "onnx.json", "pooler.safetensors",
                           "retrieval.json", "tokenizer.json"]
    assert rec == {n: file_sha256(DEFAULT_MODEL / n) for n in rec}
    assert hash_problem(DEFAULT_MODEL, rec) is None
    assert load_embedder(None).model_id == "graphmer-default-onnx-int8"
    # model.onnx was exported from the weights beside it
    source = json.loads((DEFAULT_MODEL / "onnx.json").read_text())["source"]
    assert source == {n: rec[n] for n in ("config.json", "model.safetensors", "pooler.safetensors")}


def _run(*args):
    from graphmer.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_refuses_a_damaged_model_in_one_line(sample_repo, tmp_path):
    bad = shutil.copytree(DEFAULT_MODEL, tmp_path / "damaged")
    r = _run("index", sample_repo, "--jobs", "1", "--model", bad)
    assert r.exit_code == 0, r.output  # an intact copy indexes
    flip_middle_byte(bad / "model.onnx")  # what index and search run on
    for args in (("index", sample_repo, "--jobs", "1"), ("search", "save the store", "--repo", sample_repo)):
        r = _run(*args, "--model", bad)
        assert r.exit_code == 1, r.output
        assert one_line(r.output).startswith(f"Error: cannot load the embedding model '{bad}': {bad / 'model.onnx'} "
                                             "does not match the sha256 recorded in sha256.json"), r.output


def test_flipped_byte_in_a_training_checkpoint_is_refused_on_resume(tmp_path):
    from test_train import synthetic_corpus

    corpus = synthetic_corpus(tmp_path / "src", n_files=8)
    args = (corpus, "--out", tmp_path / "run", "--preset", "tiny", "--steps", 4, "--batch-size", 4, "--vocab-size", 300,
            "--checkpoint-every", 2, "--eval-every", 100, "--eval-samples", 8, "--valid-fraction", 0.25, "--threads", 1)
    r = _run("train", *args)
    assert r.exit_code == 0, r.output
    step = tmp_path / "run" / "checkpoints" / "step-4"
    assert sorted(json.loads((step / HASHES_FILE).read_text())["files"]) == ["model.safetensors", "optim.safetensors", "state.json"]
    flip_data_byte(step / "optim.safetensors")
    r = _run("train", *args, "--resume")
    assert r.exit_code == 1, r.output
    assert one_line(r.output.strip().splitlines()[-1]) == (
        f"Error: checkpoint {step} is corrupt (optim.safetensors does not match the sha256 recorded in sha256.json "
        "(the file is damaged or was changed)); delete it to resume from an earlier one")
