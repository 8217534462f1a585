"""Fit the attribute-completion weights (graphmer/complete/rank.py) on member-access sites (torch).

Each package is copied, indexed and sampled as `graphmer bench completion` does (dunder sites
such as `super().__init__` included: the weights must learn how often they are written, though
the benchmark never asks for them); at each site the completer records every candidate's
features with an empty and with a one-character prefix, and the weights maximise the softmax
likelihood of the attribute actually written (a listwise ranking loss), with an L2 pull
towards the hand-set weights. A second stage (refine_top1) then aims at the first place
itself: it lowers a smoothed count of the sites where another candidate outscores the
right one, sigmoid((best other score - right score) / tau), pulled towards the listwise
weights (on the development packages it raised empty-prefix top-1 by about a point that
the listwise loss alone leaves). A third stage (fit_hidden) adds a small hidden layer
(graphmer/complete/rank.py Hidden), trained with the listwise loss on minibatches together with
the linear weights, those pulled towards the second stage's (on the development packages:
non-dunder sites' empty-prefix top-1 0.5375 -> 0.5458 and top-5 0.829 -> 0.838 with the mean
of four 16-unit layers fitted from different seeds; one seed alone moved top-1 by -0.005 to
+0.009). The shipped
weights are fitted on standard-library packages only: the packages the benchmark is judged
on (click, rich, ...) are never fitted on.
"""
from __future__ import annotations

import platform
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from graphmer.complete.pipeline import Completer
from graphmer.complete.rank import Hidden, RankWeights, dump_weights
from graphmer.complete.stdlib_usage import MIN_COUNT, Usage, count, totals, write
from graphmer.index.store import INDEX_DIRNAME, Store
from graphmer.model.complete_sites import PREFIXES, Progress, cut_buffer, indexed_sample

# Packages of the standard library the shipped weights are fitted on (those with enough sites).
STDLIB_PACKAGES = ("asyncio", "email", "importlib", "multiprocessing", "xml", "unittest", "idlelib", "lib2to3",
                   "distutils", "tkinter", "concurrent", "http", "json", "logging", "urllib", "wsgiref", "ctypes",
                   "sqlite3", "curses", "html", "xmlrpc", "collections", "dbm", "zoneinfo")


class FitError(Exception):
    """The weights cannot be fitted on this input (no package, no usable site)."""


@dataclass(frozen=True, slots=True)
class Example:
    """One site at one prefix length: every candidate's feature vector and the right one's index."""

    package: str
    prefix_len: int
    feats: list[list[float]]
    target: int  # index into feats


@dataclass(frozen=True, slots=True)
class FitResult:
    weights: RankWeights
    examples: int
    sites_missing: int  # sites whose attribute was not among the candidates (nothing to learn from)
    packages: list[str]
    before: dict[str, float]  # top-1 and top-5 per prefix length with the starting weights
    after: dict[str, float]
    loss_before: float
    loss_after: float
    seconds: float
    stdlib_uses: Usage  # the standard library's reads of its modules, all packages (for --usage-out)

    def to_json(self) -> dict:
        return {"examples": self.examples, "sites_missing": self.sites_missing, "packages": self.packages,
                "before": self.before, "after": self.after, "loss_before": round(self.loss_before, 5),
                "loss_after": round(self.loss_after, 5), "seconds": round(self.seconds, 1)}


def stdlib_packages() -> list[Path]:
    """The running Python's standard-library packages in STDLIB_PACKAGES that exist."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return [root / n for n in STDLIB_PACKAGES if (root / n / "__init__.py").is_file()]


def collect(package: Path, sites: int, seed: int, work: Path, stdlib_uses: Usage | None = None) -> tuple[list[Example], int]:
    """Examples from up to `sites` sampled sites of one package; and how many sites had no right
    candidate. stdlib_uses: the standard-library read counts to rank with; a standard-library
    package must be fitted with counts that leave its own files out (see run_fit)."""
    chosen = indexed_sample(Path(package), work, sites, seed, dunders=True)[2]
    names = RankWeights.features()
    out: list[Example] = []
    missing = 0
    store = Store(work / INDEX_DIRNAME)
    try:
        completer = Completer(store, weights=RankWeights(), stdlib_uses=stdlib_uses)
        sources: dict[str, list[str]] = {}
        for site in chosen:
            if site.path not in sources:
                sources[site.path] = (work / site.path).read_text(encoding="utf-8").split("\n")
            for k in PREFIXES:
                buffer, col = cut_buffer(sources[site.path], site, k)
                completer.feature_log = []
                completer.complete(site.path, buffer, site.line, col)
                log, completer.feature_log = completer.feature_log, None
                labels = [n for n, _ in log]
                if site.name not in labels:
                    missing += 1
                    continue
                feats = [[f.get(n, 0.0) for n in names] for _, f in log]
                out.append(Example(package.name, k, feats, labels.index(site.name)))
    finally:
        store.close()
    return out, missing


def fit(examples: list[Example] | Batch, start: RankWeights, l2: float = 0.001, steps: int = 200) -> RankWeights:
    """Weights maximising the mean log-softmax of each example's right candidate, pulled towards `start`."""

    b = as_batch(examples)
    w0 = torch.tensor(start.vector(), dtype=torch.float64)
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _nll(b.x @ w, b.mask, b.target) + l2 * ((w - w0) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return _weights(w, start)


def refine_top1(examples: list[Example] | Batch, start: RankWeights, tau: float = 0.5, l2: float = 0.001,
                steps: int = 300, lr: float = 0.01) -> RankWeights:
    """Weights lowering the mean of sigmoid((best other candidate's score - right one's) / tau),
    a smoothed share of examples not ranked first, plus an L2 pull towards `start` (Adam, full
    batch: deterministic for the same examples)."""

    b = as_batch(examples)
    mask, target = b.mask, b.target
    w0 = torch.tensor(start.vector(), dtype=torch.float64)
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        scores = (b.x @ w).masked_fill(~mask, float("-inf"))
        right = scores.gather(1, target[:, None])
        other = scores.scatter(1, target[:, None], float("-inf")).max(1, keepdim=True).values
        # A site with one candidate has no other: its margin is -inf, its term 0.
        loss = torch.sigmoid((other - right) / tau).mean() + l2 * ((w - w0) ** 2).sum()
        loss.backward()
        opt.step()
    return _weights(w, start)


def fit_hidden(examples: list[Example] | Batch, start: RankWeights, size: int = 16, steps: int = 500, lr: float = 0.003,
               decay: float = 0.001, l2: float = 0.001, batch: int = 512, seed: int = 0) -> RankWeights:
    """`start` with a hidden layer of `size` tanh units, fitted with the listwise loss by Adam
    on minibatches of `batch` examples, the layer's weights decayed by `decay`, the linear
    weights trained along and pulled towards `start`'s by `l2`. Deterministic for the same
    examples and seed (its own random generator)."""

    b = as_batch(examples)
    x, mask, target = b.x, b.mask, b.target
    nf = x.shape[2]
    gen = torch.Generator().manual_seed(seed)
    scale = x[mask].std(0).clamp_min(1e-3) if mask.any() else torch.ones(nf, dtype=torch.float64)
    bound = 1.0 / nf ** 0.5
    w0 = torch.tensor(start.vector(), dtype=torch.float64)
    w = w0.clone().requires_grad_(True)
    w1 = ((torch.rand(size, nf, generator=gen, dtype=torch.float64) * 2 - 1) * bound).requires_grad_(True)
    b1 = ((torch.rand(size, generator=gen, dtype=torch.float64) * 2 - 1) * bound).requires_grad_(True)
    w2 = torch.zeros(size, dtype=torch.float64, requires_grad=True)  # starts as the linear score exactly
    opt = torch.optim.Adam([w, w1, b1, w2], lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (min(batch, x.shape[0]),), generator=gen)
        opt.zero_grad()
        loss = _nll(_score(x[idx], w, (scale, w1, b1, w2)), mask[idx], target[idx])
        loss = loss + decay * ((w1 ** 2).sum() + (b1 ** 2).sum() + (w2 ** 2).sum()) + l2 * ((w - w0) ** 2).sum()
        loss.backward()
        opt.step()
    hidden = Hidden(tuple(scale.tolist()), tuple(tuple(r) for r in w1.detach().tolist()), tuple(b1.detach().tolist()),
                    tuple(w2.detach().tolist()))
    return _weights(w, start, hidden)


def average(models: list[RankWeights]) -> RankWeights:
    """One model scoring as the mean of `models` (fitted on the same examples, hidden layers
    of any size): the mean linear weights, and every hidden unit side by side with its output
    weight divided by the number of models."""
    k = len(models)
    hs = [m.hidden for m in models if m.hidden is not None]
    hidden = None
    if hs:
        if len(hs) != k or any(h.scale != hs[0].scale for h in hs):
            raise ValueError("models to average must all have hidden layers fitted on the same examples")
        hidden = Hidden(hs[0].scale, tuple(r for h in hs for r in h.w1), tuple(b for h in hs for b in h.b1),
                        tuple(v / k for h in hs for v in h.w2))
    values = {n: sum(getattr(m, n) for m in models) / k for n in RankWeights.features()}
    return RankWeights(**values, hidden=hidden, popular=models[0].popular, near_lines=models[0].near_lines)


def _score(x, w, hidden):
    """Scores of candidates x (..., features): x @ w, plus the hidden layer's part when given."""

    out = x @ w
    if hidden is not None:
        scale, w1, b1, w2 = hidden
        out = out + torch.tanh((x / scale) @ w1.T + b1) @ w2
    return out


def _layer(w: RankWeights):

    h = w.hidden
    if h is None:
        return None
    return tuple(torch.tensor(v, dtype=torch.float64) for v in (h.scale, h.w1, h.b1, h.w2))


def evaluate(examples: list[Example] | Batch, w: RankWeights) -> tuple[dict[str, float], float]:
    """Top-1 and top-5 per prefix length (ties broken against the right candidate), and the mean loss."""

    b = as_batch(examples)
    wt = torch.tensor(w.vector(), dtype=torch.float64)
    raw = _score(b.x, wt, _layer(w))
    scores = raw.masked_fill(~b.mask, float("-inf"))
    right = scores.gather(1, b.target[:, None])
    rank = (scores >= right).sum(1)  # itself and every candidate scoring as high
    out: dict[str, float] = {}
    for k in PREFIXES:
        sel = b.prefix_len == k
        if sel.any():
            out[f"top1/{k}"] = round(float((rank[sel] <= 1).double().mean()), 4)
            out[f"top5/{k}"] = round(float((rank[sel] <= 5).double().mean()), 4)
    return out, float(_nll(raw, b.mask, b.target))


@dataclass(frozen=True)
class Batch:
    """Examples as tensors: features (examples, candidates, features) padded with masked-out
    candidates, the right candidate's index and the prefix length of each example."""

    x: object  # torch tensors (torch is imported only when fitting)
    mask: object
    target: object
    prefix_len: object


def as_batch(examples: list[Example] | Batch) -> Batch:
    """The examples as one Batch (a Batch as it is: run_fit builds it once for every stage;
    on the standard library it is 2.6 GiB and takes about 7 s to build)."""

    if isinstance(examples, Batch):
        return examples
    width = max(len(e.feats) for e in examples)
    nf = len(RankWeights.features())
    x = torch.zeros(len(examples), width, nf, dtype=torch.float64)
    mask = torch.zeros(len(examples), width, dtype=torch.bool)
    for i, e in enumerate(examples):
        x[i, : len(e.feats)] = torch.tensor(e.feats, dtype=torch.float64)
        mask[i, : len(e.feats)] = True
    return Batch(x, mask, torch.tensor([e.target for e in examples]), torch.tensor([e.prefix_len for e in examples]))


def _nll(scores, mask, target):
    """The listwise loss: the mean negative log-softmax of the right candidates' scores."""
    return -scores.masked_fill(~mask, float("-inf")).log_softmax(1).gather(1, target[:, None]).mean()


def _weights(vector, like: RankWeights, hidden: Hidden | None = None) -> RankWeights:
    """Fitted linear weights (a tensor in RankWeights.features() order) with `like`'s settings."""
    values = dict(zip(RankWeights.features(), vector.detach().tolist()))
    return RankWeights(**values, hidden=hidden, popular=like.popular, near_lines=like.near_lines)


def run_fit(packages: list[Path], sites: int = 300, seed: int = 0, l2: float = 0.001, refine_steps: int = 300,
            hidden: int = 16, hidden_steps: int = 500, hidden_seeds: int = 4, progress: Progress | None = None) -> FitResult:
    """Collect examples from every package and fit weights starting from the hand-set ones
    (the listwise loss, then `refine_steps` steps of refine_top1, 0: none; then hidden layers
    of `hidden` units for `hidden_steps` steps, 0: none, from `hidden_seeds` seeds, averaged)."""
    t0 = time.perf_counter()
    examples: list[Example] = []
    missing = 0
    groups = count()  # the standard library's reads of its modules, by top-level package
    for i, package in enumerate(packages, 1):
        if not Path(package).is_dir():
            raise FitError(f"{package} is not a folder: give the paths of Python packages")
        held_out = totals(groups, exclude=Path(package).name)  # a package never sees its own reads
        with tempfile.TemporaryDirectory(prefix="graphmer-fit-") as tmp:
            got, miss = collect(Path(package), sites, seed, Path(tmp), held_out)
        examples += got
        missing += miss
        if progress:
            progress("packages", i, len(packages))
    if not examples:
        raise FitError("no member-access sites with the right name among the candidates: nothing to fit")
    start = RankWeights()
    data = as_batch(examples)  # once, for every stage
    before, loss0 = evaluate(data, start)
    w = fit(data, start, l2=l2)
    if refine_steps:
        w = refine_top1(data, w, steps=refine_steps)
    if hidden and hidden_steps and hidden_seeds:
        # One seed's layer is a lottery (development packages, empty-prefix top-1 of four
        # seeds: -0.005 to +0.009 over the weighted sum); their mean is not (+0.008).
        w = average([fit_hidden(data, w, size=hidden, steps=hidden_steps, seed=seed + i) for i in range(hidden_seeds)])
    after, loss1 = evaluate(data, w)
    return FitResult(w, len(examples), missing, [Path(p).name for p in packages], before, after, loss0, loss1,
                     time.perf_counter() - t0, totals(groups))


def fit_completion(packages: list[Path], out: Path | None = None, sites: int = 300, seed: int = 0, l2: float = 0.001,
                   refine_steps: int = 300, hidden: int = 16, hidden_steps: int = 500, hidden_seeds: int = 4,
                   progress: Progress | None = None) -> FitResult:
    """run_fit on `packages` (none: stdlib_packages()), and the fitted weights written to `out`
    (graphmer/complete/completion_weights.json ships them) with the settings that made them.
    Raises FitError when there is nothing to fit on or `out` cannot be written."""
    r = run_fit(list(packages) or stdlib_packages(), sites=sites, seed=seed, l2=l2, refine_steps=refine_steps,
                hidden=hidden, hidden_steps=hidden_steps, hidden_seeds=hidden_seeds, progress=progress)
    meta = {**r.to_json(), "sites_per_package": sites, "seed": seed, "l2": l2, "refine_steps": refine_steps,
            "hidden": hidden if hidden_steps else 0, "hidden_steps": hidden_steps if hidden else 0,
            "hidden_seeds": hidden_seeds if hidden and hidden_steps else 0,
            "python": platform.python_version(), "command": "graphmer fit-completion" + ("" if packages else " (standard library)")}
    meta.pop("seconds")
    if out is not None:
        try:
            dump_weights(r.weights, out, meta)
        except OSError as exc:
            raise FitError(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from exc
    return r


def fit_usage(out: Path, stdlib: Path | None = None, progress: Callable[[int, int], None] | None = None) -> Usage:
    """The standard library's reads of its modules' members (at least MIN_COUNT each), counted
    from its sources without its tests, written to `out` (graphmer/complete/stdlib_usage.json ships them)."""
    usage = totals(count(stdlib, progress))
    try:
        write(usage, out, {"python": platform.python_version(), "min_count": MIN_COUNT, "command": "graphmer fit-usage"})
    except OSError as exc:
        raise FitError(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from exc
    return usage
