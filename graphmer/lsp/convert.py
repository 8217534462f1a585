"""Conversions between graphmer's positions and LSP's, and of JSON params into LSP types.

graphmer (graphmer/index/navigate.py): 0-based lines, columns in code points; the store: 1-based
lines. LSP: 0-based lines, columns in the negotiated encoding (UTF-16 unless the client
chose otherwise); every conversion goes through pygls's PositionCodec.
"""
from __future__ import annotations

import os
from functools import lru_cache
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from cattrs.cols import homogenous_tuple_structure_factory, is_mutable_sequence, is_sequence, list_structure_factory
from cattrs.errors import ClassValidationError
from cattrs.v import format_exception, transform_error
from lsprotocol import types
from pygls.protocol import default_converter
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import PositionCodec
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from graphmer.index.navigate import Site

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


def strict_converter():
    """pygls's converter, except that a string field takes only a string and an array field
    only an array (cattrs would make "42" of 42 and ("query",) of {"query": ...}), so that
    such params get an invalid-params error instead of a quiet wrong answer."""
    conv = default_converter()

    def string(value, _type):
        if not isinstance(value, str):
            raise TypeError(f"expected a string, not {type(value).__name__}")
        return value

    def arrays_only(factory):
        def make(type_, converter):
            inner = factory(type_, converter)

            def structure(value, cl):
                if not isinstance(value, (list, tuple)):
                    raise TypeError(f"expected an array, not {type(value).__name__}")
                return inner(value, cl)
            return structure
        return make

    conv.register_structure_hook(str, string)
    conv.register_structure_hook_factory(is_sequence, arrays_only(homogenous_tuple_structure_factory))
    conv.register_structure_hook_factory(is_mutable_sequence, arrays_only(list_structure_factory))
    return conv


def params_problem(exc: ClassValidationError) -> str:
    """What is wrong with a message's params, e.g. "expected a string, not int at params.query"."""
    def one(e: BaseException, typ) -> str:
        return str(e) if isinstance(e, TypeError) and str(e).startswith("expected ") else format_exception(e, typ)
    return "; ".join(m.replace(" @ .", " at ") for m in transform_error(exc, path="", format_exception=one))
