"""The training corpus's lock file: which PyPI packages, at which versions, under which licences.

A lock (JSON, `corpus.lock` at the repository root) pins each package to one version and
one file (a pure-Python wheel where PyPI has one, else the sdist) with its sha256, so that
`graphmer corpus build` fetches exactly the same bytes on any machine. `graphmer corpus
lock` writes it from a list of names, asking PyPI's JSON API; nothing else here touches
the network.

Two rules are enforced on every read and write: no package of the exclusion list
(excluded_packages.txt: the benchmark and development packages and those that vendor or
copy them; matched by distribution name, '-', '_' and '.' alike, case-insensitive), and
no licence outside PERMISSIVE.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

LOCK_FORMAT = "graphmer-corpus-lock"
LOCK_VERSION = 1
EXCLUDED_FILE = Path(__file__).with_name("excluded_packages.txt")
PYPI_JSON = "https://pypi.org/pypi/{name}/json"
PYPI_VERSION_JSON = "https://pypi.org/pypi/{name}/{version}/json"

# SPDX identifiers a package's code may be trained on and its pairs redistributed under.
PERMISSIVE = frozenset({
    "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "ISC", "PSF-2.0", "Unlicense", "0BSD",
    "ZPL-2.1", "Zlib", "CC0-1.0", "BSD-2-Clause OR Apache-2.0", "Apache-2.0 OR BSD-3-Clause",
    "MIT OR Apache-2.0", "Apache-2.0 OR MIT", "BSD-3-Clause OR Apache-2.0",
})
# Trove classifiers and free-text licence fields, mapped to SPDX.
_CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: BSD License": "BSD-3-Clause",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Zope Public License": "ZPL-2.1",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}
_TEXT = {"mit": "MIT", "mit license": "MIT", "bsd": "BSD-3-Clause", "bsd license": "BSD-3-Clause",
         "bsd-3-clause": "BSD-3-Clause", "new bsd": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause",
         "bsd-2-clause": "BSD-2-Clause", "apache 2.0": "Apache-2.0", "apache-2.0": "Apache-2.0",
         "apache license 2.0": "Apache-2.0", "apache license, version 2.0": "Apache-2.0", "isc": "ISC",
         "isc license": "ISC", "psf": "PSF-2.0", "zpl 2.1": "ZPL-2.1"}


class CorpusError(Exception):
    """A corpus that cannot be locked or built as asked; the message says what to do."""


@dataclass(frozen=True)
class LockEntry:
    name: str  # the distribution name as PyPI spells it
    version: str
    licence: str  # SPDX
    filename: str
    sha256: str

    @property
    def folder(self) -> str:
        """The package's folder name in a built corpus: name-version."""
        return f"{normalize(self.name)}-{self.version}"


def normalize(name: str) -> str:
    """PEP 503 normalisation: 'Sqlite_Utils' -> 'sqlite-utils'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def excluded_names(path: Path = EXCLUDED_FILE) -> frozenset[str]:
    """The normalised names nothing may be trained on."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(normalize(line) for line in lines if line)


def refuse_excluded(names: Iterable[str], excluded: frozenset[str] | None = None) -> None:
    """CorpusError naming every excluded package among `names`."""
    excluded = excluded_names() if excluded is None else excluded
    bad = sorted({n for n in names if normalize(n) in excluded})
    if bad:
        raise CorpusError(
            f"refusing {', '.join(bad)}: on the exclusion list ({EXCLUDED_FILE.name}: benchmark and development "
            "packages, and packages that vendor or copy them); remove them from the corpus list")


def spdx_licence(info: dict) -> str | None:
    """The SPDX licence of a PyPI `info` record: license_expression, the classifiers, then the free text."""
    expr = (info.get("license_expression") or "").strip()
    if expr:
        return expr
    found = {_CLASSIFIERS[c] for c in info.get("classifiers") or () if c in _CLASSIFIERS}
    if len(found) == 1:
        return found.pop()
    if len(found) > 1:
        return " OR ".join(sorted(found))
    text = (info.get("license") or "").strip().lower()
    return _TEXT.get(text)


def _pick_file(urls: list[dict]) -> dict:
    """A pure-Python wheel if there is one (same bytes on every platform), else the sdist."""
    wheels = [u for u in urls if u["packagetype"] == "bdist_wheel" and u["filename"].endswith("-none-any.whl")]
    sdists = [u for u in urls if u["packagetype"] == "sdist"]
    if wheels:
        return wheels[0]
    if sdists:
        return sdists[0]
    raise CorpusError("no pure-Python wheel and no sdist on PyPI")


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 (a fixed https address)
        return json.load(r)


def resolve(spec: str, licence: str | None = None, get_json: Callable[[str], dict] = _get_json) -> LockEntry:
    """`name` or `name==version` -> a LockEntry from PyPI's JSON API (the newest version when unpinned)."""
    name, _, version = spec.partition("==")
    name, version = name.strip(), version.strip()
    refuse_excluded([name])
    url = PYPI_VERSION_JSON.format(name=name, version=version) if version else PYPI_JSON.format(name=name)
    try:
        data = get_json(url)
    except OSError as exc:
        raise CorpusError(f"{spec}: PyPI did not answer ({exc}); check the name and the network") from exc
    info = data["info"]
    found = licence or spdx_licence(info)
    if found not in PERMISSIVE:
        raise CorpusError(f"{spec}: licence {found or 'unknown'!s} is not in the permissive list; "
                          "leave the package out, or give `name licence=SPDX` if PyPI's metadata is wrong")
    try:
        f = _pick_file(data["urls"])
    except CorpusError as exc:
        raise CorpusError(f"{spec}: {exc}") from None
    return LockEntry(info["name"], info["version"], found, f["filename"], f["digests"]["sha256"])


def read_list(path: Path) -> list[tuple[str, str | None]]:
    """A corpus list: one `name[==version] [licence=SPDX]` per line, '#' comments."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        extra = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if set(extra) - {"licence"} or len(extra) != len(words) - 1:
            raise CorpusError(f"{path}:{n}: expected `name[==version] [licence=SPDX]`, got {line.strip()!r}")
        out.append((words[0], extra.get("licence")))
    return out


def write_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary file in its folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_lock(path: Path, entries: list[LockEntry], python: str) -> None:
    """Write the lock atomically, packages sorted by name."""
    refuse_excluded(e.name for e in entries)
    body = {"format": LOCK_FORMAT, "version": LOCK_VERSION, "python": python,
            "packages": [asdict(e) for e in sorted(entries, key=lambda e: normalize(e.name))]}
    write_atomic(path, json.dumps(body, indent=1) + "\n")


def read_lock(path: Path) -> tuple[list[LockEntry], str]:
    """(entries, python version of its standard library) of a lock file; CorpusError if it is not one."""
    path = Path(path)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such lock file; write one with `graphmer corpus lock`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not a corpus lock file ({exc})") from None
    if not isinstance(body, dict) or body.get("format") != LOCK_FORMAT:
        raise CorpusError(f"{path}: not a graphmer corpus lock file (format {body.get('format') if isinstance(body, dict) else None!r})")
    if int(body.get("version", 0)) > LOCK_VERSION:
        raise CorpusError(f"{path}: lock version {body['version']} is newer than this graphmer's ({LOCK_VERSION}); upgrade graphmer")
    try:
        entries = [LockEntry(**p) for p in body["packages"]]
    except (KeyError, TypeError) as exc:
        raise CorpusError(f"{path}: a package entry is malformed ({exc})") from None
    refuse_excluded(e.name for e in entries)
    bad = [f"{e.name} ({e.licence})" for e in entries if e.licence not in PERMISSIVE]
    if bad:
        raise CorpusError(f"{path}: licences outside the permissive list: {', '.join(bad)}")
    return entries, str(body.get("python", ""))
