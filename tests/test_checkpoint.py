"""Model folders: save -> load round trip, atomic replacement, and every refusal is one line."""
from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import pytest
import torch
from graph_batches import make_batch, sample_graphs, small_config
from safetensors.torch import load_file, save_file

from graphmer.model.checkpoint import FORMAT, FORMAT_VERSION, HASHES_FILE, CheckpointError, load_model, main, save_model
from graphmer.model.encoder import GraphMER
from graphmer.model.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.train_bpe(["def add(a, b):\n    return a + b\n"] * 4, vocab_size=270)


@pytest.fixture
def saved(tmp_path, tokenizer):
    torch.manual_seed(0)
    cfg = small_config(vocab_size=tokenizer.vocab_size, pad_id=tokenizer.pad_id, mask_id=tokenizer.mask_id)
    model = GraphMER(cfg).eval()
    return save_model(tmp_path / "model", model, tokenizer), model


def test_round_trip_gives_identical_outputs(saved, tokenizer):
    path, model = saved
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors", "sha256.json", "tokenizer.json"]
    doc = json.loads((path / "config.json").read_text())
    assert (doc["format"], doc["version"], doc["parameters"]) == (FORMAT, FORMAT_VERSION, model.num_parameters())
    loaded, tok = load_model(path)
    assert not loaded.training and loaded.cfg == model.cfg and tok.sha256() == tokenizer.sha256()
    batch = make_batch(sample_graphs(), model.cfg, "compact")
    (h1, l1), (h2, l2) = model(batch), loaded(batch)
    assert torch.equal(h1, h2) and torch.equal(l1.total, l2.total)
    # the decoders read the token embedding itself: stored once, tied after loading
    assert "tok_emb.weight" in load_file(str(path / "model.safetensors"))


def test_save_replaces_previous_model_and_leaves_no_temporaries(saved, tokenizer):
    path, model = saved
    with torch.no_grad():
        model.lm_bias.fill_(1.5)
    save_model(path, model, tokenizer)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model"]
    assert float(load_model(path)[0].lm_bias.detach()[0]) == 1.5


def flip_data_byte(f: Path) -> None:
    """XOR the lowest bit of the byte halfway through a safetensors file's data (past its header)."""
    data = bytearray(f.read_bytes())
    start = 8 + struct.unpack("<Q", data[:8])[0]
    data[start + (len(data) - start) // 2] ^= 0x01
    f.write_bytes(bytes(data))


def _refused(path, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as e:
        load_model(path)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400
    return msg


def test_missing_folder_and_file(saved, tmp_path):
    path, _ = saved
    _refused(tmp_path / "nowhere", "no model folder")
    (path / "tokenizer.json").unlink()
    _refused(path, "lacks tokenizer.json")


@pytest.mark.parametrize("content, match", [
    ("{not json", "not a graphmer model"),
    ('{"format": "graphmer-train-state", "version": 1}', "not a graphmer model"),
    ('["a list"]', "not a graphmer model"),
])
def test_foreign_config_refused(saved, content, match):
    path, _ = saved
    (path / "config.json").write_text(content)
    _refused(path, match)


def _edit_config(path, fn):
    doc = json.loads((path / "config.json").read_text())
    fn(doc)
    (path / "config.json").write_text(json.dumps(doc))


def test_newer_version_and_unknown_fields_refused(saved):
    path, _ = saved
    _edit_config(path, lambda d: d.update(version=FORMAT_VERSION + 1))
    _refused(path, "newer graphmer.*upgrade")
    _edit_config(path, lambda d: d.update(version=FORMAT_VERSION) or d["encoder"].update(rotary=True))
    _refused(path, "unknown encoder config fields")


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_safetensors_refused(saved, damage):
    path, _ = saved
    f = path / "model.safetensors"
    data = bytearray(f.read_bytes())
    if damage == "flip":  # the header's JSON
        data[8:40] = b"\xff" * 32
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray(b"PK\x03\x04 not safetensors")
    f.write_bytes(bytes(data))
    _refused(path, "model.safetensors is corrupt")


def test_shape_mismatch_and_missing_tensors_refused(saved):
    path, _ = saved
    f = path / "model.safetensors"
    tensors = load_file(str(f))
    tensors["lm_dense.weight"] = torch.zeros(7, 7)
    save_file(tensors, str(f))
    _refused(path, r"lm_dense.weight has shape \(7, 7\)")
    del tensors["lm_dense.weight"]
    tensors["extra"] = torch.zeros(1)
    save_file(tensors, str(f))
    _refused(path, r"missing \['lm_dense.weight'\], unexpected \['extra'\]")


def test_config_for_another_shape_refused(saved):
    path, _ = saved
    _edit_config(path, lambda d: d["encoder"].update(hidden=64))
    _refused(path, "has shape")


def test_foreign_tokenizer_refused(saved, tokenizer):
    path, _ = saved
    (path / "tokenizer.json").write_text("{}")
    _refused(path, "tokenizer.json cannot be read")
    other = Tokenizer.train_bpe(["x = 1\n"] * 4, vocab_size=262)
    other.save(path / "tokenizer.json")
    _refused(path, "does not belong to this model")


def test_flipped_byte_in_tensor_data_refused(saved):
    path, _ = saved
    flip_data_byte(path / "model.safetensors")  # still a valid file: only the recorded sha256 tells
    msg = _refused(path, "model.safetensors does not match the sha256 recorded in sha256.json")
    assert msg == (f"{path}/model.safetensors does not match the sha256 recorded in sha256.json (the file is damaged "
                   "or was changed); restore it or save/train the model again")


def test_changed_config_value_refused(saved):
    path, _ = saved
    _edit_config(path, lambda d: d["encoder"].update(decay_lambda=0.7))  # loads fine, computes something else
    _refused(path, "config.json does not match the sha256 recorded")


@pytest.mark.parametrize("record, match", [
    ("{not json", "sha256.json is damaged"),
    ('{"format": "graphmer-sha256", "version": 1, "files": {}}', "config.json is not listed in sha256.json"),
    ('{"format": "graphmer-sha256", "version": 9, "files": {}}', "sha256.json has version 9.*upgrade graphmer"),
])
def test_damaged_or_incomplete_record_refused(saved, record, match):
    path, _ = saved
    (path / HASHES_FILE).write_text(record)
    _refused(path, match)


def test_folder_saved_before_hashes_loads_with_a_warning(saved, caplog):
    path, model = saved
    (path / HASHES_FILE).unlink()
    with caplog.at_level(logging.WARNING, logger="graphmer.model.checkpoint"):
        assert load_model(path)[0].cfg == model.cfg
    assert f"{path} has no sha256.json" in caplog.text and "python -m graphmer.model.folder" in caplog.text


def test_recording_hashes_for_an_old_folder(saved, capsys):
    path, _ = saved
    recorded = (path / HASHES_FILE).read_text()
    (path / HASHES_FILE).unlink()
    assert main([str(path)]) == 0
    assert (path / HASHES_FILE).read_text() == recorded  # what save_model wrote
    assert main([str(path)]) == 0 and "already up to date" in capsys.readouterr().out
    flip_data_byte(path / "model.safetensors")
    with pytest.raises(SystemExit):  # a record the files disagree with is kept unless --replace
        main([str(path)])
    assert "does not match the sha256" in capsys.readouterr().err
    assert main([str(path), "--replace"]) == 0
    load_model(path)
