"""`graphmer train-retrieval`: the contrastive stage that makes a search model (graphmer/model/retrieval_train.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def _eta(seconds) -> str:
    if seconds is None:
        return "?"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


@click.command("train-retrieval")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder (pairs/, checkpoints/, metrics.jsonl, summary.json, model/).")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False),
              help="A corpus built by `graphmer corpus build` (instead of PATHS).")
@click.option("--init", default="minilm", show_default=True,
              help="'minilm' (all-MiniLM-L6-v2 weights, graph parts new) or a `graphmer train` run/model folder.")
@click.option("--layers", default=0, show_default=True, type=click.IntRange(min=0), help="Keep N encoder layers, evenly spaced (0: all).")
@click.option("--roots", default=128, show_default=True, type=click.IntRange(min=8), help="Code tokens per symbol.")
@click.option("--max-query-tokens", default=64, show_default=True, type=click.IntRange(min=4), help="Query tokens kept.")
@click.option("--epochs", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=2))
@click.option("--grad-cache", default=0, show_default=True, type=click.IntRange(min=0),
              help="Sub-batch size of cached-gradient steps (a large --batch-size in little memory; 0: off).")
@click.option("--memory", default=0, show_default=True, type=click.IntRange(min=0),
              help="Code embeddings of earlier batches kept as extra negatives (0: none).")
@click.option("--hard-negatives", default=4, show_default=True, type=click.IntRange(min=1),
              help="Pairs of one file kept together in a batch, each other's hard negatives (1: plain shuffle).")
@click.option("--lr", default=5e-5, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Peak lr of loaded weights.")
@click.option("--new-lr", default=1e-3, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Peak lr of new parameters.")
@click.option("--no-leaves", is_flag=True, help="Ablation: train and embed without graph leaves.")
@click.option("--exclude", multiple=True, help="Gitignore-style glob left out of PATHS (repeatable), e.g. 'test/'.")
@click.option("--max-pairs", default=0, type=click.IntRange(min=0), help="Cap on training pairs (a fixed sample; 0: all).")
@click.option("--valid-fraction", default=0.05, show_default=True, type=click.FloatRange(0, 0.5), help="Held-out share of files.")
@click.option("--max-valid", default=0, type=click.IntRange(min=0), help="Cap on held-out pairs (a fixed sample; 0: all).")
@click.option("--eval-every", default=0, type=click.IntRange(min=0), help="Held-out evaluation every N steps (0: each epoch).")
@click.option("--checkpoint-every", default=200, show_default=True, type=click.IntRange(min=1), help="Steps between checkpoints.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its newest checkpoint, with its own settings.")
@click.option("--max-minutes", default=0.0, type=click.FloatRange(min=0), help="Stop with a checkpoint after N minutes (0: run to the end).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=0, type=click.IntRange(min=0), help="CPU threads (0: torch's default).")
@click.option("--model-id", default="graphmer", show_default=True, help="Name recorded in indexes built with the model.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def train_retrieval_cmd(paths, out_dir, corpus, init, layers, roots, max_query_tokens, epochs, batch_size, grad_cache,
                        memory, hard_negatives, lr, new_lr, no_leaves, exclude, max_pairs, valid_fraction, max_valid,
                        eval_every, checkpoint_every, resume, max_minutes, seed, threads, model_id, as_json):
    """Fine-tune a search model on sentence -> code pairs (contrastive: in-batch and same-file
    negatives, optionally a memory of earlier batches and cached gradients).

    Pairs come from --corpus (built by `graphmer corpus build`) or from docstrings in PATHS.
    A run checkpoints every --checkpoint-every steps; `--resume` continues it exactly.

    \b
    Example (the default model; see README "Training the default model"):
        graphmer corpus build --lock corpus.lock --out corpus
        graphmer train-retrieval --corpus corpus --out runs/search --epochs 1
    """
    from graphmer.model.checkpoint import CheckpointError  # lazy: loaded when the command runs (fast start-up)
    from graphmer.model.corpus_lock import CorpusError
    from graphmer.model.retrieval_train import RetrievalConfig, train_retrieval
    from graphmer.model.runstate import RunStateError

    if not resume and not corpus and not paths:
        raise click.UsageError("give PATHS to take docstring pairs from, or --corpus DIR")
    if corpus and paths:
        raise click.UsageError("give either PATHS or --corpus, not both")
    if grad_cache and grad_cache >= batch_size:
        raise click.UsageError(f"--grad-cache {grad_cache} must be smaller than --batch-size {batch_size}")
    rcfg = RetrievalConfig(init=init, layers=layers, roots=roots, max_query_tokens=max_query_tokens, epochs=epochs,
                           batch_size=batch_size, grad_cache=grad_cache, memory=memory, hard_negatives=hard_negatives,
                           lr=lr, new_lr=new_lr, leaves=not no_leaves, exclude=tuple(exclude), max_pairs=max_pairs,
                           valid_fraction=valid_fraction, max_valid=max_valid, eval_every=eval_every,
                           checkpoint_every=checkpoint_every, seed=seed, threads=threads, model_id=model_id,
                           corpus=corpus or "")
    err = sys.stderr
    tty = sys.stderr.isatty()
    every = 1 if tty else 20

    def show(e: dict) -> None:
        kind = e["event"]
        if kind == "eval":
            err.write(f"epoch {e['epoch']}: held-out MRR@10 {e['mrr@10']:.4f}, R@1 {e['recall@1']:.4f} ({e['pairs']} pairs)\n")
        elif kind == "pairs":
            if tty or e["done"] % 10 == 0 or e["done"] == e["total"]:
                err.write(f"pairs: {e['done']}/{e['total']} packages indexed, {e['pairs']:,} pairs{chr(13) if tty else chr(10)}")
        elif kind == "resume":
            err.write(f"resuming at step {e['step']}/{e['steps']}\n")
        elif e["step"] % every == 0 or e["step"] == e["steps"]:
            end = "\r" if tty else "\n"
            err.write(f"step {e['step']}/{e['steps']} loss {e['loss']:.4f} lr {e['lr']:.2e} "
                      f"{e['pairs_per_s']:.1f} pairs/s ETA {_eta(e['eta_s'])}{end}")
        err.flush()

    try:
        summary = train_retrieval(rcfg, out_dir, list(paths), on_event=show, resume=resume, max_minutes=max_minutes)
    except (CheckpointError, CorpusError, RunStateError, ValueError, ImportError) as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    elif summary.get("stopped"):
        click.echo(f"stopped at step {summary['step']}/{summary['steps']} with a checkpoint; continue with "
                   f"`graphmer train-retrieval --out {out_dir} --resume`")
    else:
        last = f"epoch{summary['config']['epochs']}"
        click.echo(f"done in {summary['seconds']:.0f} s: {summary['pairs_train']} training pairs, held-out MRR@10 "
                   f"{summary['before']['mrr@10']:.4f} -> {summary[last]['mrr@10']:.4f}; model in {out_dir}/model")


@click.command("fit-graph")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The search model folder to fit for; graph_vectors.json is written into it.")
@click.option("--fit", "fit_packages", multiple=True, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A training package to fit on (repeatable; never a benchmark or development package).")
@click.option("--work-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where the copies and indexes go.")
@click.option("--stripped", is_flag=True, help="Fit with every docstring removed (default: realistic, only each fold's targets lose theirs).")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=2), help="Folds of the realistic mode.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def fit_graph(model_path, fit_packages, work_dir, stripped, folds, as_json) -> None:
    """Fit the graph propagation a search model ships: per-relation weights (callees, callers,
    container, members, overrides, overridden_by) for mixing a symbol's vector with its
    neighbours' in the index, chosen by coordinate ascent on dense MRR@10 over the --fit
    packages. `graphmer index --no-graph-vectors` is the ablation; `graphmer bench graph`
    measures the variants on other packages.

    \b
    Example:
        graphmer fit-graph --model graphmer/model/default --fit corpus/src/requests-2.34.2/requests --work-dir /tmp/fit
    """
    from graphmer.model.graph_fit import event_line, fit_propagation  # lazy: loaded when the command runs (fast start-up)

    def show(e: dict) -> None:
        if line := event_line(e):
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    try:
        doc = fit_propagation(model_path, list(fit_packages), work_dir, not stripped, folds, show)
    except (ValueError, OSError) as e:
        raise click.ClickException(f"cannot fit the graph weights: {e}") from None
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"wrote {model_path}/graph_vectors.json: weights {doc['weights'] or 'none (propagation does not help)'}; "
               f"fit MRR@10 {doc['fit_plain_mrr']:.4f} -> {doc['fit_mrr']:.4f} on {', '.join(doc['fitted_on'])}")


@click.command("export")
@click.argument("model_path", metavar="MODEL", type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-quantize", is_flag=True, help="Keep float32 weights (a larger, slower model.onnx; for comparisons).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def export_cmd(model_path: Path, no_quantize: bool, as_json: bool) -> None:
    """Convert a search model folder for torch-free inference: write MODEL/model.onnx (int8,
    ONNX Runtime) and MODEL/onnx.json, and record them in MODEL/sha256.json. `graphmer
    train-retrieval` does this when it saves; run it for a folder made before. Needs torch.

    \b
    Example:
        graphmer export runs/search/model
    """
    import time  # lazy: loaded when the command runs (fast start-up)

    from graphmer.model.onnx_export import ExportError, export_onnx  # lazy: loaded when the command runs (fast start-up)

    if not model_path.is_dir():
        raise click.ClickException(f"no model folder at {model_path}; give the folder `graphmer train-retrieval` wrote (RUN/model)")
    t0 = time.perf_counter()
    try:
        out = export_onnx(model_path, quantize=not no_quantize)
    except ExportError as e:
        raise click.ClickException(str(e)) from None
    info = {"model": str(model_path), "onnx": str(out), "bytes": out.stat().st_size,
            "quantization": "float32" if no_quantize else "int8", "seconds": round(time.perf_counter() - t0, 2)}
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(f"wrote {out} ({info['bytes'] / 1e6:.1f} MB, {info['quantization']}) in {info['seconds']:.1f} s")
