"""What the language server knows about its workspace, without any protocol in it.

`WorkspaceIndex` opens (or builds) the workspace's `.graphmer/` index and keeps the
objects the features ask: a fuzzy symbol table, a navigator over the code graph, a
searcher and a completer. Opening, building and re-indexing run in background (daemon)
threads: an exit never waits for them, and `stop()` ends a build at its next checkpoint.
While one runs, the previous state keeps answering; a new state is swapped in whole, under
a lock. `opening` tells the server to hold a request back until the open ends (bounded),
and `check_underneath()` re-opens the index when another process (`graphmer index`)
changed it. Until the first build ends, `BufferIndex` answers from the open buffers alone.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from graphmer.index.indexer import IndexConfig, IndexReport, IndexStopped, build_index
from graphmer.index.lock import another_writer
from graphmer.index.navigate import LinesOf, Navigator
from graphmer.index.search import Searcher
from graphmer.index.status import walk_config_from_meta
from graphmer.index.store import INDEX_DIRNAME, META_NAME, Store, read_meta
from graphmer.index.symbol_match import SymbolTable
from graphmer.index.walk import WalkConfig
from graphmer.model.embedder import load_embedder

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
RELOAD_RETRY = 5.0  # seconds before a failed re-open (the index changed underneath) is tried again


@dataclass(frozen=True)
class ServerOptions:
    """The client's `initializationOptions` (camelCase keys in JSON), with defaults."""

    model: str | None = None  # search model folder; None: the model shipped with graphmer
    dense: bool = True  # embed symbols when indexing and search with vectors
    auto_index: bool = True  # build the index in the background when the workspace has none
    reindex_delay: float = 0.5  # seconds after the last save before re-indexing (debounce)
    completion: bool = True  # build the completer when the index opens (not a client option: graphmer mcp has no use for it)

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


_default_model = None  # a Future of the shipped model, loaded from the server's start (prefetch_default_model)


def prefetch_default_model() -> None:
    """Load the shipped search model in a thread from now, before the editor's `initialize`
    says which model to use: the usual answer is the shipped one, and then dense search is
    ready sooner. A failure here is ignored (the model loads again, and reports, when used)."""
    global _default_model
    fut: Future = Future()

    def load() -> None:
        try:
            fut.set_result(load_embedder(None))
        except Exception:  # noqa: BLE001
            fut.set_result(None)

    _default_model = fut
    threading.Thread(target=load, name="graphmer-prefetch", daemon=True).start()


class WorkspaceIndex:
    """The index of one workspace folder, opened for the server's features."""

    def __init__(self, root: str | os.PathLike, options: ServerOptions = ServerOptions(), lines_of: LinesOf | None = None) -> None:
        self.root = Path(root).resolve()
        self.options = options
        self.index_dir = self.root / INDEX_DIRNAME
        self.lines_of: LinesOf = lines_of or self._disk_lines
        self.build = BuildState()
        self.buffers = BufferIndex(self.root)
        self._lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._embedder = None
        self._embedder_error = ""
        self._model_lock = threading.Lock()
        self.opening = False  # an open (or re-open) is under way: requests wait for it (bounded)
        self.names_swapped = False  # this open has swapped in its names (the completer follows)
        self.open_error = ""  # why the last open failed ("" when it did not)
        self._retry_at = 0.0  # monotonic time before which a failed re-open is not tried again
        self._stop = threading.Event()
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

    def answerable(self, completion: bool = False) -> bool:
        """Whether a request need not wait for an open: none is under way, or (for names
        alone) it has swapped in its names already."""
        return not self.opening or (self.names_swapped and not completion)

    def first_build(self) -> bool:
        """Whether the first index of the workspace is being built (nothing loaded yet)."""
        return self.build.running and self.loaded is None

    def status(self) -> str:
        """One line for the user when a feature cannot answer yet ("" when ready)."""
        if self.loaded is not None:
            return ""
        b = self.build
        if self.opening:
            return f"graphmer is opening the index of {self.root}; results will follow in a moment"
        if b.running:
            return f"graphmer is indexing this workspace ({b.stage} {b.done}/{b.total}); results will follow when it ends"
        if b.error:
            return f"graphmer could not index this workspace: {b.error}"
        if self.open_error:
            return f"graphmer could not open the index: {self.open_error}"
        return f"no graphmer index in {self.root}: run `graphmer index {self.root}` or the graphmer.reindex command"

    def open_in_background(self) -> threading.Thread:
        """open() in a daemon thread; `opening` is true from this call on."""
        with self._lock:
            self.opening, self.names_swapped = True, False
        t = threading.Thread(target=self._open_logged, name="graphmer-open", daemon=True)
        t.start()
        return t

    def _open_logged(self) -> None:
        try:
            self.open()
        except Exception as e:  # the server shows status(); a re-open is tried again later
            self._retry_at = time.monotonic() + RELOAD_RETRY
            log.error("cannot open the index of %s: %s", self.root, e)

    def open(self) -> None:
        """Open the existing index and load what the features need (StoreError when unusable):
        names and navigation first, then the search model (loaded meanwhile in a thread of
        its own), then the completer."""
        with self._lock:
            self.opening, self.names_swapped = True, False
        model = None
        if self.options.dense and self._embedder is None and not self._embedder_error:
            model = threading.Thread(target=self.embedder, name="graphmer-model", daemon=True)
            model.start()  # ONNX Runtime and file reads let the index load go on beside it
        try:
            loaded = self._load()
            with self._lock:  # the previous state's store closes when its last request lets go of it
                self._loaded, self.names_swapped = loaded, True
            if self.options.dense and self.exists():
                try:  # vectors.faiss, read while the model loads (dense search needs both)
                    loaded.searcher.load_vectors()
                except Exception as e:  # noqa: BLE001  (the first dense search reports it in its own words)
                    log.warning("cannot read the index's vectors yet: %s", e)
            if model is not None:
                model.join()
            if loaded.searcher.embedder is None and self.options.dense:
                loaded.searcher.embedder = self.embedder()
            self.model_settled.set()  # search answers from here on, the completer follows
            if self.options.completion:
                from graphmer.complete.pipeline import Completer  # lazy: loaded here, after search is ready, not at server start

                # here, in the opening thread (it reads the whole index), sharing the navigator's resolver
                loaded.completer = Completer(loaded.store, resolver=loaded.navigator.resolver)
            self.open_error = ""
        except Exception as e:
            self.open_error = str(e)
            raise
        finally:
            self.opening = False
            self.model_settled.set()

    def _load(self) -> _Loaded:
        store = Store(self.index_dir)
        table = SymbolTable.from_store(store)
        navigator = Navigator(store, self.lines_of)
        searcher = Searcher(store, embedder=self._embedder)  # None until loaded (see open)
        return _Loaded(store, table, navigator, searcher)

    def check_underneath(self) -> bool:
        """Re-open the index in the background when another process (`graphmer index`) changed
        it since it was opened, or try again (every RELOAD_RETRY s) after an open failed; True
        when a re-open started. Cheap when nothing changed (a stat and a pragma, about 25 µs);
        while another writer still holds the index lock, the state loaded before it started
        keeps answering, and the re-open waits for its end."""
        loaded = self.loaded
        if self.opening or self.build.running or self._stop.is_set() or time.monotonic() < self._retry_at:
            return False
        if loaded is None:  # only after a failed open (`graphmer index --rebuild` may have mended it)
            if not self.open_error or not self.exists() or another_writer(self.index_dir):
                return False
        elif not loaded.store.changed_underneath() or another_writer(self.index_dir):
            return False
        log.info("the index of %s changed underneath the server: re-opening it", self.root)
        self.open_in_background()
        return True

    def stop(self) -> None:
        """Stop background work: a running build ends at its next checkpoint (IndexStopped),
        keeping the last committed state; no re-open starts after this; the buffers' index goes."""
        self._stop.set()
        self.buffers.close()

    def close(self) -> None:
        """Close the store and drop the buffers' index."""
        with self._lock:
            loaded, self._loaded = self._loaded, None
        if loaded is not None:
            loaded.store.close()
        self.buffers.close()

    # -- model ---------------------------------------------------------------------------
    def embedder(self):
        """The search model (loaded once), or None when dense search is off or unavailable."""
        if not self.options.dense or self._embedder_error:
            return None
        with self._model_lock:  # loaded once, whichever thread asks first
            if self._embedder is None and not self._embedder_error:
                try:
                    early = _default_model.result() if self.options.model is None and _default_model else None
                    self._embedder = early or load_embedder(self.options.model)
                except Exception as e:  # a bad model folder must not take the server down
                    self._embedder_error = f"cannot load the search model: {e}"
                    log.error("%s", self._embedder_error)
        return self._embedder

    # -- indexing ------------------------------------------------------------------------
    def index_config(self) -> IndexConfig:
        """The walk rules recorded by the last index run (so a re-index covers the same files)."""
        walk = walk_config_from_meta(read_meta(self.index_dir)) if self.exists() else WalkConfig()
        return IndexConfig(walk=walk, embedder=self.embedder(), jobs=1)

    def expect_build(self) -> None:
        """Mark the first build as running before its thread starts (requests answer from the buffers)."""
        b = self.build
        b.running, b.stage, b.error = True, "starting", ""

    def reindex(self, progress: Progress | None = None) -> IndexReport:
        """Index the workspace (only changed files are parsed) and swap in the new state;
        IndexStopped when stop() ends it."""
        with self._build_lock:
            b = self.build
            b.running, b.error, b.stage, b.done, b.total = True, "", "walk", 0, 0

            def on_progress(stage: str, done: int, total: int) -> None:
                b.stage, b.done, b.total = stage, done, total
                if progress:
                    progress(stage, done, total)

            try:
                report = build_index(self.root, self.index_config(), on_progress, stop=self._stop.is_set)
                changed = report.files_parsed or report.files_deleted or report.edges_rebuilt or report.symbols_embedded
                loaded = self.loaded
                # a save that changed nothing keeps the loaded state, unless `graphmer index` changed it before
                if changed or loaded is None or loaded.store.changed_underneath():
                    self.open()
                return report
            except IndexStopped:
                raise
            except Exception as e:
                b.error = f"{type(e).__name__}: {e}"
                raise
            finally:
                b.running = False


class BufferIndex:
    """While the first index is being built: a throwaway index of the open buffers alone (in a
    temporary folder, at their workspace paths), so that completion, workspace symbols and
    navigation answer from the buffers' own names rather than nothing. Rebuilt when a buffer
    changes (only the changed file is parsed: milliseconds for a buffer)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._dir: Path | None = None
        self._key: tuple | None = None
        self._loaded: _Loaded | None = None

    def state(self, buffers: dict[str, str], lines_of: LinesOf) -> _Loaded | None:
        """The index of `buffers` ({root-relative path: text}), or None when there are none."""
        key = tuple(sorted(buffers.items()))
        with self._lock:
            if key == self._key:
                return self._loaded
            if not buffers:
                self._key, self._loaded = key, None
                return None
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="graphmer-buffers-")) / self.root.name
            root = self._dir
            for old in [p for p in root.rglob("*") if p.is_file() and ".graphmer" not in p.parts]:
                if old.relative_to(root).as_posix() not in buffers:
                    old.unlink()
            for rel, text in buffers.items():
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.is_file() or path.read_text(encoding="utf-8", errors="replace") != text:
                    path.write_text(text, encoding="utf-8", errors="replace")
            build_index(root, IndexConfig(jobs=1))
            from graphmer.complete.pipeline import Completer  # lazy: not at server start (see open())

            store = Store(root / INDEX_DIRNAME)
            navigator = Navigator(store, lines_of)
            loaded = _Loaded(store, SymbolTable.from_store(store), navigator, Searcher(store),
                             Completer(store, resolver=navigator.resolver))
            self._key, self._loaded = key, loaded  # the previous store closes when its last request lets go
        return loaded

    def close(self) -> None:
        """Remove the temporary index."""
        with self._lock:
            loaded, folder, self._loaded, self._dir, self._key = self._loaded, self._dir, None, None, None
        if loaded is not None:
            loaded.store.close()
        if folder is not None:
            shutil.rmtree(folder.parent, ignore_errors=True)


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
