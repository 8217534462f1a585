"""`graphmer lsp` against what editors and users really do (issue 16, items 9, 10, 17, 18):
malformed input, requests right after `initialize`, an index rewritten by `graphmer index`
while the server runs, and `shutdown`/`exit` in the middle of the first build.

The server runs as a real process on stdio, driven by RawClient, which can send any bytes
(pytest-lsp sends only well-formed messages). Every wait has a generous bound, so that a
server that never answers fails the test instead of hanging it.
"""
from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pygls.uris import from_fs_path

from graphmer.index.indexer import build_index
from graphmer.index.lock import IndexLock
from graphmer.index.store import INDEX_DIRNAME, META_NAME, Store

DATA = Path(__file__).parent / "data" / "lsp" / "proj"
SERVER = [sys.executable, "-m", "graphmer.cli.main", "lsp", "-v"]
WAIT = 60.0  # seconds: a bound for hangs, never a measure of speed


class RawClient:
    """A JSON-RPC client on the stdio of a `graphmer lsp` process. Server-to-client requests
    are answered with null; notifications are kept in `notes`."""

    def __init__(self, root: Path, options: dict, log: Path) -> None:
        self.root = root
        self.proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("wb"))
        self.responses: queue.Queue = queue.Queue()
        self.answered: dict[int, dict] = {}  # responses read while waiting for another
        self.notes: list[dict] = []
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.call("initialize", {"processId": None, "rootUri": self.uri(""), "capabilities": {},
                                 "initializationOptions": options})
        self.notify("initialized", {})

    def uri(self, rel: str) -> str:
        return from_fs_path(str(self.root / rel))

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            line = out.readline()
            while line.strip():
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                line = out.readline()
            if not line or length is None:
                self.responses.put(None)  # the server closed its output
                return
            msg = json.loads(out.read(length))
            if "method" in msg and "id" in msg:
                self.send(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": None}).encode())
            elif "method" in msg:
                self.notes.append(msg)
            else:
                self.responses.put(msg)

    def send(self, body: bytes) -> None:
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.proc.stdin.flush()

    def notify(self, method: str, params) -> None:
        self.send(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode())

    def request(self, method: str, params) -> int:
        self._next += 1
        self.send(json.dumps({"jsonrpc": "2.0", "id": self._next, "method": method, "params": params}).encode())
        return self._next

    def response(self, msg_id: int, timeout: float = WAIT) -> dict:
        """The response to request msg_id (AssertionError when none comes within timeout)."""
        end = time.monotonic() + timeout
        while msg_id not in self.answered:
            try:
                msg = self.responses.get(timeout=max(end - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"no response to request {msg_id} within {timeout} s") from None
            assert msg is not None, f"the server closed its output before answering request {msg_id}"
            self.answered[msg["id"]] = msg
        return self.answered.pop(msg_id)

    def call(self, method: str, params, timeout: float = WAIT) -> dict:
        return self.response(self.request(method, params), timeout)

    def open(self, rel: str, text: str) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": self.uri(rel), "languageId": "python", "version": 1, "text": text}})

    def symbols(self, query: str) -> list[tuple[str, str, int]]:
        """workspace/symbol as (name, path, 0-based line)."""
        result = self.call("workspace/symbol", {"query": query})["result"] or []
        return [(s["name"], s["location"]["uri"].rsplit("/proj/", 1)[1], s["location"]["range"]["start"]["line"]) for s in result]

    def wait_loaded(self) -> None:
        """Ask until the index answers (on main, before the fix, it opened in the background)."""
        assert until(lambda: self.symbols("make_store")) == [("make_store", "pkg/app.py", 5)]

    def completion(self, rel: str, line: int, character: int) -> list[str] | None:
        result = self.call("textDocument/completion", {"textDocument": {"uri": self.uri(rel)}, "position": {"line": line, "character": character}})["result"]
        return None if result is None else [i["label"] for i in result["items"]]

    def errors_shown(self) -> list[str]:
        return [n["params"]["message"] for n in self.notes if n["method"] == "window/showMessage" and n["params"]["type"] == 1]

    def stop(self, timeout: float = WAIT) -> int:
        """shutdown, exit, and the exit code (AssertionError when it does not exit within timeout)."""
        shutdown = self.request("shutdown", None)
        self.response(shutdown, timeout)
        self.notify("exit", None)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the server had not exited {timeout} s after exit") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(DATA, root)
    return root


@pytest.fixture
def start(tmp_path):
    clients: list[RawClient] = []

    def start(root: Path, options: dict | None = None) -> RawClient:
        client = RawClient(root, {"dense": False, **(options or {})}, tmp_path / f"server{len(clients)}.log")
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.kill()


def until(ask, timeout: float = WAIT):
    """ask() again until it is truthy (background work on the server's side); its last answer."""
    end = time.monotonic() + timeout
    while True:
        got = ask()
        if got or time.monotonic() > end:
            return got
        time.sleep(0.1)


# -- item 10: every request gets a response or a proper error ------------------------------
def test_a_request_that_is_not_utf8_gets_a_parse_error_and_the_server_lives(project, start):
    build_index(project)
    client = start(project)
    client.wait_loaded()
    bad = b'{"jsonrpc": "2.0", "id": 900, "method": "workspace/symbol", "params": {"query": "make_\xff\xfe"}}'
    client.send(bad)
    error = client.response(900)["error"]
    assert error["code"] == -32700
    assert error["message"] == ("graphmer: the workspace/symbol request is not valid UTF-8 (byte 0xff at offset 86); "
                                "LSP messages must be UTF-8")
    assert client.symbols("make_store") == [("make_store", "pkg/app.py", 5)]
    # A notification cannot be answered: a buffer's text is read with U+FFFD for the bad byte.
    text = "# caf\xe9\ndef open_cafe():\n    pass\n\nopen_c".encode("latin-1")
    body = json.dumps({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": client.uri("pkg/latin.py"), "languageId": "python", "version": 1, "text": "@@"}}}).encode()
    client.send(body.replace(b"@@", text.replace(b"\n", b"\\n")))
    assert client.completion("pkg/latin.py", 4, 6) == ["open_cafe"]
    assert client.errors_shown() == []
    assert client.stop() == 0


def test_a_change_to_a_document_never_opened_is_dropped_without_a_popup(project, start):
    build_index(project)
    client = start(project)
    client.wait_loaded()
    client.notify("textDocument/didChange", {"textDocument": {"uri": client.uri("pkg/nope.py"), "version": 2},
                                             "contentChanges": [{"text": "x = 1\n"}]})
    assert client.symbols("make_store") == [("make_store", "pkg/app.py", 5)]  # answered after the change
    assert client.errors_shown() == []
    assert client.stop() == 0


@pytest.mark.parametrize("method, params, message", [
    ("workspace/executeCommand", {"command": "graphmer.search", "arguments": {"query": "save a record"}},
     "workspace/executeCommand: invalid params (expected an array, not dict at params.arguments)"),
    ("workspace/executeCommand", {"command": "graphmer.search", "arguments": [{"query": "save a record"}]},
     "graphmer.search takes a non-empty query string, then optional {limit, mode}"),
    ("workspace/symbol", {"query": 42},
     "workspace/symbol: invalid params (expected a string, not int at params.query)"),
])
def test_params_of_the_wrong_type_get_an_invalid_params_error(project, start, method, params, message):
    build_index(project)
    client = start(project)
    client.wait_loaded()
    error = client.call(method, params)["error"]
    assert (error["code"], error["message"]) == (-32602, message)
    assert client.errors_shown() == []
    assert client.stop() == 0


# -- item 17: the first requests wait for the index ---------------------------------------
def test_requests_right_after_initialize_wait_for_the_index_to_open(project, start):
    build_index(project)
    client = start(project)  # no wait: the editor asks as soon as it has attached
    text = (project / "pkg/store.py").read_text().replace("        self.flush()\n", "        self.\n")
    client.open("pkg/store.py", text)
    completion = client.request("textDocument/completion", {"textDocument": {"uri": client.uri("pkg/store.py")},
                                                            "position": {"line": 26, "character": 13}})
    symbols = client.request("workspace/symbol", {"query": "make_store"})
    assert [i["label"] for i in client.response(completion)["result"]["items"]] == ["flush", "Options", "load", "records", "save"]
    assert [s["name"] for s in client.response(symbols)["result"]] == ["make_store"]
    assert client.stop() == 0


def test_while_the_first_index_is_built_features_answer_from_the_open_buffer(project, start):
    (project / "pkg/extra.py").write_text("def elsewhere():\n    pass\n")
    with IndexLock(project / INDEX_DIRNAME):  # another writer holds the index: the server's first build waits
        client = start(project)
        client.open("pkg/w.py", "class Widget:\n    def draw(self):\n        pass\n\n\nw = Widget()\nw.\n")
        assert client.completion("pkg/w.py", 6, 2) == ["draw"]
        assert client.symbols("Widget") == [("Widget", "pkg/w.py", 0)]
        assert client.symbols("elsewhere") == []  # not open: known once the index is built
    # the lock is free: the build runs, and the whole workspace answers
    assert until(lambda: client.symbols("elsewhere")) == [("elsewhere", "pkg/extra.py", 0)]
    assert client.stop() == 0


# -- item 18: shutdown and exit while the first index is built ----------------------------
def test_shutdown_and_exit_while_the_first_build_waits_for_the_lock_end_the_server(project, start):
    with IndexLock(project / INDEX_DIRNAME):  # the server's first build waits for this writer
        client = start(project)
        client.call("workspace/symbol", {"query": "f"})  # a round trip: the build has started
        assert client.stop() == 0
    assert build_index(project).counts["files"] == 3  # the index is usable after the stopped run


def test_shutdown_and_exit_while_the_first_build_loads_the_model_or_embeds_stop_it(project, start):
    for n in range(400):  # 12,000 functions: embedding them takes many seconds
        (project / f"gen/m{n:03d}.py").parent.mkdir(exist_ok=True)
        (project / f"gen/m{n:03d}.py").write_text("".join(f"def f{n}_{k}(x):\n    return x + {k}\n\n" for k in range(30)))
    client = start(project, {"dense": True})
    client.call("workspace/symbol", {"query": "f"})
    assert client.stop() == 0
    index_dir = project / INDEX_DIRNAME
    vectors = Store(index_dir).vector_count() if (index_dir / META_NAME).is_file() else 0
    assert vectors < 12000  # stopped (while the model loaded, or between batches), not run to its end
    assert build_index(project).counts["files"] == 403  # what was committed is a sound start


# -- item 9: the index changed underneath the server ---------------------------------------
def graphmer_index(root: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "graphmer.cli.main", "index", str(root), "--no-dense", *args],
                   check=True, capture_output=True, timeout=WAIT)


def test_an_index_rewritten_by_graphmer_index_is_reloaded(project, start):
    build_index(project)
    client = start(project)
    client.wait_loaded()
    assert client.symbols("FileStore") == [("FileStore", "pkg/store.py", 14)]
    store = project / "pkg/store.py"
    store.write_text("\n\n" + store.read_text().replace("FileStore", "DiskStore") + "\n\ndef added_later():\n    pass\n")
    (project / "pkg/app.py").write_text((project / "pkg/app.py").read_text().replace("FileStore", "DiskStore"))
    graphmer_index(project)
    assert client.symbols("DiskStore") == [("DiskStore", "pkg/store.py", 16)]
    assert "FileStore" not in [name for name, _, _ in client.symbols("FileStore")]
    assert client.symbols("added_later") == [("added_later", "pkg/store.py", 34)]
    done = client.call("workspace/executeCommand", {"command": "graphmer.reindex"})["result"]
    assert (done["files"], done["parsed"]) == (3, 0)  # nothing left to parse, and nothing stale
    assert client.symbols("DiskStore") == [("DiskStore", "pkg/store.py", 16)]
    # --rebuild replaces index.db (the old one is moved aside): the server follows it too
    store.write_text(store.read_text().replace("added_later", "added_at_last"))
    graphmer_index(project, "--rebuild")
    assert client.symbols("added_at_last") == [("added_at_last", "pkg/store.py", 34)]
    assert "added_later" not in [name for name, _, _ in client.symbols("added_later")]
    assert client.errors_shown() == []
    assert client.stop() == 0


def test_a_server_that_could_not_open_a_damaged_index_opens_it_once_rebuilt(project, start):
    build_index(project)
    (project / INDEX_DIRNAME / "index.db").write_bytes(b"")  # emptied: refused, with what to do
    client = start(project)
    assert client.symbols("make_store") == []
    (shown,) = until(client.errors_shown)
    assert shown.startswith("graphmer: ") and "is empty (0 bytes)" in shown
    graphmer_index(project, "--rebuild")
    assert until(lambda: client.symbols("make_store")) == [("make_store", "pkg/app.py", 5)]
    assert client.stop() == 0
