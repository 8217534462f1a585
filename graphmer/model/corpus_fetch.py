"""Fetch and unpack the locked corpus packages: `pip download` of pinned files, sha256 checked.

Only `.py` files are unpacked, and never those under a test or vendored folder (the
exclusion rules: `_vendor`, `vendor`, `vendored`, `_vendored`, `extern` and test folders),
nor members whose path would leave the destination, nor links.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from graphmer.model.corpus_lock import CorpusError, LockEntry

VENDORED_DIRS = frozenset({"_vendor", "vendor", "vendored", "_vendored", "extern", "third_party", "_extern"})
TEST_DIRS = frozenset({"test", "tests", "testing", "idle_test", "unittests", "__pycache__"})


def left_out(rel: PurePosixPath) -> str | None:
    """Why a file of a package is not training material ('vendored', 'test'), or None."""
    folders = [p.lower() for p in rel.parts[:-1]]
    if any(p in VENDORED_DIRS for p in folders):
        return "vendored"
    name = rel.name
    if any(p in TEST_DIRS for p in folders) or name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
        return "test"
    if any(p.startswith(".") for p in rel.parts):
        return "hidden"
    return None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(entries: list[LockEntry], dest: Path, on_event: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Each entry's file in `dest` (kept from an earlier run when its sha256 matches), by entry name.

    Missing files come in one `pip download --no-deps --require-hashes` call (the code is read,
    never installed, so a package's Requires-Python does not matter), so pip's own
    index settings, proxies and certificates apply and only the locked bytes are accepted.
    """
    dest.mkdir(parents=True, exist_ok=True)
    have, need = {}, []
    for e in entries:
        f = dest / e.filename
        if f.exists() and sha256_of(f) == e.sha256:
            have[e.name] = f
        else:
            need.append(e)
    if need:
        if on_event:
            on_event(f"downloading {len(need)} packages with pip")
        with tempfile.TemporaryDirectory() as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text("".join(f"{e.name}=={e.version} --hash=sha256:{e.sha256}\n" for e in need), encoding="utf-8")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--ignore-requires-python", "--no-build-isolation",
                   "--disable-pip-version-check", "-q", "-d", str(dest), "-r", str(req)]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode:
                tail = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise CorpusError(f"pip download failed: {tail}; check the network, or the lock file's hashes")
    for e in need:
        f = dest / e.filename
        if not f.exists() or sha256_of(f) != e.sha256:
            raise CorpusError(f"{e.filename}: missing or its sha256 differs from the lock's after download")
        have[e.name] = f
    return have


def _members(archive: Path):
    """(posix path inside the archive, reader) of the archive's regular files."""
    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir() and not (info.external_attr >> 16) & 0o120000 == 0o120000:
                    yield info.filename, (lambda i=info: z.read(i))
    elif name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar")):
        with tarfile.open(archive) as t:
            for m in t:
                if m.isreg():
                    yield m.name, (lambda m=m: t.extractfile(m).read())
    else:
        raise CorpusError(f"{archive.name}: not a wheel, zip or tar archive")


def unpack(archive: Path, dest: Path) -> dict[str, int]:
    """The archive's training .py files under `dest` (replaced), with counts of what was left out and why.

    An sdist's single top folder (`name-1.0/`) is dropped, so paths read as import paths
    (or `src/...`); `.dist-info`/`.egg-info` folders and setup scripts are not code to learn from.
    """
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts: dict[str, int] = {"kept": 0}
    sdist = not archive.name.endswith(".whl")
    for raw, read in _members(archive):
        parts = PurePosixPath(raw).parts
        if sdist and len(parts) > 1:
            parts = parts[1:]
        rel = PurePosixPath(*parts) if parts else None
        if rel is None or not rel.name.endswith(".py"):
            continue
        if rel.is_absolute() or ".." in rel.parts:
            counts["unsafe path"] = counts.get("unsafe path", 0) + 1
            continue
        if any(p.endswith((".dist-info", ".egg-info", ".data")) for p in rel.parts) or rel.as_posix() in ("setup.py", "conftest.py"):
            continue
        if sdist and rel.parts[0] in ("docs", "doc", "examples", "benchmarks", "asv_bench", "ci", "tools", "scripts"):
            counts["not package code"] = counts.get("not package code", 0) + 1
            continue
        why = left_out(rel)
        if why:
            counts[why] = counts.get(why, 0) + 1
            continue
        out = tmp / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(read())
        counts["kept"] += 1
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return counts
