"""The graphmer language server (pygls 2.x): short features over index/ and lsp/state.py.

Every feature fetches what it needs from the workspace's index and converts positions
through lsp/convert.py. Before the index is ready (being built, or missing) features
answer empty and the reason is logged; `graphmer.search` answers with an error saying it.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from index.navigate import Site, name_site
from index.neighbours import SymbolInfo
from lsp import convert
from lsp.state import Debouncer, ServerOptions, WorkspaceIndex

log = logging.getLogger(__name__)
SEARCH_LIMIT = 100

try:
    _VERSION = version("graphmer")
except PackageNotFoundError:  # running from a source tree
    _VERSION = "0"


class _Protocol(LanguageServerProtocol):
    """pygls drops a request whose params do not fit its type (it only shows a message), so
    the client would wait forever; this answers such a request with the error."""

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "method" in data and "id" in data:
                self._send_response(data["id"], error=exc.to_response_error())
                exc.answered = True  # type: ignore[attr-defined]
            raise


class GraphmerServer(LanguageServer):
    """A LanguageServer holding one WorkspaceIndex (the first workspace folder's)."""

    def __init__(self) -> None:
        super().__init__("graphmer", _VERSION, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=_Protocol)
        self.index: WorkspaceIndex | None = None
        self.options = ServerOptions()
        self.option_problems: list[str] = []
        self.debouncer: Debouncer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def report_server_error(self, error: Exception, source) -> None:
        """Errors already answered to the client are logged, not also shown."""
        if getattr(error.__cause__ or error, "answered", False) or getattr(error, "answered", False):
            log.warning("rejected a malformed request: %s", error)
            return
        super().report_server_error(error, source)

    # -- text ------------------------------------------------------------------------------
    def lines_of(self, path: str) -> list[str] | None:
        """An open buffer's lines, else the file's on disk (cached by modification time);
        without line ends, as index/navigate.py and the position codec take them."""
        assert self.index is not None
        uri = convert.uri_of(self.index.root, path)
        doc = self.workspace.text_documents.get(unquote(uri))  # pygls keys open documents by unquoted URI
        if doc is not None:
            return doc.source.splitlines()
        fs = self.index.root / path
        try:
            return _disk_lines(str(fs), fs.stat().st_mtime_ns)
        except OSError:
            return None

    def ready(self):
        """The loaded index, or None (logged) when it is not ready."""
        if self.index is None:
            return None
        loaded = self.index.loaded
        if loaded is None:
            log.info("%s", self.index.status())
        return loaded

    def location(self, site: Site, lines: list[str] | None = None) -> types.Location:
        """A site as an LSP location; `lines`: the site's file, when the caller has them already."""
        assert self.index is not None
        lines = lines if lines is not None else self.lines_of(site.path) or []
        return types.Location(uri=convert.uri_of(self.index.root, site.path),
                              range=convert.site_range(self.workspace.position_codec, lines, site))

    def hierarchy_item(self, sym: SymbolInfo) -> types.CallHierarchyItem:
        assert self.index is not None and sym.path is not None
        lines = self.lines_of(sym.path) or []
        last = max(sym.end_line - 1, 0)
        end = len(lines[last]) if last < len(lines) else 0  # the whole definition, first line to last
        whole = convert.client_range(self.workspace.position_codec, lines, max(sym.start_line - 1, 0), 0, last, end)
        name = self.location(name_site(sym.path, lines, sym), lines)
        return types.CallHierarchyItem(name=sym.name, kind=convert.symbol_kind(sym.kind), uri=name.uri, range=whole,
                                       selection_range=name.range, detail=sym.qualname, data={"id": sym.id})

    def position(self, params) -> tuple[str, str, int, int] | None:
        """(root-relative path, buffer text, line, code-point column) of a text-document request."""
        if self.index is None:
            return None
        path = convert.path_of(self.index.root, params.text_document.uri)
        if path is None:
            return None
        doc = self.workspace.get_text_document(params.text_document.uri)
        try:
            source = doc.source
        except OSError:
            return None
        line, col = convert.server_position(doc.position_codec, doc.lines, params.position)
        return path, source, line, col


@lru_cache(maxsize=256)
def _disk_lines(fs_path: str, mtime_ns: int) -> list[str]:
    return Path(fs_path).read_text(encoding="utf-8", errors="replace").splitlines()


server = GraphmerServer()


# -- lifecycle ---------------------------------------------------------------------------
@server.feature(types.INITIALIZE)
def initialize(ls: GraphmerServer, params: types.InitializeParams) -> None:
    ls.options, ls.option_problems = ServerOptions.from_json(params.initialization_options)
    folders = params.workspace_folders or []
    uri = folders[0].uri if folders else params.root_uri
    root = to_fs_path(uri) if uri else params.root_path
    if root:
        ls.index = WorkspaceIndex(root, ls.options, lines_of=ls.lines_of)
        ls.debouncer = Debouncer(ls.options.reindex_delay, lambda: _reindex_quietly(ls))


@server.feature(types.INITIALIZED)
async def initialized(ls: GraphmerServer, params: types.InitializedParams) -> None:
    ls.loop = asyncio.get_running_loop()
    for problem in ls.option_problems:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"graphmer: {problem}"))
    idx = ls.index
    if idx is None:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message="graphmer: no workspace folder; features are off"))
        return
    if idx.exists():
        try:
            await ls.loop.run_in_executor(None, idx.open)
            log.info("opened the index of %s", idx.root)
            return
        except Exception as e:  # a corrupt or foreign index: the message says what to do
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"graphmer: {e}"))
            return
    if ls.options.auto_index:
        await build_with_progress(ls, "graphmer: indexing the workspace")


async def build_with_progress(ls: GraphmerServer, title: str) -> dict:
    """Index the workspace in a worker thread, reporting `$/progress` when the client can show it."""
    assert ls.index is not None and ls.loop is not None
    loop = ls.loop
    caps = ls.client_capabilities.window
    token = None
    if caps is not None and caps.work_done_progress:
        token = str(uuid.uuid4())
        await ls.work_done_progress.create_async(token)  # the token exists before its first use
        ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0, cancellable=False))
    last = [-1, ""]

    def progress(stage: str, done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 0
        if token is None or (pct, stage) == tuple(last):
            return
        last[:] = [pct, stage]
        report = types.WorkDoneProgressReport(message=f"{stage} {done}/{total}", percentage=pct)
        loop.call_soon_threadsafe(ls.work_done_progress.report, token, report)

    message = "indexing stopped"  # what the end report says when the server stops it (shutdown cancels the task)
    try:
        report = await loop.run_in_executor(None, ls.index.reindex, progress)
        summary = {"files": report.counts.get("files", 0), "symbols": report.counts.get("symbols", 0),
                   "parsed": report.files_parsed, "seconds": round(report.seconds, 2)}
        message = f"indexed {summary['files']} files, {summary['symbols']} symbols"
        return summary
    except Exception as e:
        message = f"indexing failed: {e}"
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"graphmer: {message}"))
        raise
    finally:
        if token is not None:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))


def _reindex_quietly(ls: GraphmerServer) -> None:
    """A save's re-index (in the debouncer's thread): only changed files are parsed."""
    if ls.index is None or ls.index.build.running:
        return
    try:
        t0 = time.perf_counter()
        report = ls.index.reindex()
        log.info("re-indexed after save: %d file(s) parsed in %.2f s", report.files_parsed, time.perf_counter() - t0)
    except Exception as e:
        log.error("re-index after save failed: %s", e)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: GraphmerServer, params: types.DidSaveTextDocumentParams) -> None:
    if ls.index is not None and ls.debouncer is not None and convert.path_of(ls.index.root, params.text_document.uri):
        ls.debouncer.trigger()


@server.feature(types.SHUTDOWN)
def shutdown(ls: GraphmerServer, params: None) -> None:
    if ls.debouncer is not None:
        ls.debouncer.cancel()
    if ls.index is not None:
        ls.index.close()


# -- features ----------------------------------------------------------------------------
from lsp import features  # noqa: E402,F401  (registers the features on `server`)
