"""The writers' lock of an index folder: one `graphmer index` (or language-server re-index) at a time.

Readers never take it: SQLite's WAL lets them read the last committed state while a writer
works. Writers hold an exclusive `flock` on `<index dir>/lock` for their whole run, so two
of them never interleave migrations, file batches and the edge rebuild (two runs at once
used to fail with "table files already exists" on a new index). The lock file holds the
holder's pid, for the message a waiting writer shows. The kernel drops a flock when its
holder dies, so a killed run (kill -9) never leaves the index locked.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

LOCK_NAME = "lock"


class LockStopped(Exception):
    """The wait for the lock was given up because `stop()` said so."""


class IndexLock:
    """`with IndexLock(dir, on_wait=..., stop=...):` holds the writers' lock of `dir`.

    on_wait(pid) is called once, with the holder's pid (None when unknown), if the lock is
    taken; the wait then polls every `poll` seconds, and raises LockStopped when stop() is true.
    """

    def __init__(self, index_dir: str | os.PathLike, on_wait: Callable[[int | None], None] | None = None,
                 stop: Callable[[], bool] | None = None, poll: float = 0.1) -> None:
        self.path = Path(index_dir) / LOCK_NAME
        self.on_wait = on_wait
        self.stop = stop
        self.poll = poll
        self._fd: int | None = None

    def __enter__(self) -> "IndexLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            told = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    pass
                if not told:
                    told = True
                    if self.on_wait is not None:
                        self.on_wait(holder_pid(self.path))
                if self.stop is not None and self.stop():
                    raise LockStopped(f"stopped while waiting for the index lock {self.path}")
                time.sleep(self.poll)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)  # no stale pid for the next waiter to show
            os.close(fd)  # closing drops the flock


def holder_pid(path: Path) -> int | None:
    """The pid written in a lock file (None when empty or unreadable)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def another_writer(index_dir: str | os.PathLike) -> bool:
    """Whether another live process holds the writers' lock of index_dir (its pid is in the
    lock file; a holder killed with its lock held has lost it, and its pid is not alive)."""
    pid = holder_pid(Path(index_dir) / LOCK_NAME)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
