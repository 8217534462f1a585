"""The repository an MCP server answers about: its index opened, or built in the background,
and re-opened when another process (`graphmer index`) changes it.

The language server's `WorkspaceIndex` (graphmer/lsp/state.py, free of any protocol) does the
opening, building and re-opening; this module adds what a tool call needs: `state()`, the
loaded index or a ToolFailure saying why there is none yet ("graphmer is indexing ROOT: 40%
done ..."), and the status and re-index of the `index_status` and `reindex` tools.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from graphmer.index.indexer import IndexStopped
from graphmer.index.status import index_status
from graphmer.index.store import StoreError, find_index_dir
from graphmer.lsp.state import ServerOptions, WorkspaceIndex
from graphmer.mcp.results import BuildProgress, ReindexResult, StatusResult, ToolFailure

log = logging.getLogger(__name__)
OPEN_WAIT = 60.0  # seconds a call waits for an open (or a re-open after `graphmer index`) under way
MODEL_WAIT = 120.0  # seconds a dense or hybrid search waits for the search model to load
_POLL = 0.02


def workspace_root(repo: str | Path) -> Path:
    """The folder holding the nearest `.graphmer/` at or above `repo`, or `repo` itself when none does."""
    found = find_index_dir(repo)
    return found.parent if found is not None else Path(repo).resolve()


def _wait(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= end:
            return False
        time.sleep(_POLL)
    return True


class McpWorkspace:
    """One repository's index for the MCP tools (thread-safe: the SDK runs each call in a worker thread)."""

    def __init__(self, repo: str | Path, model: str | None = None, dense: bool = True) -> None:
        self.index = WorkspaceIndex(workspace_root(repo), ServerOptions(model=model, dense=dense, completion=False))
        self.root = self.index.root
        self._builder: threading.Thread | None = None

    def start(self) -> None:
        """Open the index in the background, or build it (in the background) when there is none."""
        if self.index.exists():
            self.index.open_in_background()
        else:
            self.index.expect_build()
            self._build_in_background()

    def _build_in_background(self) -> None:
        def run() -> None:
            try:
                report = self.index.reindex()
                log.info("indexed %s: %d file(s) parsed", self.root, report.files_parsed)
            except IndexStopped:
                log.info("indexing %s stopped", self.root)
            except Exception as e:  # kept in build.error: the tools say it
                log.error("indexing %s failed: %s", self.root, e)

        self._builder = threading.Thread(target=run, name="graphmer-mcp-index", daemon=True)
        self._builder.start()

    def wait_build(self, timeout: float) -> bool:
        """Wait for a background build started here to end; whether it has."""
        if self._builder is not None:
            self._builder.join(timeout)
        return not self.index.build.running

    def stop(self) -> None:
        """Stop a running build at its next checkpoint (the index keeps its last committed state)."""
        self.index.stop()

    # -- answering -----------------------------------------------------------------------
    def progress(self) -> BuildProgress | None:
        b = self.index.build
        if not b.running:
            return None
        return BuildProgress(b.stage, b.done, b.total, int(100 * b.done / b.total) if b.total else 0)

    def busy_message(self) -> str:
        """Why no index answers now, in one line ("" when one does)."""
        idx = self.index
        if idx.loaded is not None:
            return ""
        p = self.progress()
        if p is not None:
            return f"graphmer is indexing {self.root}: {p.percent}% done (stage {p.stage}, {p.done}/{p.total}); ask again shortly"
        if idx.opening:
            return f"graphmer is opening the index of {self.root}; ask again shortly"
        if idx.build.error:
            return f"graphmer could not index {self.root}: {idx.build.error}; fix it, then call reindex"
        if idx.open_error:
            return f"graphmer could not open the index of {self.root}: {idx.open_error}"
        return f"no graphmer index in {self.root}: call reindex (or run `graphmer index {self.root}`)"

    def state(self, model: bool = False):
        """The loaded index (store, table, navigator, searcher), re-opened first when `graphmer
        index` changed it underneath; waits for an open under way (and, with `model`, for the
        search model). ToolFailure when there is none yet."""
        idx = self.index
        idx.check_underneath()
        if not _wait(idx.answerable, OPEN_WAIT):
            raise ToolFailure(f"graphmer is still opening the index of {self.root}; ask again shortly")
        if model and idx.loaded is not None:
            _wait(idx.model_settled.is_set, MODEL_WAIT)
        loaded = idx.loaded
        if loaded is None:
            raise ToolFailure(self.busy_message())
        return loaded

    def status(self) -> StatusResult:
        """Where the index stands: state, build progress, and `graphmer status`'s report."""
        idx = self.index
        idx.check_underneath()
        report = None
        if idx.exists() and not (idx.build.running and idx.loaded is None):
            try:
                report = index_status(idx.index_dir, integrity=False)  # opened and checked when loaded
            except StoreError as e:
                return StatusResult(str(self.root), "error", str(e), self.progress(), None)
        if idx.loaded is not None:
            state = "reindexing" if idx.build.running else "opening" if idx.opening else "ready"
            message = "answers come from the last index until it ends" if state == "reindexing" else ""
        else:
            state = "indexing" if idx.build.running else "opening" if idx.opening else (
                "error" if idx.build.error or idx.open_error else "no index")
            message = self.busy_message()
        return StatusResult(str(self.root), state, message, self.progress(), report)

    def reindex(self) -> ReindexResult:
        """Start re-indexing in the background (only changed files are parsed)."""
        if self.index.build.running:
            return ReindexResult(False, self.busy_message() or f"graphmer is already re-indexing {self.root}; index_status shows progress")
        self.index.expect_build()
        self._build_in_background()
        return ReindexResult(True, f"re-indexing {self.root} in the background (changed files only); "
                                   "index_status shows progress, answers follow the new index when it ends")
