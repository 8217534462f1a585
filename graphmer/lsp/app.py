"""The graphmer language server object (pygls 2.x) that graphmer/lsp/server.py (lifecycle) and
graphmer/lsp/features.py (features) register on, with what both use: waiting for the index,
running work in a daemon thread, building the index with progress.

Every request gets an answer or a JSON-RPC error in plain words: params of the wrong type,
invalid UTF-8 and internal errors included (the traceback goes to the log).
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import unquote

from cattrs.errors import ClassValidationError
from lsprotocol import types
from pygls.exceptions import FeatureRequestError, JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcParseError
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from graphmer.index.indexer import IndexStopped
from graphmer.index.navigate import Site, name_site
from graphmer.index.neighbours import SymbolInfo
from graphmer.index.store import StoreError
from graphmer.lsp import convert
from graphmer.lsp.state import Debouncer, ServerOptions, WorkspaceIndex

log = logging.getLogger("graphmer.lsp.server")  # the server's log name, as before lifecycle and features moved out
SEARCH_LIMIT = 100
OPEN_WAIT = 15.0  # seconds a request waits for the index to open (a 750-file index opens in about 1 s)
POLL = 0.01  # seconds between looks at a background state a request waits for

try:
    _VERSION = version("graphmer")
except PackageNotFoundError:  # running from a source tree
    _VERSION = "0"


class _Protocol(LanguageServerProtocol):
    """pygls's protocol, with every request answered: pygls drops a request whose params do
    not fit its type (it only shows a message), so the client would wait forever."""

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "method" in data and "id" in data:
                cause = exc.__cause__
                if isinstance(cause, ClassValidationError):
                    exc = JsonRpcInvalidParams(f"{data['method']}: invalid params ({convert.params_problem(cause)})")
                self._send_response(data["id"], error=exc.to_response_error())
                exc.answered = True  # type: ignore[attr-defined]
            raise exc

    def _send_handler_result(self, future, *, msg_id) -> None:
        """A feature's unexpected exception is logged with its traceback; the client gets one plain line."""
        exc = None if future.cancelled() else future.exception()
        if exc is None or isinstance(exc, JsonRpcException):
            return super()._send_handler_result(future, msg_id=msg_id)
        self._request_futures.pop(msg_id, None)
        log.error("request %s failed", msg_id, exc_info=exc)
        self._send_response(msg_id, error=JsonRpcInternalError(_plain(exc)).to_response_error())

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        """pygls raises KeyError for a document that was never opened: such a change is logged and dropped."""
        if unquote(params.text_document.uri) not in self.workspace.text_documents:
            log.warning("didChange for %s, which was never opened: ignored", params.text_document.uri)
            return None
        yield from super().lsp_text_document__did_change(params)


def _plain(exc: BaseException) -> str:
    """What the user is told of an unexpected error (the log has the traceback)."""
    if isinstance(exc, StoreError):  # written for the user: says what to do
        return f"graphmer: {exc}"
    return "graphmer could not answer this request (an internal error); the server log has the details (graphmer lsp -v --log-file FILE)"


async def wait_until(ready: Callable[[], bool], timeout: float) -> bool:
    """Poll ready() every POLL seconds until it is true or `timeout` passes; whether it became true.
    (Polling keeps waiting requests off threads: an exit never waits for one.)"""
    end = time.monotonic() + timeout
    while not ready():
        if time.monotonic() >= end:
            return False
        await asyncio.sleep(POLL)
    return True


def in_daemon_thread(fn, *args) -> asyncio.Future:
    """fn(*args) in a daemon thread, as an awaitable: the process can exit while it runs."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def settle(result, error) -> None:
        if not fut.done():
            fut.set_exception(error) if error is not None else fut.set_result(result)

    def run() -> None:
        try:
            result, error = fn(*args), None
        except BaseException as e:  # handed to the awaiting coroutine
            result, error = None, e
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop has closed: nobody awaits it any more
            pass

    threading.Thread(target=run, name=getattr(fn, "__name__", "graphmer-work"), daemon=True).start()
    return fut


class GraphmerServer(LanguageServer):
    """A LanguageServer holding one WorkspaceIndex (the first workspace folder's)."""

    def __init__(self) -> None:
        super().__init__("graphmer", _VERSION, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=_Protocol, converter_factory=convert.strict_converter)
        self.index: WorkspaceIndex | None = None
        self.options = ServerOptions()
        self.option_problems: list[str] = []
        self.debouncer: Debouncer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.opened: threading.Thread | None = None  # the first open's thread, started by `initialize`

    def report_server_error(self, error: Exception, source) -> None:
        """Errors already answered to the client are logged; a message that is not UTF-8 is read
        again (see _not_utf8); anything else is logged and told in one plain line."""
        if getattr(error.__cause__ or error, "answered", False) or getattr(error, "answered", False):
            log.warning("rejected a malformed request: %s", error)
            return
        if isinstance(error, UnicodeDecodeError) and isinstance(error.object, bytes):
            self._not_utf8(error.object, error)
            return
        if source is FeatureRequestError:
            return  # answered with an error already
        log.error("%s: %s", type(error).__name__, error)
        self.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Error, message="graphmer: a message from the editor could not be handled; the server log has the details"))

    def _not_utf8(self, body: bytes, error: UnicodeDecodeError) -> None:
        """A message that is not UTF-8 (JSON-RPC requires it): a request is answered with a parse
        error saying where; a notification (a buffer's text) is handled with U+FFFD in place
        of the bad bytes, so that the buffer stays in step with the editor."""
        where = f"byte 0x{body[error.start]:02x} at offset {error.start}"
        try:
            message = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            log.warning("dropped a message that is neither UTF-8 (%s) nor JSON", where)
            return
        if not isinstance(message, dict):
            return
        if "id" in message and "method" in message:
            log.warning("answered a %s request that is not UTF-8 (%s) with an error", message["method"], where)
            self.protocol._send_response(message["id"], error=JsonRpcParseError(
                f"graphmer: the {message['method']} request is not valid UTF-8 ({where}); LSP messages must be UTF-8").to_response_error())
            return
        log.warning("a %s notification is not UTF-8 (%s): read with U+FFFD in place of the bad bytes", message.get("method"), where)
        try:
            self.protocol.handle_message(self.protocol.structure_message(message))
        except Exception as e:
            self.report_server_error(e, None)

    # -- text ------------------------------------------------------------------------------
    def lines_of(self, path: str) -> list[str] | None:
        """An open buffer's lines, else the file's on disk (cached by modification time);
        without line ends, as graphmer/index/navigate.py and the position codec take them."""
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

    def open_buffers(self) -> dict[str, str]:
        """{root-relative path: text} of the open buffers inside the workspace."""
        assert self.index is not None
        out = {}
        for uri, doc in list(self.workspace.text_documents.items()):
            path = convert.path_of(self.index.root, uri)
            if path is not None:
                out[path] = doc.source
        return out

    async def ready(self, completion: bool = False):
        """The loaded index, or None (logged) when it is not ready. A request first lets an
        open or re-open end (up to OPEN_WAIT s: the index changed underneath starts one);
        while the first index is being built, the open buffers' own index answers."""
        idx = self.index
        if idx is None:
            return None
        idx.check_underneath()
        if not await wait_until(lambda: idx.answerable(completion), OPEN_WAIT):
            log.info("the index is still opening after %.0f s: answering without it", OPEN_WAIT)
        loaded = idx.loaded
        if loaded is None and idx.first_build():
            return await asyncio.get_running_loop().run_in_executor(None, idx.buffers.state, self.open_buffers(), self.lines_of)
        if loaded is None:
            log.info("%s", idx.status())
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


async def build_with_progress(ls: GraphmerServer, title: str) -> dict:
    """Index the workspace in a daemon thread, reporting `$/progress` when the client can show it."""
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

    message = "indexing stopped"  # what the end report says when the server stops it (shutdown)
    try:
        report = await in_daemon_thread(ls.index.reindex, progress)
        summary = {"files": report.counts.get("files", 0), "symbols": report.counts.get("symbols", 0),
                   "parsed": report.files_parsed, "seconds": round(report.seconds, 2)}
        message = f"indexed {summary['files']} files, {summary['symbols']} symbols"
        return summary
    except IndexStopped:
        log.info("indexing stopped; the index keeps what was committed before")
        raise JsonRpcInternalError("graphmer: indexing stopped (the server is shutting down)") from None
    except Exception as e:
        message = f"indexing failed: {e}"
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"graphmer: {message}"))
        raise JsonRpcInternalError(f"graphmer: {message}") from None
    finally:
        if token is not None:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
