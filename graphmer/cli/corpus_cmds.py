"""`graphmer corpus lock|build`: the search model's training corpus (graphmer/model/corpus_*.py)."""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import click


@click.group()
def corpus() -> None:
    """The training corpus: pinned PyPI packages plus the standard library, turned into pairs."""


@corpus.command("lock")
@click.option("--list", "list_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Package list: one `name[==version] [licence=SPDX]` per line.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Lock file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the locked packages as JSON.")
def lock_cmd(list_file: Path, out: Path, as_json: bool) -> None:
    """Pin every package of a list to one version and one file (PyPI's JSON API; needs the network).

    Refuses packages on the exclusion list and licences outside the permissive list.

    \b
    Example:
        graphmer corpus lock --list corpus.in --out corpus.lock
    """
    from concurrent.futures import ThreadPoolExecutor  # lazy: loaded when the command runs (fast start-up)

    from graphmer.model.corpus_lock import CorpusError, read_list, resolve, write_lock  # lazy: loaded when the command runs (fast start-up)

    try:
        items = read_list(list_file)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None

    def one(item):
        try:
            return resolve(*item)
        except CorpusError as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(one, items))
    errors = [str(f) for f in found if isinstance(f, Exception)]
    if errors:
        raise click.ClickException(f"{len(errors)} of {len(items)} packages refused: " + "; ".join(errors))
    python = ".".join(platform.python_version_tuple()[:2])
    write_lock(out, found, python)
    if as_json:
        click.echo(json.dumps([vars(e) for e in found], indent=1))
    else:
        click.echo(f"locked {len(found)} packages in {out}")


@corpus.command("build")
@click.option("--lock", "lock_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The lock file (corpus.lock in the repository).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Corpus folder.")
@click.option("--no-stdlib", is_flag=True, help="Leave out the standard library of the running Python.")
@click.option("--no-comments", is_flag=True, help="Docstring pairs only (no leading-comment pairs).")
@click.option("--max-per-package", default=6000, show_default=True, type=click.IntRange(min=0),
              help="Keep a fixed sample of at most N pairs per package (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def build_cmd(lock_file: Path, out: Path, no_stdlib: bool, no_comments: bool, max_per_package: int, as_json: bool) -> None:
    """Download the locked packages (pip, sha256 checked), unpack their code without test and
    vendored folders, and extract deduplicated docstring/comment -> function pairs.

    Network is needed only for files not already in OUT/downloads/.

    \b
    Example:
        graphmer corpus build --lock corpus.lock --out ~/graphmer-corpus
    """
    from graphmer.model.corpus_build import build_corpus  # lazy: loaded when the command runs (fast start-up)
    from graphmer.model.corpus_lock import CorpusError

    err = sys.stderr
    try:
        manifest = build_corpus(lock_file, out, stdlib=not no_stdlib, comments=not no_comments,
                                max_per_package=max_per_package, on_event=lambda m: (err.write(m + "\n"), err.flush()))
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(manifest, indent=1))
        return
    click.echo(f"{manifest['pairs']:,} pairs ({manifest['pairs_docstring']:,} from docstrings, "
               f"{manifest['pairs_comment']:,} from comments) from {manifest['packages_count']} packages in "
               f"{manifest['seconds']:.0f} s; manifest: {out / 'manifest.json'}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(corpus())
