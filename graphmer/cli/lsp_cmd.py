"""`graphmer lsp`: start the language server (stdio by default)."""
from __future__ import annotations

import logging
import os
import sys

import click


def _host_port(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:2087)", param_hint="--tcp")
    return host, int(port)


@click.command("lsp")
@click.option("--tcp", "tcp", metavar="HOST:PORT", help="Listen on a TCP socket instead of stdio.")
@click.option("--log-file", type=click.Path(dir_okay=False, writable=True), help="Write the log here instead of stderr.")
@click.option("-v", "--verbose", count=True, help="More log detail (-v info, -vv debug).")
def lsp_cmd(tcp: str | None, log_file: str | None, verbose: int) -> None:
    """Start the graphmer language server for an editor (stdio; never prints to stdout).

    \b
    The workspace's .graphmer/ index is opened, or built in the background with progress.
    Client initializationOptions: {"model": PATH, "dense": true, "autoIndex": true, "reindexDelay": 0.5}
    """
    address = _host_port(tcp)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    logging.basicConfig(level=level, handlers=[handler], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from graphmer.lsp.server import server  # lazy: loaded when the command runs (fast start-up)
    from graphmer.lsp.state import prefetch_default_model

    prefetch_default_model()
    if address is None:
        server.start_io()
    else:
        server.start_tcp(*address)
    # The editor has gone without `exit` (end of input): a build still running in its daemon
    # thread keeps the index as last committed; end now rather than finalize under it.
    if server.index is not None:
        server.index.stop()
    logging.shutdown()
    os._exit(0)
