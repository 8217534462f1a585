"""Shared fixtures: small repositories written into tmp_path."""
from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write {relative path: text or bytes} under root; returns root."""
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(textwrap.dedent(content).lstrip("\n"))
    return root


def as_older_index(index_dir: Path, version: int, migration: str, *undo: str) -> None:
    """Make an index look as graphmer with index format `version` left it: run the SQL in
    `undo`, forget that `migration` ran, write the old version into meta.json."""
    conn = sqlite3.connect(index_dir / "index.db")
    for sql in undo:
        conn.execute(sql)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", (migration,))
    conn.commit()
    conn.close()
    meta = index_dir / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "version": version}))


@pytest.fixture(autouse=True)
def _no_repo_env(monkeypatch):
    """Tests never pick up an index from the environment."""
    monkeypatch.delenv("GRAPHMER_REPO", raising=False)


SAMPLE_PROJECT = {
    "app/__init__.py": '''
        """The app package."""
        from .store import Store as Store
    ''',
    "app/base.py": '''
        class Base:
            """Persistence base class."""

            def save(self):
                """Write the object to disk."""
                return self.serialize()

            def serialize(self):
                return "{}"
    ''',
    "app/store.py": '''
        import json as js
        import requests
        from .base import Base
        from . import base as b


        class StoreError(Exception):
            pass


        class Store(Base):
            """A key-value store backed by a JSON file."""

            def save(self):
                """Save the store, then push it."""
                super().save()
                self.serialize()
                requests.post("http://x", data=js.dumps({}))
                raise StoreError("read only")

            def reload(self):
                return b.Base()
    ''',
    "app/cli.py": '''
        from app import Store
        from app.store import Store as S


        def main():
            """Parse the config file and run the app."""
            s = Store()
            S().reload()
            helper()
            undefined_function()


        def helper():
            pass
    ''',
}


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "repo", SAMPLE_PROJECT)
