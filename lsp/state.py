"""What the language server knows about its workspace, without any protocol in it.

`WorkspaceIndex` opens (or builds) the workspace's `.graphmer/` index and keeps the
objects the features ask: a fuzzy symbol table, a navigator over the code graph, a
searcher and a completer. Building and re-indexing run in background threads; while
one runs, the previous state keeps answering (or, before the first build ends, features
answer empty and `status()` says why). A rebuilt state is swapped in whole, under a lock.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.indexer import IndexConfig, IndexReport, build_index
from index.navigate import LinesOf, Navigator
from index.search import Searcher
from index.status import walk_config_from_meta
from index.store import INDEX_DIRNAME, META_NAME, Store, read_meta
from index.symbol_match import SymbolTable
from index.walk import WalkConfig

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ServerOptions:
    """The client's `initializationOptions` (camelCase keys in JSON), with defaults."""

    model: str | None = None  # search model folder; None: the model shipped with graphmer
    dense: bool = True  # embed symbols when indexing and search with vectors
    auto_index: bool = True  # build the index in the background when the workspace has none
    reindex_delay: float = 0.5  # seconds after the last save before re-indexing (debounce)

    @classmethod
    def from_json(cls, raw: object) -> tuple["ServerOptions", list[str]]:
        """Options from the client's JSON, and a message for each value that was ignored."""
        problems: list[str] = []
        if raw is None:
            return cls(), problems
        if not isinstance(raw, dict):
            return cls(), [f"initializationOptions must be an object, not {type(raw).__name__}: using defaults"]
        keys = {"model": ("model", (str, type(None))), "dense": ("dense", bool), "autoIndex": ("auto_index", bool),
                "reindexDelay": ("reindex_delay", (int, float))}
        values: dict = {}
        for key, value in raw.items():
            if key not in keys:
                problems.append(f"unknown initialization option {key!r} ignored")
                continue
            attr, typ = keys[key]
            if not isinstance(value, typ) or (attr == "reindex_delay" and (isinstance(value, bool) or value < 0)):
                problems.append(f"initialization option {key!r} has a bad value {value!r}: using the default")
                continue
            values[attr] = value
        return cls(**values), problems


@dataclass
class _Loaded:
    store: Store
    table: SymbolTable
    navigator: Navigator
    searcher: Searcher
    completer: object | None = None


@dataclass
class BuildState:
    running: bool = False
    stage: str = ""
    done: int = 0
    total: int = 0
    error: str = ""


class WorkspaceIndex:
    """The index of one workspace folder, opened for the server's features."""

    def __init__(self, root: str | os.PathLike, options: ServerOptions = ServerOptions(), lines_of: LinesOf | None = None) -> None:
        self.root = Path(root).resolve()
        self.options = options
        self.index_dir = self.root / INDEX_DIRNAME
        self.lines_of: LinesOf = lines_of or self._disk_lines
        self.build = BuildState()
        self._lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._embedder = None
        self._embedder_error = ""
        self._opening = False
        self.model_settled = threading.Event()  # set once the search model is loaded or known unavailable

    # -- state ---------------------------------------------------------------------------
    def _disk_lines(self, path: str) -> list[str] | None:
        try:
            return (self.root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None

    def exists(self) -> bool:
        """Whether the workspace has an index to open."""
        return (self.index_dir / META_NAME).is_file()

    @property
    def loaded(self) -> _Loaded | None:
        with self._lock:
            return self._loaded

    def status(self) -> str:
        """One line for the user when a feature cannot answer yet ("" when ready)."""
        if self.loaded is not None:
            return ""
        b = self.build
        if self._opening:
            return f"graphmer is opening the index of {self.root}; results will follow in a moment"
        if b.running:
            return f"graphmer is indexing this workspace ({b.stage} {b.done}/{b.total}); results will follow when it ends"
        if b.error:
            return f"graphmer could not index this workspace: {b.error}"
        return f"no graphmer index in {self.root}: run `graphmer index {self.root}` or the graphmer.reindex command"

    def open(self) -> None:
        """Open the existing index and load what the features need (StoreError when unusable):
        names and navigation first, then the completer, then the search model."""
        self._opening = True
        try:
            loaded = self._load()
        finally:
            self._opening = False
        with self._lock:
            old, self._loaded = self._loaded, loaded
        if old is not None:
            old.store.close()
        from index.complete import Completer

        # here, in the opening thread (it reads the whole index), sharing the navigator's resolver
        loaded.completer = Completer(loaded.store, resolver=loaded.navigator.resolver)
        if loaded.searcher.embedder is None and self.options.dense:
            # Names answer from here on; the model (seconds to load) joins the searcher after.
            loaded.searcher.embedder = self.embedder()
        self.model_settled.set()

    def _load(self) -> _Loaded:
        store = Store(self.index_dir)
        table = SymbolTable.from_store(store)
        navigator = Navigator(store, self.lines_of)
        searcher = Searcher(store, embedder=self._embedder)  # None until loaded (see open)
        return _Loaded(store, table, navigator, searcher)

    def completer(self):
        """The completion engine over the loaded index, or None until it is ready."""
        loaded = self.loaded
        return loaded.completer if loaded is not None else None

    def close(self) -> None:
        """Close the store."""
        with self._lock:
            loaded, self._loaded = self._loaded, None
        if loaded is not None:
            loaded.store.close()

    # -- model ---------------------------------------------------------------------------
    def embedder(self):
        """The search model (loaded once), or None when dense search is off or unavailable."""
        if not self.options.dense or self._embedder_error:
            return None
        if self._embedder is None:
            try:
                from model.embedder import load_embedder

                self._embedder = load_embedder(self.options.model)
            except Exception as e:  # a bad model folder must not take the server down
                self._embedder_error = f"cannot load the search model: {e}"
                log.error("%s", self._embedder_error)
                return None
        return self._embedder

    # -- indexing ------------------------------------------------------------------------
    def index_config(self) -> IndexConfig:
        """The walk rules recorded by the last index run (so a re-index covers the same files)."""
        walk = walk_config_from_meta(read_meta(self.index_dir)) if self.exists() else WalkConfig()
        return IndexConfig(walk=walk, embedder=self.embedder(), jobs=1)

    def reindex(self, progress: Progress | None = None) -> IndexReport:
        """Index the workspace (only changed files are parsed) and swap in the new state."""
        with self._build_lock:
            b = self.build
            b.running, b.error, b.stage, b.done, b.total = True, "", "walk", 0, 0

            def on_progress(stage: str, done: int, total: int) -> None:
                b.stage, b.done, b.total = stage, done, total
                if progress:
                    progress(stage, done, total)

            try:
                report = build_index(self.root, self.index_config(), on_progress)
                changed = report.files_parsed or report.files_deleted or report.edges_rebuilt or report.symbols_embedded
                if changed or self.loaded is None:  # a save that changed nothing keeps the loaded state
                    self.open()
                return report
            except Exception as e:
                b.error = f"{type(e).__name__}: {e}"
                raise
            finally:
                b.running = False


class Debouncer:
    """Runs `action` once, `delay` seconds after the last call to `trigger()`."""

    def __init__(self, delay: float, action: Callable[[], None]) -> None:
        self.delay = delay
        self.action = action
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def trigger(self) -> None:
        """(Re)start the countdown."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.delay, self.action)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        """Drop a pending run."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
