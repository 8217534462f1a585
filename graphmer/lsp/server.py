"""The graphmer language server (pygls 2.x): short features over graphmer/index/ and graphmer/lsp/state.py.

Every feature fetches what it needs from the workspace's index and converts positions
through graphmer/lsp/convert.py. A request that arrives while the index is opening (or re-opening,
after `graphmer index` changed it underneath) waits for it, up to OPEN_WAIT seconds; while
the first index is being built, features answer from the open buffers' own names; with no
index at all they answer empty and the reason is logged (`graphmer.search` answers with an
error saying it). Every request gets an answer or a JSON-RPC error in plain words: params of
the wrong type, invalid UTF-8 and internal errors included (the traceback goes to the log).
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

from lsprotocol import types
from pygls.uris import to_fs_path

from graphmer.index.indexer import IndexStopped
from graphmer.lsp import convert
from graphmer.lsp.app import GraphmerServer, build_with_progress, server, wait_until
from graphmer.lsp.state import Debouncer, ServerOptions, WorkspaceIndex

log = logging.getLogger(__name__)
SHUTDOWN_WAIT = 2.0  # seconds `shutdown` gives a running build to stop at its next checkpoint


# -- lifecycle ---------------------------------------------------------------------------
@server.feature(types.INITIALIZE)
def initialize(ls: GraphmerServer, params: types.InitializeParams) -> None:
    ls.options, ls.option_problems = ServerOptions.from_json(params.initialization_options)
    folders = params.workspace_folders or []
    uri = folders[0].uri if folders else params.root_uri
    root = to_fs_path(uri) if uri else params.root_path
    if not root:
        return
    idx = ls.index = WorkspaceIndex(root, ls.options, lines_of=ls.lines_of)
    ls.debouncer = Debouncer(ls.options.reindex_delay, lambda: _reindex_quietly(ls))
    if idx.exists():  # opening starts now: the first requests wait for it rather than answer empty
        ls.opened = idx.open_in_background()
    elif ls.options.auto_index:  # built from `initialized` (progress needs an initialized client)
        idx.expect_build()


@server.feature(types.INITIALIZED)
async def initialized(ls: GraphmerServer, params: types.InitializedParams) -> None:
    ls.loop = asyncio.get_running_loop()
    for problem in ls.option_problems:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"graphmer: {problem}"))
    idx = ls.index
    if idx is None:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message="graphmer: no workspace folder; features are off"))
        return
    if ls.opened is not None:
        await wait_until(lambda: not idx.opening, float("inf"))
        if idx.open_error:  # a corrupt or foreign index: the message says what to do
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"graphmer: {idx.open_error}"))
        else:
            log.info("opened the index of %s", idx.root)
        return
    if idx.build.running:
        try:
            await build_with_progress(ls, "graphmer: indexing the workspace")
        except Exception:  # shown to the user already
            pass


def _reindex_quietly(ls: GraphmerServer) -> None:
    """A save's re-index (in the debouncer's thread): only changed files are parsed."""
    if ls.index is None or ls.index.build.running:
        return
    try:
        t0 = time.perf_counter()
        report = ls.index.reindex()
        log.info("re-indexed after save: %d file(s) parsed in %.2f s", report.files_parsed, time.perf_counter() - t0)
    except IndexStopped:
        log.info("re-index after save stopped")
    except Exception as e:
        log.error("re-index after save failed: %s", e)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: GraphmerServer, params: types.DidSaveTextDocumentParams) -> None:
    if ls.index is not None and ls.debouncer is not None and convert.path_of(ls.index.root, params.text_document.uri):
        ls.debouncer.trigger()


@server.feature(types.SHUTDOWN)
async def shutdown(ls: GraphmerServer, params: None) -> None:
    """Stop a running build at its next checkpoint (the index keeps its last committed state)
    and give it, or an open under way, SHUTDOWN_WAIT seconds to end before the index closes."""
    if ls.debouncer is not None:
        ls.debouncer.cancel()
    idx = ls.index
    if idx is None:
        return
    idx.stop()
    if await wait_until(lambda: not (idx.build.running or idx.opening), SHUTDOWN_WAIT):
        idx.close()
    else:  # its thread still reads the store: `exit` ends the process without closing it under its feet
        log.warning("background indexing has not stopped yet; exit leaves the index as last committed")


@server.feature(types.EXIT)
def exit_(ls: GraphmerServer, params: None) -> None:
    """End the process now (pygls would first wait for every worker thread, and an interpreter
    finalized under a thread still in native code, loading the model, aborts): the index is
    as last committed, and the answers and the log are flushed."""
    if ls.index is not None:
        ls.index.stop()
    code = 0 if getattr(ls.protocol, "_shutdown", False) else 1  # as the protocol says: 1 without shutdown
    log.info("exiting (%d)", code)
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)


# -- features ----------------------------------------------------------------------------
from graphmer.lsp import features  # noqa: E402,F401  (registers the features on `server`)
