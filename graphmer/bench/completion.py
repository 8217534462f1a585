"""Completion benchmark: member-access sites of a Python package, graphmer beside jedi.

Sites (graphmer/model/complete_sites.py) are `obj.attr` in load context (attribute name of 3+ characters, not a dunder, the
receiver ending on the attribute's line) in a copy of the package, indexed as a whole. At
each site the rest of the line is deleted from the cursor, and completions are asked with
an empty and with a one-character prefix; the attribute's rank in the answer gives top-1,
top-5, MRR@10 and coverage (found anywhere in the answer: graphmer's whole answer, at most 1,000 items,
jedi's whole list). Every site also checks the leakage rule: the usage counts graphmer
ranks by must not include the deleted occurrence.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from graphmer.bench.search import mrr, nearest_rank, recall_at
from graphmer.complete.buffer import Buffer
from graphmer.complete.cursor import cursor_text
from graphmer.complete.pipeline import Completer
from graphmer.complete.rank import RankWeights, Scorer
from graphmer.index import languages, store_completion
from graphmer.index.pynames import attr_use_counts
from graphmer.index.store import INDEX_DIRNAME, Store
from graphmer.model.complete_sites import PREFIXES, Progress, Site, cut_buffer, indexed_sample


class BenchError(Exception):
    """The benchmark cannot run on this input (no sites, no package)."""


@dataclass(frozen=True, slots=True)
class Scores:
    system: str
    prefix_len: int
    top1: float
    top5: float
    mrr10: float
    coverage: float
    mean_ms: float
    p95_ms: float
    sites: int

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in
                zip(self.__slots__, (getattr(self, s) for s in self.__slots__))}


@dataclass(frozen=True, slots=True)
class CompletionBenchResult:
    package: str
    files: int
    candidate_sites: int
    seed: int
    sites: list[Site]
    scores: list[Scores]
    leak_checks: int  # sites whose usage counts were checked to exclude the deleted occurrence
    index_s: float
    ranks: dict[str, list[int]] = field(default_factory=dict)  # "system/prefix" -> rank per site (0: absent)

    def to_json(self) -> dict:
        return {
            "package": self.package,
            "files": self.files,
            "candidate_sites": self.candidate_sites,
            "sites": len(self.sites),
            "seed": self.seed,
            "leak_checks": self.leak_checks,
            "index_s": round(self.index_s, 3),
            "scores": [s.to_json() for s in self.scores],
            "ranks": self.ranks,
        }


def _rank(labels: list[str], name: str) -> int:
    try:
        return labels.index(name) + 1
    except ValueError:
        return 0


def _scores(system: str, k: int, ranks: list[int], times: list[float]) -> Scores:
    n = len(ranks)
    ms = [t * 1000 for t in times]
    return Scores(system, k, recall_at(ranks, 1), recall_at(ranks, 5), mrr(ranks, 10), sum(r > 0 for r in ranks) / n,
                  statistics.fmean(ms) if ms else 0.0, nearest_rank(ms, 0.95), n)


def check_leakage(completer: Completer, totals: Counter, original: str, site: Site, buffer: str, column: int) -> None:
    """Raise BenchError unless the counts graphmer ranks by exclude the deleted occurrence."""
    key = (site.receiver, site.name)
    orig = attr_use_counts(languages.parser("python").parse(original.encode()).root_node)[key]
    ct = cursor_text(buffer.split("\n")[site.line][:column])
    in_buf = Buffer(buffer, site.line, column, ct.prefix).use_counts()[key]
    used = completer.attribute_uses(site.path, buffer, site.line, column)[key]
    if in_buf >= orig or used != totals[key] - orig + in_buf:
        raise BenchError(
            f"leakage at {site.path}:{site.line + 1}: {site.receiver}.{site.name} counted {used} times, expected "
            f"{totals[key] - orig + in_buf} (index {totals[key]}, file {orig}, buffer {in_buf})"
        )


def run_completion_bench(package: Path, sites: int = 400, seed: int = 0, with_jedi: bool = True,
                         work_dir: Path | None = None, progress: Progress | None = None,
                         scorer: Scorer | None = None, weights: RankWeights | None = None) -> CompletionBenchResult:
    """Sample `sites` member accesses of the package at `package` and score graphmer (and jedi)."""
    package = Path(package)
    if not package.is_dir():
        raise BenchError(f"{package} is not a folder: give the path of a Python package")
    jedi = _import_jedi() if with_jedi else None
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="graphmer-bench-complete-")
        work_dir = Path(tmp.name)
    try:
        work = Path(work_dir).resolve()
        work.mkdir(parents=True, exist_ok=True)
        files, found, chosen, index_s = indexed_sample(package, work, sites, seed, progress)
        if not found:
            raise BenchError(f"no member-access sites in {package}: is it a Python package?")
        store = Store(work / INDEX_DIRNAME)
        try:
            completer = Completer(store, scorer=scorer, weights=weights)
            totals = Counter({(r, n): k for r, n, k in store_completion.attr_use_totals(store)})
            ranks: dict[str, list[int]] = {}
            times: dict[str, list[float]] = {}
            sources: dict[str, str] = {}
            for done, site in enumerate(chosen, 1):
                if site.path not in sources:
                    sources[site.path] = (work / site.path).read_text(encoding="utf-8")
                lines = sources[site.path].split("\n")
                for k in PREFIXES:
                    buffer, col = cut_buffer(lines, site, k)
                    t = time.perf_counter()
                    got = completer.complete(site.path, buffer, site.line, col)
                    times.setdefault(f"graphmer/{k}", []).append(time.perf_counter() - t)
                    ranks.setdefault(f"graphmer/{k}", []).append(_rank([i.label for i in got.items], site.name))
                    if k == 0:
                        check_leakage(completer, totals, sources[site.path], site, buffer, col)
                if progress:
                    progress("complete", done, len(chosen))
            # jedi in a second pass: its caches (a large heap) never share a pass with graphmer's
            # timings, as they never share a process in an editor
            project = jedi.Project(work) if jedi else None
            for done, site in enumerate(chosen if jedi is not None else (), 1):
                lines = sources[site.path].split("\n")
                for k in PREFIXES:
                    buffer, col = cut_buffer(lines, site, k)
                    t = time.perf_counter()
                    labels = _jedi_labels(jedi, project, work / site.path, buffer, site.line, col)
                    times.setdefault(f"jedi/{k}", []).append(time.perf_counter() - t)
                    ranks.setdefault(f"jedi/{k}", []).append(_rank(labels, site.name))
                if progress:
                    progress("jedi", done, len(chosen))
        finally:
            store.close()
        scores = [_scores(key.split("/")[0], int(key.split("/")[1]), ranks[key], times[key]) for key in ranks]
        return CompletionBenchResult(package.name, len(files), len(found), seed, chosen, scores, len(chosen), index_s, ranks)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _jedi_labels(jedi, project, path: Path, buffer: str, line: int, column: int) -> list[str]:
    try:
        return [c.name for c in jedi.Script(code=buffer, path=path, project=project).complete(line + 1, column)]
    except Exception:  # jedi's own failure on a site counts as an empty answer, as an editor shows it
        return []


def _import_jedi():
    try:
        import jedi  # lazy: optional dependency (graphmer[bench])
    except ImportError:
        raise BenchError("jedi is not installed: pip install 'graphmer[bench]', or pass --no-jedi") from None
    return jedi
