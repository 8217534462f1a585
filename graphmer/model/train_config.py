"""A training run's options (TrainConfig) and the encoder configuration they give: shared by
graphmer/model/train.py (the loop) and graphmer/model/train_data.py (the data), without torch."""
from __future__ import annotations

from dataclasses import dataclass, replace

from graphmer.model.config import PRESETS, EncoderConfig


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "cpu-s"  # a name in graphmer.model.config.PRESETS
    steps: int = 1000  # optimiser steps
    batch_size: int = 16  # graphs per step per process
    lr: float = 1e-3  # peak learning rate (new parameters)
    encoder_lr: float = 0.0  # warm starts: peak lr of loaded encoder weights (0: same as lr)
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.98
    warmup_steps: int = -1  # -1: 5% of steps
    schedule: str = "cosine"  # "cosine" or "linear" decay after warmup, down to min_lr
    min_lr: float = 1e-5
    mu: float = 1.0  # MNM weight μ (constant)
    mu_ramp_steps: int = 0  # > 0: μ ramps linearly 0.001 -> mu over these steps (GraphMER-SE)
    clip: float = 1.0  # gradient-norm clip
    mlm_prob: float = 0.15
    mnm_prob: float = 0.3
    inject_prob: float = 0.7
    copy_cap: float = 0.1  # tails found verbatim in the roots: at most this share of injections (docs/model.md §8.5)
    layout: str = "compact"  # "compact" or "fixed"
    use_hgat: bool = True  # False: the no-H-GAT ablation
    vocab_size: int = 8192  # BPE presets: tokenizer vocabulary trained for the run
    valid_fraction: float = 0.05  # share of files held out (split by file)
    eval_every: int = 100
    eval_samples: int = 1024  # held-out graphs per evaluation (fixed set)
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    seed: int = 0
    split_seed: int = -1  # held-out split, tokenizer, samples and held-out masks (-1: seed); --seeds keeps it fixed
    device: str = "auto"  # "auto", "cpu", "cuda"
    bf16: bool = True  # autocast to bf16 on GPU
    threads: int = 0  # CPU threads (0: torch's default)
    max_samples: int = 0  # cap on training samples (0: all), for quick runs
    exclude: tuple[str, ...] = ()  # gitignore-style globs left out of corpus folders (e.g. test/)
    inject_inf_at: tuple[int, ...] = ()  # testing: force a non-finite loss at these steps

    def data_seed(self) -> int:
        """The seed of everything that defines the data (so runs of several seeds share held-out files)."""
        return self.split_seed if self.split_seed >= 0 else self.seed

    def warmup(self) -> int:
        return self.warmup_steps if self.warmup_steps >= 0 else max(1, round(0.05 * self.steps))


def encoder_config(cfg: TrainConfig, vocab_size: int, pad_id: int, mask_id: int) -> EncoderConfig:
    if cfg.preset not in PRESETS:
        raise ValueError(f"unknown preset {cfg.preset!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[cfg.preset], vocab_size=vocab_size, pad_id=pad_id, mask_id=mask_id, use_hgat=cfg.use_hgat)
