"""`graphmer train-retrieval`: the contrastive stage that makes a search model (model/retrieval_train.py)."""
from __future__ import annotations

import json
import sys

import click


@click.command("train-retrieval")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder (pairs/, metrics.jsonl, summary.json, model/).")
@click.option("--init", default="minilm", show_default=True,
              help="'minilm' (all-MiniLM-L6-v2 weights, graph parts new) or a `graphmer train` run/model folder.")
@click.option("--layers", default=0, show_default=True, type=click.IntRange(min=0), help="Keep N encoder layers, evenly spaced (0: all).")
@click.option("--roots", default=128, show_default=True, type=click.IntRange(min=8), help="Code tokens per symbol.")
@click.option("--epochs", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=2))
@click.option("--lr", default=5e-5, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Peak lr of loaded weights.")
@click.option("--new-lr", default=1e-3, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Peak lr of new parameters.")
@click.option("--no-leaves", is_flag=True, help="Ablation: train and embed without graph leaves.")
@click.option("--exclude", multiple=True, help="Gitignore-style glob left out of PATHS (repeatable), e.g. 'test/'.")
@click.option("--max-pairs", default=0, type=click.IntRange(min=0), help="Cap on training pairs (0: all).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=0, type=click.IntRange(min=0), help="CPU threads (0: torch's default).")
@click.option("--model-id", default="graphmer", show_default=True, help="Name recorded in indexes built with the model.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def train_retrieval_cmd(paths, out_dir, init, layers, roots, epochs, batch_size, lr, new_lr, no_leaves, exclude,
                        max_pairs, seed, threads, model_id, as_json):
    """Fine-tune a search model on docstring -> code pairs from PATHS (contrastive, in-batch negatives).

    \b
    Example (the default model; see README "Training the default model"):
        graphmer train-retrieval /usr/lib/python3.11 --exclude test/ --exclude tests/ --out runs/search
    """
    from model.checkpoint import CheckpointError
    from model.retrieval_train import RetrievalConfig, train_retrieval

    rcfg = RetrievalConfig(init=init, layers=layers, roots=roots, epochs=epochs, batch_size=batch_size, lr=lr,
                           new_lr=new_lr, leaves=not no_leaves, exclude=tuple(exclude), max_pairs=max_pairs,
                           seed=seed, threads=threads, model_id=model_id)
    err = click.get_text_stream("stderr")
    every = 1 if sys.stderr.isatty() else 20

    def show(e: dict) -> None:
        if e["event"] == "eval":
            err.write(f"epoch {e['epoch']}: held-out MRR@10 {e['mrr@10']:.4f}, R@1 {e['recall@1']:.4f} ({e['pairs']} pairs)\n")
        elif e["step"] % every == 0 or e["step"] == e["steps"]:
            end = "\r" if sys.stderr.isatty() else "\n"
            err.write(f"step {e['step']}/{e['steps']} loss {e['loss']:.4f} lr {e['lr']:.2e}{end}")
        err.flush()

    try:
        summary = train_retrieval(rcfg, out_dir, list(paths), on_event=show)
    except (CheckpointError, ValueError, ImportError) as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        click.echo(f"done in {summary['seconds']:.0f} s: {summary['pairs_train']} training pairs, held-out MRR@10 "
                   f"{summary['before']['mrr@10']:.4f} -> {summary[f'epoch{epochs}']['mrr@10']:.4f}; model in {out_dir}/model")
