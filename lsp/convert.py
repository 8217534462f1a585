"""Conversions between graphmer's positions and LSP's.

graphmer (index/navigate.py): 0-based lines, columns in code points; the store: 1-based
lines. LSP: 0-based lines, columns in the negotiated encoding (UTF-16 unless the client
chose otherwise); every conversion goes through pygls's PositionCodec.
"""
from __future__ import annotations

import os
from functools import lru_cache
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import PositionCodec
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from index.navigate import Site

SYMBOL_KINDS = {
    "module": types.SymbolKind.Module,
    "class": types.SymbolKind.Class,
    "interface": types.SymbolKind.Interface,
    "struct": types.SymbolKind.Struct,
    "trait": types.SymbolKind.Interface,
    "enum": types.SymbolKind.Enum,
    "function": types.SymbolKind.Function,
    "method": types.SymbolKind.Method,
}
COMPLETION_KINDS = {
    "module": types.CompletionItemKind.Module,
    "class": types.CompletionItemKind.Class,
    "interface": types.CompletionItemKind.Interface,
    "struct": types.CompletionItemKind.Struct,
    "enum": types.CompletionItemKind.Enum,
    "function": types.CompletionItemKind.Function,
    "method": types.CompletionItemKind.Method,
    "attribute": types.CompletionItemKind.Field,
    "property": types.CompletionItemKind.Property,
    "variable": types.CompletionItemKind.Variable,
    "parameter": types.CompletionItemKind.Variable,
    "keyword": types.CompletionItemKind.Keyword,
}


def symbol_kind(kind: str) -> types.SymbolKind:
    """The LSP symbol kind of a graphmer symbol kind (Variable for anything else)."""
    return SYMBOL_KINDS.get(kind, types.SymbolKind.Variable)


def completion_kind(kind: str) -> types.CompletionItemKind:
    """The LSP completion kind of a graphmer item kind (Text for anything else)."""
    return COMPLETION_KINDS.get(kind, types.CompletionItemKind.Text)


@lru_cache(maxsize=65536)
def uri_of(root: Path, path: str) -> str:
    """The file URI of a path relative to the indexed root."""
    return from_fs_path(str(root / PurePosixPath(path)))


def path_of(root: Path, uri: str) -> str | None:
    """The root-relative path (forward slashes) of a file URI, or None outside the root."""
    fs = to_fs_path(uri)
    if not fs:
        return None
    try:
        rel = Path(os.path.abspath(fs)).relative_to(root)
    except ValueError:
        return None
    return rel.as_posix()


def server_position(codec: PositionCodec, lines: Sequence[str], position: types.Position) -> tuple[int, int]:
    """A client position as (0-based line, code-point column)."""
    p = codec.position_from_client_units(lines, types.Position(line=position.line, character=position.character))
    return p.line, p.character


def client_range(codec: PositionCodec, lines: Sequence[str], line: int, start: int, end_line: int, end: int) -> types.Range:
    """A code-point range (0-based lines) in the client's units."""
    r = ServerTextRange(start=ServerTextPosition(line, start), end=ServerTextPosition(end_line, end))
    if not lines or line >= len(lines):  # no text (a file gone since indexing): columns as they are
        return types.Range(start=types.Position(line=line, character=start), end=types.Position(line=end_line, character=end))
    return codec.range_to_client_units(lines, r)


def site_range(codec: PositionCodec, lines: Sequence[str], site: Site) -> types.Range:
    """The client range of a one-line site."""
    return client_range(codec, lines, site.line, site.start, site.line, site.end)
