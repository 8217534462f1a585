"""`graphmer train` and `graphmer eval`: thin wrappers over graphmer.model.train / graphmer.model.evaluation."""
from __future__ import annotations

import json

import click

PRESET_NAMES = ("tiny", "cpu-s", "cpu-m", "gpu-b", "minilm-ws", "minilm-ws3")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--index", "index_dir", type=click.Path(exists=True, file_okay=False), help="Train on an existing .graphmer index instead of (or as well as) PATHS.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Run folder (config.json, metrics.jsonl, checkpoints/, model/).")
@click.option("--preset", default="cpu-s", show_default=True, type=click.Choice(PRESET_NAMES))
@click.option("--steps", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=1e-3, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--encoder-lr", default=0.0, type=click.FloatRange(min=0), help="Peak lr of warm-started weights (0: same as --lr).")
@click.option("--warmup", default=-1, type=int, help="Warmup steps (-1: 5% of --steps).")
@click.option("--schedule", default="cosine", show_default=True, type=click.Choice(["cosine", "linear"]))
@click.option("--mu", default=1.0, show_default=True, type=click.FloatRange(min=0), help="MNM loss weight μ.")
@click.option("--mu-ramp", default=0, show_default=True, type=click.IntRange(min=0), help="Ramp μ from 0.001 over N steps (0: constant).")
@click.option("--eval-every", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--eval-samples", default=1024, show_default=True, type=click.IntRange(min=1))
@click.option("--checkpoint-every", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--keep", "keep_checkpoints", default=3, show_default=True, type=click.IntRange(min=1), help="Checkpoints kept.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed (with --seeds: the data seed all seeds share).")
@click.option("--seeds", default="", metavar="S1,S2,...",
              help="Train once per seed into --out/seed-N (sequentially), all on the held-out split of --seed.")
@click.option("--no-hgat", is_flag=True, help="Ablation: leaves keep plain token embeddings.")
@click.option("--mlm-prob", default=0.15, show_default=True, type=click.FloatRange(0, 1, min_open=True), help="Share of roots MLM-masked.")
@click.option("--mnm-prob", default=0.3, show_default=True, type=click.FloatRange(0, 1, min_open=True), help="Share of injected leaf groups MNM-masked.")
@click.option("--inject-prob", default=0.7, show_default=True, type=click.FloatRange(0, 1), help="Chance that a head gets one of its triples injected.")
@click.option("--copy-cap", default=0.1, show_default=True, type=click.FloatRange(0, 1),
              help="Most share of injections whose tail is verbatim in the roots (0: no cap).")
@click.option("--layout", default="compact", show_default=True, type=click.Choice(["compact", "fixed"]))
@click.option("--exclude", multiple=True, help="Glob left out of the corpus folders (repeatable), e.g. 'test/'.")
@click.option("--vocab-size", default=8192, show_default=True, type=click.IntRange(min=64), help="BPE vocabulary trained for the run.")
@click.option("--valid-fraction", default=0.05, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True), help="Share of files held out.")
@click.option("--max-samples", default=0, type=click.IntRange(min=0), help="Cap on training samples (0: all).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--threads", default=0, type=click.IntRange(min=0), help="CPU threads (0: torch's default).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON at the end.")
def train(paths, index_dir, out_dir, preset, steps, batch_size, lr, encoder_lr, warmup, schedule, mu, mu_ramp,
          eval_every, eval_samples, checkpoint_every, keep_checkpoints, seed, seeds, no_hgat, mlm_prob, mnm_prob, inject_prob, copy_cap, layout, exclude, vocab_size,
          valid_fraction, max_samples, device, threads, resume, as_json):
    """Train a GraphMER model on the code in PATHS (indexed on the fly) or an --index.

    \b
    Examples:
        graphmer train ./src --out runs/mine --steps 300
        graphmer train /usr/lib/python3.11 --exclude test/ --exclude tests/ --out runs/std
        torchrun --nproc_per_node 2 -m graphmer.cli.main train ./src --out runs/ddp
        graphmer train ./src --out runs/seeds --seeds 1,2,3   # then: graphmer report runs/seeds
    """
    from graphmer.cli.train_view import train_view  # lazy: loaded when the command runs (fast start-up)
    from graphmer.model.runstate import RunStateError
    from graphmer.model.train import TrainConfig
    from graphmer.model.train import train as run_train

    if not paths and not index_dir:
        raise click.UsageError("give corpus PATHS or --index DIR")
    cfg = TrainConfig(
        preset=preset, steps=steps, batch_size=batch_size, lr=lr, encoder_lr=encoder_lr, warmup_steps=warmup,
        schedule=schedule, mu=mu, mu_ramp_steps=mu_ramp, eval_every=eval_every, eval_samples=eval_samples,
        checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, seed=seed, use_hgat=not no_hgat,
        mlm_prob=mlm_prob, mnm_prob=mnm_prob, inject_prob=inject_prob, copy_cap=copy_cap, layout=layout, exclude=tuple(exclude), vocab_size=vocab_size, valid_fraction=valid_fraction, max_samples=max_samples, device=device, threads=threads,
    )
    if seeds:
        return _train_seeds(cfg, seeds, out_dir, paths, index_dir, resume, as_json)
    try:
        with train_view(steps, enabled=True) as view:
            result = run_train(cfg, out_dir, corpus=list(paths), index_dir=index_dir, resume=resume, on_event=view)
    except (RunStateError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    summary = {"run_dir": str(result.run_dir), "steps": result.steps_done, "skipped_steps": result.skipped_steps,
               "seconds": round(result.seconds, 1), "last_eval": result.last_eval}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"done: {result.steps_done} steps in {result.seconds:.0f} s, {result.skipped_steps} skipped; model in {result.run_dir / 'model'}")


def _train_seeds(cfg, seeds_text, out_dir, paths, index_dir, resume, as_json):
    from graphmer.cli.train_view import train_view  # lazy: loaded when the command runs (fast start-up)
    from graphmer.model.multiseed import parse_seeds, train_seeds
    from graphmer.model.runstate import RunStateError

    try:
        seeds = parse_seeds(seeds_text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--seeds") from None
    try:
        with train_view(cfg.steps, enabled=True) as view:
            results = train_seeds(cfg, out_dir, seeds, corpus=list(paths), index_dir=index_dir, resume=resume, on_event=view)
    except (RunStateError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    summary = [{"run_dir": str(r.run_dir), "steps": r.steps_done, "skipped_steps": r.skipped_steps, "seconds": round(r.seconds, 1),
                "last_eval": r.last_eval} for r in results]
    if as_json:
        click.echo(json.dumps({"parent": out_dir, "runs": summary}, indent=2))
    else:
        click.echo(f"done: {len(results)} seed run(s) in {out_dir}; summarise them with `graphmer report {out_dir}`")


@click.command("eval")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--ablation", "ablations", multiple=True, metavar="NAME=RUN",
              help="Another run on the same corpus and tokenizer to rank beside this one (repeatable), e.g. no-hgat=runs/x.")
@click.option("--queries", default=500, show_default=True, type=click.IntRange(min=1), help="Held-out link-prediction queries.")
@click.option("--candidates", default=0, show_default=True, type=click.IntRange(min=0),
              help="Candidate tails per query: the relation's N most frequent tails in the corpus (0: all of them).")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (per-query ranks included).")
def eval_cmd(run, ablations, queries, candidates, device, as_json):
    """Held-out MLM/MNM accuracy and link prediction of RUN, beside the baselines
    (most frequent tail; most shared sub-tokens with the head) and any --ablation runs."""
    from graphmer.model.checkpoint import CheckpointError  # lazy: loaded when the command runs (fast start-up)
    from graphmer.model.evaluation import evaluate_run

    named = {}
    for a in ablations:
        name, sep, path = a.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{a!r} is not NAME=RUN", param_hint="--ablation")
        named[name] = path
    try:
        res = evaluate_run(run, named, max_queries=queries, max_candidates=candidates, device=device)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    from rich.table import Table  # lazy: loaded when the command runs (fast start-up)

    from graphmer.cli.render import out_console as console  # lazy: loaded when the command runs (fast start-up)

    h = res["held_out"]
    console.print(f"[bold]{res['run']}[/]")
    console.print(f"held-out MLM accuracy {h['mlm_acc']:.4f} ({h['mlm_correct']}/{h['mlm_count']} masked roots), "
                  f"MNM accuracy {h['mnm_acc']:.4f} ({h['mnm_correct']}/{h['mnm_count']} masked leaves)")
    lp = res["link_prediction"]
    c = lp["candidates"]
    t = Table(title=f"link prediction, held-out files (candidates per query: median {c['median']:.0f}, {c['min']}–{c['max']})")
    for c in ("system", "MRR", "Hits@1", "Hits@10", "queries"):
        t.add_column(c, justify="right")
    for name, m in lp["systems"].items():
        t.add_row(name, f"{m['mrr']:.4f}", f"{m['hits@1']:.4f}", f"{m['hits@10']:.4f}", str(m["queries"]))
    console.print(t)
