"""Multi-seed training: one config, several seeds, sibling run folders (the summary across seeds
is graphmer/model/reports/seeds.py).

Layout: PARENT/seeds.json + PARENT/seed-N/ (ordinary run folders). Every seed run keeps the
same data seed (split_seed): the same held-out files, samples, tokenizer and held-out masks,
so that the seeds differ only in initialisation, batch order, masking and dropout, and
`graphmer compare` can pair their held-out predictions.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from graphmer.model.reports.markdown import write_text
from graphmer.model.run_log import SEEDS_FILE, SEEDS_FORMAT
from graphmer.model.train import train


def parse_seeds(text: str) -> tuple[int, ...]:
    """'1,2,3' -> (1, 2, 3); ValueError on anything else (or on repeats)."""
    try:
        seeds = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"--seeds {text!r} is not a comma-separated list of integers, e.g. 1,2,3") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds {text!r} needs distinct integers, e.g. 1,2,3")
    return seeds


def train_seeds(cfg, parent: str | Path, seeds: tuple[int, ...], corpus=None, index_dir=None, resume: bool = False,
                on_event=None) -> list:
    """Train cfg once per seed into parent/seed-N (sequentially); returns the TrainResults."""
    from graphmer.model.runstate import (
        RunStateError,  # lazy: torch loads when training starts, not when seeds are parsed
    )

    parent = Path(parent)
    split = cfg.data_seed()
    doc = {"format": SEEDS_FORMAT, "version": 1, "split_seed": split,
           "runs": [{"seed": s, "dir": f"seed-{s}"} for s in seeds]}
    if (parent / SEEDS_FILE).exists():
        old = json.loads((parent / SEEDS_FILE).read_text())
        if not resume:
            raise RunStateError(f"{parent} already holds a multi-seed run: pass --resume to continue it, or choose another --out")
        if old.get("runs") != doc["runs"] or old.get("split_seed") != split:
            raise RunStateError(f"--resume needs the same --seeds and --seed as the run in {parent} (see its {SEEDS_FILE})")
    elif resume:
        raise RunStateError(f"nothing to resume in {parent}: it has no {SEEDS_FILE} (start without --resume)")
    write_text(parent / SEEDS_FILE, json.dumps(doc, indent=2) + "\n")
    results, first_tok = [], None
    for s in seeds:
        run = parent / f"seed-{s}"
        if resume and (run / "model" / "model.safetensors").exists():
            continue  # finished
        if first_tok is not None and not (run / "tokenizer.json").exists():
            run.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(first_tok, run / "tokenizer.json")  # the same BPE vocabulary for every seed
        if on_event:
            on_event({"kind": "status", "message": f"seed {s}: training into {run}"})
        results.append(train(replace(cfg, seed=s, split_seed=split), run, corpus=corpus, index_dir=index_dir,
                             resume=resume and (run / "config.json").exists(), on_event=on_event))
        if (run / "tokenizer.json").exists():
            first_tok = run / "tokenizer.json"
    return results
