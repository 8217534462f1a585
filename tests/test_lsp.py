"""End-to-end tests of `graphmer lsp`: a real server process driven by pytest-lsp.

The fixture project (tests/data/lsp/proj) is copied and indexed (lexical + graph) before
the server starts; every test asserts exact locations and items.
"""
from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from concurrent.futures import Future
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from graphmer.index.indexer import build_index

DATA = Path(__file__).parent / "data" / "lsp" / "proj"
SERVER = [sys.executable, "-m", "graphmer.cli.main", "lsp", "-v"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lsp") / "proj"
    shutil.copytree(DATA, root)
    build_index(root)
    return root


def uri(root: Path, rel: str) -> str:
    return from_fs_path(str(root / rel))


def rng(l1: int, c1: int, l2: int, c2: int) -> types.Range:
    return types.Range(start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2))


def loc(root: Path, rel: str, line: int, start: int, end: int) -> types.Location:
    return types.Location(uri=uri(root, rel), range=rng(line, start, line, end))


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, project: Path):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=uri(project, ""),
            workspace_folders=[types.WorkspaceFolder(uri=uri(project, ""), name="proj")],
            initialization_options={"dense": False},
        )
    )
    # The index is opened in the background after `initialized`: wait until it answers.
    for _ in range(200):
        found = await lsp_client.workspace_symbol_async(types.WorkspaceSymbolParams(query="make_store"))
        if found:
            break
        await asyncio.sleep(0.05)
    yield
    await lsp_client.shutdown_session()


async def raw_request(client: LanguageClient, method: str, params) -> object:
    """Send a request as raw JSON, bypassing the client's types, and await the answer."""
    msg_id = str(uuid.uuid4())
    future: Future = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._result_types[msg_id] = None
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(asyncio.wrap_future(future), 10)


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def doc(project: Path, rel: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri(project, rel))


@pytest.mark.asyncio(loop_scope="module")
async def test_capabilities(client: LanguageClient):
    caps = client.capabilities  # what the client sent; the server's answer is checked below
    assert caps is not None
    info = client.protocol.server_capabilities if hasattr(client.protocol, "server_capabilities") else None
    # pytest-lsp keeps the initialize result on the session; ask the features directly instead
    assert info is None or info.workspace_symbol_provider


@pytest.mark.asyncio(loop_scope="module")
async def test_workspace_symbol_finds_methods_and_nested_classes(client: LanguageClient, project: Path):
    got = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Opt"))
    assert [(s.name, s.kind, s.container_name, s.location) for s in got] == [
        ("Options", types.SymbolKind.Class, "pkg.store.FileStore", loc(project, "pkg/store.py", 17, 10, 17))
    ]
    got = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Store.sav"))
    assert [(s.container_name, s.location) for s in got] == [
        ("pkg.store.BaseStore", loc(project, "pkg/store.py", 6, 8, 12)),
        ("pkg.store.FileStore", loc(project, "pkg/store.py", 23, 8, 12)),
    ]


@pytest.mark.asyncio(loop_scope="module")
async def test_workspace_symbol_falls_back_to_search_for_words(client: LanguageClient, project: Path):
    got = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="create the store of the application"))
    assert got and (got[0].name, got[0].location) == ("make_store", loc(project, "pkg/app.py", 5, 4, 14))


@pytest.mark.asyncio(loop_scope="module")
async def test_search_command(client: LanguageClient, project: Path):
    hits = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="graphmer.search", arguments=["save one record to the file", {"limit": 3, "mode": "lexical"}])
    )
    assert hits[0]["qualname"] == "pkg.store.FileStore.save"
    assert hits[0]["uri"] == uri(project, "pkg/store.py")
    assert hits[0]["range"] == {"start": {"line": 23, "character": 8}, "end": {"line": 23, "character": 12}}
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    with pytest.raises(Exception, match="non-empty query"):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="graphmer.search", arguments=[42]))


@pytest.mark.asyncio(loop_scope="module")
async def test_definition(client: LanguageClient, project: Path):
    # `FileStore()` inside make_store -> the class in store.py
    got = await client.text_document_definition_async(types.DefinitionParams(text_document=doc(project, "pkg/app.py"), position=pos(7, 13)))
    assert list(got) == [loc(project, "pkg/store.py", 14, 6, 15)]
    # `st.BaseStore` through the module alias
    got = await client.text_document_definition_async(types.DefinitionParams(text_document=doc(project, "pkg/app.py"), position=pos(14, 12)))
    assert list(got) == [loc(project, "pkg/store.py", 3, 6, 15)]
    # `super().save` -> the base class's method
    got = await client.text_document_definition_async(types.DefinitionParams(text_document=doc(project, "pkg/store.py"), position=pos(25, 17)))
    assert list(got) == [loc(project, "pkg/store.py", 6, 8, 12)]
    # a local variable has no definition in the graph
    got = await client.text_document_definition_async(types.DefinitionParams(text_document=doc(project, "pkg/app.py"), position=pos(13, 8)))
    assert got is None


@pytest.mark.asyncio(loop_scope="module")
async def test_definition_after_astral_character_uses_utf16(client: LanguageClient, project: Path):
    # line 15: `        label = "😋"; make_store()`; the emoji is 2 UTF-16 units, so make_store
    # starts at UTF-16 column 22 (code point 21).
    got = await client.text_document_definition_async(types.DefinitionParams(text_document=doc(project, "pkg/app.py"), position=pos(15, 23)))
    assert list(got) == [loc(project, "pkg/app.py", 5, 4, 14)]
    refs = await client.text_document_references_async(
        types.ReferenceParams(text_document=doc(project, "pkg/app.py"), position=pos(5, 6), context=types.ReferenceContext(include_declaration=False))
    )
    assert list(refs) == [loc(project, "pkg/app.py", 12, 12, 22), loc(project, "pkg/app.py", 15, 22, 32)]


@pytest.mark.asyncio(loop_scope="module")
async def test_references(client: LanguageClient, project: Path):
    got = await client.text_document_references_async(
        types.ReferenceParams(text_document=doc(project, "pkg/store.py"), position=pos(6, 9), context=types.ReferenceContext(include_declaration=True))
    )
    assert list(got) == [loc(project, "pkg/store.py", 6, 8, 12), loc(project, "pkg/store.py", 25, 16, 20)]
    got = await client.text_document_references_async(
        types.ReferenceParams(text_document=doc(project, "pkg/store.py"), position=pos(14, 8), context=types.ReferenceContext(include_declaration=False))
    )
    assert list(got) == [loc(project, "pkg/app.py", 1, 22, 31), loc(project, "pkg/app.py", 7, 11, 20)]


@pytest.mark.asyncio(loop_scope="module")
async def test_hover(client: LanguageClient, project: Path):
    got = await client.text_document_hover_async(types.HoverParams(text_document=doc(project, "pkg/app.py"), position=pos(12, 15)))
    assert got.range == rng(12, 12, 12, 22)
    assert got.contents.value == (
        "```python\ndef make_store()\n```\n\nfunction `pkg.app.make_store`\n\nCreate the store of the application.\n\n"
        "1 caller(s), 1 callee(s) in the code graph"
    )


@pytest.mark.asyncio(loop_scope="module")
async def test_call_hierarchy(client: LanguageClient, project: Path):
    items = await client.text_document_prepare_call_hierarchy_async(
        types.CallHierarchyPrepareParams(text_document=doc(project, "pkg/store.py"), position=pos(23, 9))
    )
    assert [(i.name, i.detail, i.range, i.selection_range) for i in items] == [
        ("save", "pkg.store.FileStore.save", rng(23, 0, 26, 20), rng(23, 8, 23, 12))
    ]
    out = await client.call_hierarchy_outgoing_calls_async(types.CallHierarchyOutgoingCallsParams(item=items[0]))
    assert [(c.to.detail, list(c.from_ranges)) for c in out] == [
        ("pkg.store.BaseStore.save", [rng(25, 16, 25, 20)]),
        ("pkg.store.FileStore.flush", [rng(26, 13, 26, 18)]),
    ]
    base = out[0].to
    incoming = await client.call_hierarchy_incoming_calls_async(types.CallHierarchyIncomingCallsParams(item=base))
    assert [(c.from_.detail, list(c.from_ranges)) for c in incoming] == [("pkg.store.FileStore.save", [rng(25, 16, 25, 20)])]


@pytest.mark.asyncio(loop_scope="module")
async def test_malformed_requests_get_errors_and_the_server_lives(client: LanguageClient, project: Path):
    with pytest.raises(JsonRpcException):  # params that do not fit the request's type
        await raw_request(client, "textDocument/definition", {"textDocument": {"uri": 5}})
    with pytest.raises(JsonRpcException):
        await raw_request(client, "textDocument/hover", [1, 2, 3])
    with pytest.raises(Exception, match="not defined"):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="graphmer.nope"))
    # unknown file, position past the end: empty answers, no error
    got = await client.text_document_definition_async(types.DefinitionParams(text_document=doc(project, "nope.py"), position=pos(99, 0)))
    assert got is None
    got = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="flush"))
    assert [s.name for s in got] == ["flush"]


def open_buffer(client: LanguageClient, project: Path, rel: str, text: str) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri(project, rel), language_id="python", version=1, text=text)))


def close_buffer(client: LanguageClient, project: Path, rel: str) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc(project, rel)))


@pytest.mark.asyncio(loop_scope="module")
async def test_completion_members_of_self_with_inherited_ones_and_resolve(client: LanguageClient, project: Path):
    text = (project / "pkg/store.py").read_text().replace("        self.flush()\n", "        self.\n")
    open_buffer(client, project, "pkg/store.py", text)  # unsaved: the buffer is what completes
    try:
        got = await client.text_document_completion_async(types.CompletionParams(text_document=doc(project, "pkg/store.py"), position=pos(26, 13)))
        # The shipped fitted weights: `flush` first (defined right below the cursor), the
        # nested class, `load` (inherited; app.py reads it), the attribute BaseStore reads on
        # self, and `save` last: the enclosing method itself would be a recursive call.
        assert [(i.label, i.kind, i.sort_text) for i in got.items] == [
            ("flush", types.CompletionItemKind.Method, "0000"),
            ("Options", types.CompletionItemKind.Class, "0001"),
            ("load", types.CompletionItemKind.Method, "0002"),  # inherited from BaseStore
            ("records", types.CompletionItemKind.Field, "0003"),  # set on self in BaseStore
            ("save", types.CompletionItemKind.Method, "0004"),
        ]
        assert got.is_incomplete is False
        resolved = await client.completion_item_resolve_async(got.items[-1])
        assert resolved.detail == "def save(self, record)"
        assert resolved.documentation.value == "Save one record to the file."
        text2 = text.replace("        self.\n", "        self.fl\n")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(project, "pkg/store.py"), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text2)]))
        got = await client.text_document_completion_async(types.CompletionParams(text_document=doc(project, "pkg/store.py"), position=pos(26, 15)))
        assert [i.label for i in got.items] == ["flush"]
    finally:
        close_buffer(client, project, "pkg/store.py")


@pytest.mark.asyncio(loop_scope="module")
async def test_completion_module_members_behind_an_alias_and_names_in_scope(client: LanguageClient, project: Path):
    text = (project / "pkg/app.py").read_text().replace("        st.BaseStore().load()\n", "        st.\n")
    open_buffer(client, project, "pkg/app.py", text)
    try:
        got = await client.text_document_completion_async(types.CompletionParams(text_document=doc(project, "pkg/app.py"), position=pos(14, 11)))
        assert [(i.label, i.kind) for i in got.items] == [("BaseStore", types.CompletionItemKind.Class), ("FileStore", types.CompletionItemKind.Class)]
        text2 = text.replace("        return label\n", "        return ma\n")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(project, "pkg/app.py"), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text2)]))
        got = await client.text_document_completion_async(types.CompletionParams(text_document=doc(project, "pkg/app.py"), position=pos(16, 17)))
        assert [i.label for i in got.items] == ["make_store", "map", "max"]  # module function, then builtins
    finally:
        close_buffer(client, project, "pkg/app.py")
