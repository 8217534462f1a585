"""`graphmer mcp`: serve the repository's index to coding agents over MCP (stdio)."""
from __future__ import annotations

import logging
import os
import sys

import click

from graphmer.cli.options import repo_option


@click.command("mcp")
@repo_option
@click.option("--model", "model_path", type=click.Path(), help="Search model folder (default: the shipped model).")
@click.option("--no-dense", is_flag=True, help="No model: lexical + graph search only (and no vectors when it builds the index).")
@click.option("--log-file", type=click.Path(dir_okay=False, writable=True), help="Write the log here instead of stderr.")
@click.option("-v", "--verbose", count=True, help="More log detail (-v info, -vv debug).")
def mcp_cmd(repo: str, model_path: str | None, no_dense: bool, log_file: str | None, verbose: int) -> None:
    """Serve the index to coding agents as MCP tools over stdio (never prints to stdout).

    \b
    The nearest .graphmer/ at or above --repo is opened, or built in the background (tools
    answer "indexing, N% done" meanwhile); a `graphmer index` run elsewhere is noticed.
    Register it with an MCP client: {"command": "graphmer", "args": ["mcp", "--repo", "/path/to/repo"]}
    """
    if no_dense and model_path:
        raise click.UsageError("--model and --no-dense contradict each other; give one")
    if not os.path.isdir(repo):
        raise click.ClickException(f"--repo {repo!r} is not a folder; give the repository (or a folder inside it)")
    if model_path and not os.path.exists(model_path):
        raise click.ClickException(f"--model {model_path!r} does not exist; give a model folder, or leave out --model for the shipped model")
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    logging.basicConfig(level=level, handlers=[handler], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from graphmer.mcp.server import build_server  # lazy: loaded when the command runs (fast start-up)
    from graphmer.mcp.workspace import McpWorkspace

    ws = McpWorkspace(repo, model=model_path, dense=not no_dense)
    ws.start()
    build_server(ws).run()
    # The client closed stdin: a build still running in its daemon thread keeps the index as
    # last committed; end now rather than finalize the interpreter under it (as `graphmer lsp`).
    ws.stop()
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)
