"""`graphmer corpus build`: the search model's training corpus from a lock file.

    OUT/downloads/   the locked files (kept between runs; sha256 checked)
    OUT/src/NAME-VERSION/      their .py files, test and vendored folders left out
    OUT/code/NAME-VERSION/     the same files with docstrings and query comments removed
    OUT/code/python-stdlib-X.Y/  the standard library's, likewise (with stdlib=True)
    OUT/pairs.jsonl  one PairRecord per line
    OUT/index/NAME-VERSION.graphmer/  indexes of the code folders, made by the first training run
    OUT/manifest.json  per package: version, licence, file and sha256, files, functions,
                     pairs by source, what was dropped and why

The standard library comes first, then the packages by name; a function whose body
duplicates one met before, or one of an excluded package importable here, gives no pair.
A package with more than `max_per_package` pairs keeps a fixed sample of them, so that no
one package dominates. `graphmer train-retrieval --corpus OUT` trains on the result.
"""
from __future__ import annotations

import hashlib
import json
import platform
import sysconfig
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from graphmer.model.corpus_dedup import MIN_NEAR_TOKENS, Deduper, excluded_sources, function_bodies, tokens
from graphmer.model.corpus_fetch import download, left_out, sha256_of, unpack
from graphmer.model.corpus_lock import CorpusError, LockEntry, excluded_names, read_lock, write_atomic
from graphmer.model.corpus_pairs import PairRecord, extract_tree

MANIFEST_FORMAT = "graphmer-corpus"
MANIFEST_VERSION = 1
PAIRS_FILE = "pairs.jsonl"
MANIFEST_FILE = "manifest.json"
STDLIB_LICENCE = "PSF-2.0"


def stdlib_folder() -> str:
    return "python-stdlib-" + ".".join(platform.python_version_tuple()[:2])


def _stdlib_skip(rel: str) -> bool:
    first = rel.split("/", 1)[0]
    return first in ("site-packages", "dist-packages") or left_out(PurePosixPath(rel)) is not None


def _sample(pairs: list[PairRecord], cap: int) -> list[PairRecord]:
    """At most `cap` pairs, chosen by a hash of where they are (the same ones on every run)."""
    if not cap or len(pairs) <= cap:
        return pairs
    key = lambda p: hashlib.sha1(f"{p.path}:{p.def_line}".encode()).hexdigest()  # noqa: E731
    chosen = set(map(id, sorted(pairs, key=key)[:cap]))
    return [p for p in pairs if id(p) in chosen]


def _copies_excluded(deduper: Deduper, bodies: list[str]) -> bool:
    """Whether one of a file's functions (20+ tokens) is, whitespace aside, a function of an excluded package."""
    return any((d := deduper.check(b, near=False)) and d[1].startswith("excluded:") and len(tokens(b)) >= MIN_NEAR_TOKENS
               for b in bodies)


def _dedup_package(result, deduper: Deduper, folder: str, code_root: Path) -> tuple[list[PairRecord], Counter, list[str]]:
    """(pairs whose bodies are new, dropped pairs by reason, files removed): a file that copies
    an excluded package's function is removed from the code folder, its pairs with it."""
    dropped: Counter = Counter()
    removed: list[str] = []
    by_file: dict[str, list[PairRecord]] = {}
    for p in result.pairs:
        by_file.setdefault(p.path, []).append(p)
    functions_of: dict[str, list[str]] = {}
    for (path, _), body in result.bodies.items():
        functions_of.setdefault(path, []).append(body)
    kept = []
    for path, bodies in sorted(functions_of.items()):
        pairs = by_file.get(path, [])
        if _copies_excluded(deduper, bodies):
            if pairs:
                dropped["file copies an excluded package"] += len(pairs)
            removed.append(path)
            (code_root / path).unlink(missing_ok=True)
            continue
        for p in pairs:
            dup = deduper.check_add(result.bodies[(p.path, p.def_line)], f"{folder}/{p.path}:{p.def_line}")
            if dup is None:
                kept.append(p)
            else:
                dropped["matches an excluded package" if dup[1].startswith("excluded:") else f"{dup[0]} duplicate"] += 1
    return kept, dropped, removed


def build_corpus(lock: Path, out: Path, *, stdlib: bool = True, comments: bool = True, max_per_package: int = 6000,
                 on_event: Callable[[str], None] | None = None) -> dict:
    """Build the corpus at `out` from the lock file; returns the manifest (also written to out/manifest.json)."""
    t0 = time.perf_counter()
    say = on_event or (lambda _m: None)
    entries, lock_python = read_lock(lock)
    out.mkdir(parents=True, exist_ok=True)
    files = download(entries, out / "downloads", say)
    deduper = Deduper()
    excluded = excluded_sources(excluded_names())
    for name, where in excluded.items():
        for body in function_bodies(where):
            deduper.add(body, f"excluded:{name}")
    say(f"matching against {len(excluded)} excluded packages found here: {', '.join(excluded) or 'none'}")
    sources: list[tuple[str, Path, LockEntry | None, dict]] = []
    if stdlib:
        sources.append((stdlib_folder(), Path(sysconfig.get_paths()["stdlib"]), None, {}))
    for e in sorted(entries, key=lambda e: e.folder):
        counts = unpack(files[e.name], out / "src" / e.folder)
        sources.append((e.folder, out / "src" / e.folder, e, counts))
    all_pairs: list[PairRecord] = []
    packages = []
    for i, (folder, src, entry, counts) in enumerate(sources, 1):
        code = out / "code" / folder
        result = extract_tree(src, code, folder, comments=comments, skip=_stdlib_skip if entry is None else None)
        kept, dropped, removed = _dedup_package(result, deduper, folder, code)
        sampled = _sample(kept, max_per_package)
        if len(sampled) < len(kept):
            dropped["over the per-package cap"] = len(kept) - len(sampled)
        all_pairs += sampled
        by_source = Counter(p.source for p in sampled)
        packages.append({
            "folder": folder,
            "name": entry.name if entry else "python-stdlib",
            "version": entry.version if entry else platform.python_version(),
            "licence": entry.licence if entry else STDLIB_LICENCE,
            "file": entry.filename if entry else "", "sha256": entry.sha256 if entry else "",
            "files": result.files, "unparsed_files": result.unparsed, "functions": result.functions,
            "pairs": len(sampled), "pairs_docstring": by_source["docstring"], "pairs_comment": by_source["comment"],
            "dropped": dict(dropped), "left_out_files": {k: v for k, v in counts.items() if k != "kept"},
            "removed_files": removed,
        })
        say(f"[{i}/{len(sources)}] {folder}: {len(sampled)} pairs ({result.files} files, {sum(dropped.values())} dropped)")
    write_atomic(out / PAIRS_FILE, "".join(json.dumps(asdict(p)) + "\n" for p in all_pairs))
    manifest = {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "lock": str(lock), "lock_sha256": sha256_of(Path(lock)),
        "lock_python": lock_python, "python": platform.python_version(), "stdlib": stdlib, "comments": comments,
        "max_per_package": max_per_package, "excluded_matched": sorted(excluded),
        "pairs": len(all_pairs), "packages_count": len(packages),
        "pairs_docstring": sum(p["pairs_docstring"] for p in packages),
        "pairs_comment": sum(p["pairs_comment"] for p in packages),
        "seconds": round(time.perf_counter() - t0, 1), "packages": packages,
    }
    write_atomic(out / MANIFEST_FILE, json.dumps(manifest, indent=1) + "\n")
    return manifest


def read_corpus(folder: Path) -> tuple[dict, list[PairRecord]]:
    """(manifest, pairs) of a built corpus; CorpusError when `folder` is not one."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}")
        with (folder / PAIRS_FILE).open(encoding="utf-8") as f:
            pairs = [PairRecord(**json.loads(line)) for line in f if line.strip()]
    except FileNotFoundError as exc:
        raise CorpusError(f"{folder}: not a built corpus (no {Path(exc.filename).name}); run `graphmer corpus build`") from None
    except (ValueError, TypeError) as exc:
        raise CorpusError(f"{folder}: not a graphmer corpus ({exc}); rebuild it with `graphmer corpus build`") from None
    return manifest, pairs
