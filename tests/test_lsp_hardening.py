"""`graphmer lsp` against what editors and users really do (issue 16, item 10): malformed input.

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

from index.indexer import build_index

DATA = Path(__file__).parent / "data" / "lsp" / "proj"
SERVER = [sys.executable, "-m", "graphmer_cli.main", "lsp", "-v"]
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
