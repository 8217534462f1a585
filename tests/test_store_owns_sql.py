"""The store owns its SQL: no module under graphmer/ outside graphmer/index/store*.py reaches
for a store's connection or writes an SQL statement; it calls a named Store method instead
(graphmer/index/store.py and the store_<topic>.py modules beside it)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "graphmer"
# The store's own modules: store.py and its store_<topic>.py parts (store_completion.py among them).
STORE_MODULES = re.compile(r"graphmer/index/store(_[a-z_]+)?\.py")
CONNECTION_ATTRS = {"conn", "db"}  # Store.conn (sqlite3) and Store.db (sqlite-utils)
QUERY_CALLS = {"execute", "executemany", "executescript", "cursor"}
SQL = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b|\bCREATE\s+(?:TABLE|INDEX|VIRTUAL)\b|\bPRAGMA\s+\w")


def sql_uses(source: str) -> list[str]:
    """'line: what' for each use of a connection, query call or SQL text in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in CONNECTION_ATTRS:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERY_CALLS:
            found.append(f"{node.lineno}: .{node.func.attr}(...)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"{node.lineno}: SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.JoinedStr):  # an f-string: its literal parts, the fields as "{}"
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            if SQL.search(text):
                found.append(f"{node.lineno}: SQL text {text[:40]!r}")
    return found


def _modules() -> list[str]:
    root = PACKAGE.parent
    paths = sorted(p.relative_to(root).as_posix() for p in PACKAGE.rglob("*.py"))
    return [p for p in paths if not STORE_MODULES.fullmatch(p)]


def test_the_scan_sees_every_way_in():
    assert set(sql_uses("store.conn.execute('SELECT path FROM files ORDER BY id')")) == {
        "1: .execute(...)", "1: .conn", "1: SQL text 'SELECT path FROM files ORDER BY id'"}
    assert set(sql_uses("c = self.store.conn\nrows = c.execute(q)")) == {"1: .conn", "2: .execute(...)"}
    assert set(sql_uses("store.db.execute(q)")) == {"1: .execute(...)", "1: .db"}
    assert sql_uses("q = f'SELECT {cols} FROM symbols s WHERE {where}'") != []
    assert sql_uses("ids = store.symbol_ids_of_kinds(('function',))\npaths = store.file_paths()") == []
    assert sql_uses('"""Select the best candidates from the list."""') == []  # prose is not SQL


def test_store_modules_are_the_ones_exempt():
    exempt = sorted(p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE.parent).as_posix() not in _modules())
    assert "graphmer/index/store.py" in exempt
    assert all(p.startswith("graphmer/index/store") for p in exempt), exempt
    assert STORE_MODULES.fullmatch("graphmer/index/store_completion.py")
    assert not STORE_MODULES.fullmatch("graphmer/index/search.py")
    assert not STORE_MODULES.fullmatch("graphmer/model/store.py")


@pytest.mark.parametrize("module", _modules())
def test_no_sql_outside_the_store(module):
    uses = sql_uses((PACKAGE.parent / module).read_text(encoding="utf-8"))
    assert not uses, f"{module} runs SQL itself; give the store a named method for it: {uses}"
