"""`graphmer lsp` sessions that change state: background indexing with progress, unsaved
buffers, re-index on save, bad options, and dense search with the shipped model."""
from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

DATA = Path(__file__).parent / "data" / "lsp" / "proj"
SERVER = [sys.executable, "-m", "graphmer.cli.main", "lsp", "-v"]


def uri(root: Path, rel: str) -> str:
    return from_fs_path(str(root / rel))


async def start(root: Path, options: dict) -> LanguageClient:
    client = await ClientServerConfig(server_command=SERVER).start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=uri(root, ""),
            workspace_folders=[types.WorkspaceFolder(uri=uri(root, ""), name=root.name)],
            initialization_options=options,
        )
    )
    return client


async def symbols(client: LanguageClient, query: str, want: int = 1, timeout: float = 60.0):
    """workspace/symbol, asked until it has `want` results (the index opens in the background)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        got = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
        if (got and len(got) >= want) or loop.time() > end:
            return got
        await asyncio.sleep(0.1)


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(DATA, root)
    return root


@pytest.mark.asyncio
async def test_builds_missing_index_in_background_with_progress(project: Path):
    client = await start(project, {"dense": False})
    try:
        got = await symbols(client, "make_store")
        assert [(s.name, s.location.range.start.line) for s in got] == [("make_store", 5)]
        assert (project / ".graphmer" / "index.db").is_file()
        (reports,) = client.progress_reports.values()  # one token, created before use
        assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].title == "graphmer: indexing the workspace"
        for _ in range(100):  # the index answers as soon as it is open; the end report may follow it
            if isinstance(reports[-1], types.WorkDoneProgressEnd):
                break
            await asyncio.sleep(0.1)
        assert isinstance(reports[-1], types.WorkDoneProgressEnd)
        assert reports[-1].message.startswith("indexed 3 files")
        assert any(isinstance(r, types.WorkDoneProgressReport) for r in reports)
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_unsaved_buffer_then_save_reindexes_the_file(project: Path):
    client = await start(project, {"dense": False, "reindexDelay": 0.1})
    try:
        await symbols(client, "make_store")
        app = project / "pkg" / "app.py"
        text = app.read_text() + "\n\ndef helper_added():\n    return make_store()\n"
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri(project, "pkg/app.py"), language_id="python", version=1, text=text)))
        # Unsaved: the new call on line 20 resolves through the buffer's own scopes.
        got = await client.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(project, "pkg/app.py")), position=types.Position(line=20, character=14)))
        assert [(g.uri, g.range.start.line, g.range.start.character) for g in got] == [(uri(project, "pkg/app.py"), 5, 4)]
        assert await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="helper_added")) == []
        app.write_text(text)
        client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri(project, "pkg/app.py"))))
        got = await symbols(client, "helper_added", timeout=30)
        assert [(s.name, s.container_name, s.location.range.start.line) for s in got] == [("helper_added", "pkg.app", 19)]
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_bad_options_are_reported_and_defaults_used(project: Path):
    client = await start(project, {"dense": "yes", "colour": 1, "autoIndex": False})
    try:
        await asyncio.sleep(0.5)
        texts = [m.message for m in client.messages]
        assert "graphmer: initialization option 'dense' has a bad value 'yes': using the default" in texts
        assert "graphmer: unknown initialization option 'colour' ignored" in texts
        # autoIndex false and no index: features answer empty, the search command says why
        assert await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="App")) is None
        with pytest.raises(Exception, match="no graphmer index"):
            await client.workspace_execute_command_async(types.ExecuteCommandParams(command="graphmer.search", arguments=["x"]))
        done = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="graphmer.reindex"))
        assert (done["files"], done["parsed"]) == (3, 3)
        assert [s.name for s in await symbols(client, "App")] == ["App", "app"]  # the class, then the module
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_dense_search_with_the_default_model(project: Path):
    client = await start(project, {})  # dense on, the shipped model
    try:
        await symbols(client, "make_store", timeout=180)
        hits = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="graphmer.search", arguments=["persist a record and flush the file", {"limit": 3, "mode": "dense"}]))
        assert [h["qualname"] for h in hits][:1] == ["pkg.store.FileStore.save"]
        assert hits[0]["range"] == {"start": {"line": 23, "character": 8}, "end": {"line": 23, "character": 12}}
    finally:
        await client.shutdown_session()
        await client.stop()


def test_lsp_cli_rejects_a_bad_tcp_address():
    from click.testing import CliRunner

    from graphmer.cli.main import cli

    res = CliRunner().invoke(cli, ["lsp", "--tcp", "localhost"])
    assert res.exit_code == 2
    assert "'localhost' is not HOST:PORT" in res.output


def test_bench_symbols_runs_a_real_server(project: Path):
    from graphmer.index.indexer import build_index
    from graphmer.bench.symbols import bench_symbols

    build_index(project)
    res = bench_symbols(project, n=8, seed=1)
    assert res.queries == 8 and res.symbols == 14
    assert res.by_shape["name"]["found"] == res.by_shape["name"]["queries"] == 2
    assert set(res.latency_ms) == {"mean", "p50", "p95", "max"}


@pytest.mark.asyncio
async def test_open_buffer_wins_over_disk_in_a_folder_with_a_space(tmp_path):
    root = tmp_path / "my proj"
    shutil.copytree(DATA, root)
    client = await start(root, {"dense": False})
    try:
        await symbols(client, "make_store")
        text = "\n" + (root / "pkg" / "app.py").read_text()  # every line one lower than on disk
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri(root, "pkg/app.py"), language_id="python", version=1, text=text)))
        got = await client.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(root, "pkg/app.py")), position=types.Position(line=13, character=14)))
        assert "my%20proj" in got[0].uri
        assert [(g.range.start.line, g.range.start.character) for g in got] == [(6, 4)]  # the buffer's line, not the disk's 5
    finally:
        await client.shutdown_session()
        await client.stop()
