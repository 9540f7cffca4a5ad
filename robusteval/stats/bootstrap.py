"""Bootstrap confidence intervals for many cells at once, through ``scipy.stats.bootstrap``.

How the vectorization works: cells with the same number of resampling units ``k`` (cases, or clusters when
clustering) form a group; one ``scipy.stats.bootstrap`` call per group (chunked to bound memory) resamples the
*unit indices* ``arange(k)`` and a vectorized statistic turns each index resample into every cell's statistic
at once (a count matrix times the cells' values for the mean; a running count over each cell's sorted values
for the median). This is what scipy itself does for ``paired=True``, so the resamples, the BCa jackknife and
the interval arithmetic are scipy's own: a cell's interval equals a per-cell ``scipy.stats.bootstrap`` call
with ``rng=np.random.default_rng(seed)`` (to floating-point rounding for the mean, exactly for the median).
Every call starts a fresh generator from ``seed``, so a cell's interval does not depend on the other cells.

Clusters: with cluster ids, whole clusters are resampled (one-stage cluster bootstrap); the statistic is then
computed over all cases of the drawn clusters (mean = sum of cluster sums / sum of cluster sizes) and the BCa
jackknife leaves out one cluster at a time.

Fallbacks (each stated in ``Interval.note``): no values -> all NaN, method ``none``; n = 1 -> no interval
(``none``); all values equal -> zero-width interval at the value (``degenerate``); n = 2 -> the sample range
(``range``); fewer than 3 clusters -> cases are resampled instead; BCa undefined (non-finite bias
correction or acceleration, e.g. heavily tied values) -> the percentile interval of the same resamples.
"""

from __future__ import annotations

__all__ = [
    "MIN_UNITS",
    "Interval",
    "bootstrap_intervals",
    "bootstrap_mean_differences",
    "bootstrap_t_intervals",
    "expanded_level",
]

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

try:  # optional (installed with scikit-learn); without it BLAS keeps its default thread count
    import threadpoolctl as _threadpoolctl  # type: ignore[import-untyped, unused-ignore]
except ImportError:  # pragma: no cover
    _threadpoolctl = None

Statistic = Literal["mean", "median"]
Method = Literal["BCa", "percentile"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# Cells per scipy call are chunked so that cells * n_resamples stays near this many float64 values (32 MB).
_CHUNK_VALUES = 4_000_000
# Cells whose running counts are processed together in the median kernel (keeps the arrays in cache).
_MEDIAN_BLOCK = 16


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval; ``method`` says how it was obtained.

    ``method`` is ``BCa`` or ``percentile`` (bootstrap), ``range`` (n = 2), ``degenerate`` (all values
    equal), or ``none`` (no interval). ``note`` explains any fallback; ``std_error`` is the bootstrap
    standard error (NaN without resampling).
    """

    estimate: float
    low: float
    high: float
    std_error: float
    method: str
    note: str
    n: int
    n_clusters: int


MIN_UNITS = 3
"""Fewest resampling units (cases, or clusters) for an interval."""


def _nan_interval(n: int, note: str, estimate: float = math.nan, n_clusters: int = 0) -> Interval:
    return Interval(estimate, math.nan, math.nan, math.nan, "none", note, n, n_clusters)


def _too_few(n: int, k: int) -> str:
    """The reason a cell of ``n`` values in ``k`` units gets no interval, or ``""``."""
    if n == 0:
        return "no values (every case failed or was missing)"
    if k >= MIN_UNITS:
        return ""
    if k == n:
        return f"n={n}: too few cases for an interval ({MIN_UNITS} or more needed)"
    return (
        f"{n} cases from {k} subject(s) or cluster(s): too few independent units for an interval ({MIN_UNITS} or more)"
    )


def _codes(n: int, clusters: ArrayLike | None) -> tuple[IntArray, int]:
    """Cluster codes 0..k-1 of a cell (each case its own unit when ``clusters`` is None or all distinct)."""
    if clusters is None:
        return np.arange(n, dtype=np.intp), n
    labels = np.asarray(clusters)
    if labels.shape != (n,):
        raise ValueError(f"cluster labels have shape {labels.shape}, values have ({n},)")
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.astype(np.intp).reshape(n)
    k = int(codes.max()) + 1 if n else 0
    if k == n:  # no cluster holds two cases: the same as resampling cases
        return np.arange(n, dtype=np.intp), n
    return codes, k


def _counts(idx: NDArray[np.integer], k: int) -> NDArray[np.int64]:
    """Resample index rows (..., m) -> (rows, k) occurrence counts of each unit."""
    flat = np.asarray(idx, dtype=np.intp).reshape(-1, idx.shape[-1])
    rows = flat.shape[0]
    offsets = (flat + (np.arange(rows, dtype=np.intp) * k)[:, None]).ravel()
    return np.bincount(offsets, minlength=rows * k).reshape(rows, k)


_CONTROLLER: list[Any] = []


def _one_blas_thread() -> AbstractContextManager[object]:
    """Single-threaded BLAS while resampling: the products are small, and threads spin on shared CPUs."""
    if _threadpoolctl is None:
        return nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(_threadpoolctl.ThreadpoolController())
    return cast(AbstractContextManager[object], _CONTROLLER[0].limit(limits=1, user_api="blas"))


def _small_uint(bound: int) -> type[np.unsignedinteger]:
    if bound < 255:
        return np.uint8
    if bound < 65_535:
        return np.uint16
    return np.uint32


class _Cells:
    """Cells sharing ``k`` resampling units: what the vectorized statistics need, built once per chunk."""

    def __init__(self, values: Sequence[FloatArray], codes: Sequence[IntArray], k: int) -> None:
        c = len(values)
        lengths = {len(v) for v in values}
        self.k = k
        plain = lengths == {k} and all(code is None or bool(np.all(code == np.arange(k))) for code in codes)
        if plain:  # every case its own unit: no padding, no cluster sums
            stacked = np.stack(values)
            order = np.argsort(stacked, axis=1, kind="stable")
            self.sums = stacked
            self.sizes = np.ones((c, k))
            self.sorted = np.take_along_axis(stacked, order, axis=1)
            self.sorted_codes = order.astype(np.intp)
        else:
            nmax = max(lengths)
            self.sums = np.zeros((c, k))
            self.sizes = np.zeros((c, k))
            self.sorted = np.full((c, nmax), np.inf)
            self.sorted_codes = np.full((c, nmax), k, dtype=np.intp)  # padding: an always-zero count row
            for i, (v, code) in enumerate(zip(values, codes, strict=True)):
                np.add.at(self.sums[i], code, v)
                np.add.at(self.sizes[i], code, 1.0)
                order = np.argsort(v, kind="stable")
                self.sorted[i, : len(v)] = v[order]
                self.sorted_codes[i, : len(v)] = code[order]
        self.plain = plain
        self.unit_sizes_one = plain or bool(np.all(self.sizes == 1.0))
        self.max_size = int(self.sizes.max())
        # The estimate as scipy's per-cell call computes it (np.mean of the sample; for clusters the
        # paired (cluster sums, sizes) ratio), and the distance under which a resample counts as a near tie.
        self.theta = np.mean(self.sums, axis=1) if plain else np.sum(self.sums, axis=1) / np.sum(self.sizes, axis=1)
        scale = np.mean(np.abs(self.sums), axis=1) / np.maximum(np.mean(self.sizes, axis=1), 1.0)
        self.tie_tol = 8.0 * max(k, 8) * np.finfo(np.float64).eps * (scale + np.abs(self.theta))

    def mean(self, idx: NDArray[np.integer], out: FloatArray | None = None) -> FloatArray:
        """Mean over the cases of the drawn units, per cell and resample: shape (cells, rows of ``idx``)."""
        drawn = np.asarray(idx, dtype=np.intp).reshape(-1, idx.shape[-1])
        cf = _counts(drawn, self.k).astype(np.float64)
        out = np.matmul(self.sums, cf.T, out=out)
        out /= float(idx.shape[-1]) if self.unit_sizes_one else self.sizes @ cf.T
        # BCa's bias correction counts resamples below / equal to the estimate. A resample whose mean equals
        # the estimate mathematically (a permutation of the sample, a swap of tied values) is decided by the
        # last bit of the sums, so recompute those few exactly as scipy's per-cell call does: a C-contiguous
        # (rows, m) array reduced along its last axis, in the drawn order.
        gap = out - self.theta[:, None]
        np.abs(gap, out=gap)
        near = gap <= self.tie_tol[:, None]
        columns = np.flatnonzero(near.any(axis=0))
        if columns.size:
            cells, j = np.nonzero(near[:, columns])
            rows = columns[j]
            pick = (cells[:, None], drawn[rows])
            if self.plain:
                out[cells, rows] = np.mean(np.ascontiguousarray(self.sums[pick]), axis=-1)
            else:
                s = np.sum(np.ascontiguousarray(self.sums[pick]), axis=-1)
                out[cells, rows] = s / np.sum(np.ascontiguousarray(self.sizes[pick]), axis=-1)
        return out

    def median(self, idx: NDArray[np.integer], out: FloatArray | None = None) -> FloatArray:
        """Median (numpy convention) of the cases of the drawn units, per cell and resample."""
        counts = _counts(idx, self.k)
        rows = counts.shape[0]
        dtype = _small_uint(max(idx.shape[-1] * self.max_size, self.sorted.shape[1]))
        per_unit = np.zeros((self.k + 1, rows), dtype=dtype)
        per_unit[: self.k] = counts.T
        total = None if self.unit_sizes_one else self.sizes @ counts.T.astype(np.float64)
        m_all = idx.shape[-1]
        c = self.sorted.shape[0]
        if out is None:
            out = np.empty((c, rows))
        block = min(_MEDIAN_BLOCK, c)
        acc = np.empty((block, rows), dtype=dtype)
        step = np.empty((block, rows), dtype=dtype)
        j_lo = np.empty((block, rows), dtype=dtype)
        j_hi = np.empty((block, rows), dtype=dtype)
        mask = np.empty((block, rows), dtype=bool)
        for s in range(0, c, block):
            e = min(s + block, c)
            b = e - s
            a, st, jl, jh, mk = acc[:b], step[:b], j_lo[:b], j_hi[:b], mask[:b]
            lo_rank: NDArray[np.unsignedinteger] | np.unsignedinteger
            hi_rank: NDArray[np.unsignedinteger] | np.unsignedinteger
            if total is None:
                lo_rank, hi_rank = dtype((m_all - 1) // 2), dtype(m_all // 2)
                same = m_all % 2 == 1
            else:
                m = total[s:e]
                lo_rank, hi_rank = ((m - 1) // 2).astype(dtype), (m // 2).astype(dtype)
                same = False
            a[...] = 0
            jl[...] = 0
            jh[...] = 0
            codes = self.sorted_codes[s:e]
            # a = number of resampled cases among the j+1 smallest values; the median's order statistics
            # are the positions where a first exceeds (m-1)//2 and m//2 (m = resample size).
            for j in range(codes.shape[1]):
                np.take(per_unit, codes[:, j], axis=0, out=st)
                np.add(a, st, out=a)
                np.less_equal(a, lo_rank, out=mk)
                np.add(jl, mk, out=jl, casting="unsafe")
                if not same:
                    np.less_equal(a, hi_rank, out=mk)
                    np.add(jh, mk, out=jh, casting="unsafe")
            flat = self.sorted[s:e].ravel()
            offsets = (np.arange(b, dtype=np.intp) * self.sorted.shape[1])[:, None]
            low = flat[jl + offsets]
            high = low if same else flat[jh + offsets]
            out[s:e] = (low + high) / 2
        return out

    def estimates(self, statistic: Statistic) -> FloatArray:
        """The statistic of each cell's full sample."""
        if statistic == "mean":
            theta: FloatArray = self.theta
            return theta
        out: FloatArray = self.median(np.arange(self.k)[None, :])[:, 0]
        return out

    def stacked(self, statistics: Sequence[Statistic]) -> Callable[..., FloatArray]:
        """A scipy statistic: unit-index resamples (..., m) -> shape (len(statistics), cells, ...)."""

        def fn(idx: NDArray[np.integer], axis: int = -1) -> FloatArray:
            lead = idx.shape[:-1]
            rows = math.prod(lead)
            out = np.empty((len(statistics), self.sums.shape[0], rows))
            for i, s in enumerate(statistics):
                if s == "mean":
                    self.mean(idx, out=out[i])
                else:
                    self.median(idx, out=out[i])
            return out.reshape((len(statistics), self.sums.shape[0], *lead))

        return fn


@dataclass(frozen=True)
class _Job:
    """One cell to resample: its values, unit codes and a note when clusters were replaced by cases."""

    cell: int
    values: FloatArray
    codes: IntArray
    k: int
    note: str


_BCA_NOTE = "BCa undefined (non-finite bias correction or acceleration, e.g. tied values); percentile used"


def _run_scipy(
    data: tuple[IntArray, ...],
    statistic: Callable[..., FloatArray],
    *,
    confidence_level: float,
    n_resamples: int,
    method: Method,
    seed: int,
) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """One vectorized scipy call -> (low, high, standard error, percentile-fallback flags), any leading shape.

    Rows whose BCa interval is undefined get the percentile interval of the same resamples.
    """
    with _one_blas_thread(), warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(
            data,
            statistic,
            n_resamples=n_resamples,
            vectorized=True,
            axis=-1,
            confidence_level=confidence_level,
            method=method,
            rng=np.random.default_rng(seed),
        )
        low = np.array(res.confidence_interval.low, dtype=np.float64, ndmin=1)
        high = np.array(res.confidence_interval.high, dtype=np.float64, ndmin=1)
        bad = ~(np.isfinite(low) & np.isfinite(high))
        if method == "BCa" and bad.any():
            dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
            fallback = stats.bootstrap(
                data,
                statistic,
                n_resamples=0,
                vectorized=True,
                axis=-1,
                confidence_level=confidence_level,
                method="percentile",
                bootstrap_result=SimpleNamespace(bootstrap_distribution=dist[bad]),
            )
            low[bad] = fallback.confidence_interval.low
            high[bad] = fallback.confidence_interval.high
        else:
            bad = np.zeros(low.shape, dtype=bool)
    se = np.array(res.standard_error, dtype=np.float64, ndmin=1)
    return low, high, se, bad


def _chunks(jobs: list[_Job], n_resamples: int, n_stats: int) -> list[list[_Job]]:
    by_k: dict[int, list[_Job]] = defaultdict(list)
    for job in jobs:
        by_k[job.k].append(job)
    size = max(1, _CHUNK_VALUES // max(n_resamples * n_stats, 1))
    return [group[i : i + size] for _, group in sorted(by_k.items()) for i in range(0, len(group), size)]


def expanded_level(confidence_level: float, k: int) -> float:
    """Hesterberg's small-sample expansion: the level whose normal quantile is ``sqrt(k/(k-1)) t_{k-1}``.

    Bootstrap intervals of a mean are too narrow for small ``k`` (plug-in variance, normal rather than t
    quantiles): at k = 20 a nominal 95% covers about 92.5%. Asking scipy for the expanded level
    ``1 - 2 Phi(-sqrt(k/(k-1)) t_{1-a/2, k-1})`` (0.968 at k = 20, -> 0.95 as k grows) restores the coverage
    (Hesterberg 2015, "What teachers should know about the bootstrap", the expanded percentile interval)."""
    if k < 2:
        return confidence_level
    t = stats.t.ppf(0.5 + confidence_level / 2.0, k - 1) * math.sqrt(k / (k - 1))
    return float(1.0 - 2.0 * stats.norm.sf(t))


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def bootstrap_intervals(
    samples: Sequence[ArrayLike],
    *,
    clusters: Sequence[ArrayLike | None] | None = None,
    statistics: Sequence[Statistic] = ("mean",),
    confidence_level: float = 0.95,
    n_resamples: int = 10_000,
    method: Method = "BCa",
    seed: int = 0,
    small_sample: bool = False,
    too_few_clusters: Literal["none", "cases"] = "none",
) -> dict[Statistic, list[Interval]]:
    """Per statistic, one interval per sample (cell). Remove NaNs from the samples beforehand.

    ``clusters[i]`` holds one cluster label per value of ``samples[i]`` (or ``None`` to resample cases).
    ``small_sample``: scipy is asked for :func:`expanded_level` of ``confidence_level`` at each cell's number
    of resampling units (default off: exactly scipy's interval at ``confidence_level``).
    ``too_few_clusters``: with fewer than 3 clusters, no interval (``"none"``, default) or resample the cases
    instead, with a note (``"cases"``: for clusters such as sites, which a cell rarely holds three of).
    """
    stats_ = tuple(statistics)
    reducers: dict[Statistic, Callable[[FloatArray], float]] = {
        "mean": lambda v: float(np.mean(v)),
        "median": lambda v: float(np.median(v)),
    }
    out: dict[Statistic, list[Interval | None]] = {s: [None] * len(samples) for s in stats_}
    jobs: list[_Job] = []
    for i, sample in enumerate(samples):
        v = np.asarray(sample, dtype=np.float64).ravel()
        n = len(v)
        labels = None if clusters is None else clusters[i]
        codes, k = _codes(n, labels)
        reason = _too_few(n, k)
        if reason and too_few_clusters == "cases" and k < n and n >= MIN_UNITS:
            reason = ""
            codes, k = np.arange(n, dtype=np.intp), n
            note = "fewer than 3 clusters: cases resampled instead of clusters"
        else:
            note = ""
        if not reason and not bool(np.all(v == v[0])):
            jobs.append(_Job(i, v, codes, k, note))
            continue
        for s in stats_:
            est = reducers[s](v) if n else math.nan
            if reason:
                out[s][i] = _nan_interval(n, reason, est, k)
            else:
                note = f"all {n} values equal: every resample gives the same value; the interval collapses to it"
                out[s][i] = Interval(est, est, est, 0.0, "degenerate", note, n, k)
    for chunk in _chunks(jobs, n_resamples, len(stats_)):
        cells = _Cells([j.values for j in chunk], [j.codes for j in chunk], chunk[0].k)
        low, high, se, bad = _run_scipy(
            (np.arange(chunk[0].k),),
            cells.stacked(stats_),
            confidence_level=expanded_level(confidence_level, chunk[0].k) if small_sample else confidence_level,
            n_resamples=n_resamples,
            method=method,
            seed=seed,
        )
        for si, s in enumerate(stats_):
            estimates = cells.estimates(s)
            for r, job in enumerate(chunk):
                fell_back = bool(bad[si, r])
                out[s][job.cell] = Interval(
                    float(estimates[r]),
                    float(low[si, r]),
                    float(high[si, r]),
                    float(se[si, r]),
                    "percentile" if fell_back else method,
                    _join(job.note, _BCA_NOTE if fell_back else ""),
                    len(job.values),
                    job.k,
                )
    return {s: [o for o in out[s] if o is not None] for s in stats_}


class _TwoCells:
    """Difference of means (second sample minus first) for cells sharing (k_x, k_y)."""

    def __init__(self, x: _Cells, y: _Cells) -> None:
        self.x = x
        self.y = y

    def __call__(self, ix: NDArray[np.integer], iy: NDArray[np.integer], axis: int = -1) -> FloatArray:
        diff = self.y.mean(iy) - self.x.mean(ix)
        return diff.reshape((diff.shape[0], *ix.shape[:-1]))


def bootstrap_mean_differences(
    xs: Sequence[ArrayLike],
    ys: Sequence[ArrayLike],
    *,
    x_clusters: Sequence[ArrayLike | None] | None = None,
    y_clusters: Sequence[ArrayLike | None] | None = None,
    confidence_level: float = 0.95,
    n_resamples: int = 10_000,
    method: Method = "BCa",
    seed: int = 0,
    small_sample: bool = False,
) -> list[Interval]:
    """Intervals for ``mean(y) - mean(x)`` of independent samples, each resampled separately (by cluster).

    ``small_sample``: :func:`expanded_level` at the smaller group's number of units (conservative)."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} first samples but {len(ys)} second samples")
    out: list[Interval | None] = [None] * len(xs)
    groups: dict[tuple[int, int], list[tuple[int, _Job, _Job]]] = defaultdict(list)
    for i, (xa, ya) in enumerate(zip(xs, ys, strict=True)):
        x = np.asarray(xa, dtype=np.float64).ravel()
        y = np.asarray(ya, dtype=np.float64).ravel()
        if len(x) == 0 or len(y) == 0:
            out[i] = _nan_interval(len(x) + len(y), "a group has no values")
            continue
        est = float(np.mean(y) - np.mean(x))
        if len(x) < 3 or len(y) < 3:
            note = f"groups of {len(x)} and {len(y)} cases: too few (< 3) for a bootstrap interval"
            out[i] = _nan_interval(len(x) + len(y), note, est)
            continue
        if bool(np.all(x == x[0])) and bool(np.all(y == y[0])):
            note = "all values equal within each group: the interval collapses to the difference"
            out[i] = Interval(est, est, est, 0.0, "degenerate", note, len(x) + len(y), 0)
            continue
        jobs = []
        for v, labels_all in ((x, x_clusters), (y, y_clusters)):
            labels = None if labels_all is None else labels_all[i]
            codes, k = _codes(len(v), labels)
            if k < 3:
                jobs.append(_Job(i, v, np.arange(len(v), dtype=np.intp), len(v), f"only {k} cluster(s) in a group"))
            else:
                jobs.append(_Job(i, v, codes, k, ""))
        groups[(jobs[0].k, jobs[1].k)].append((i, jobs[0], jobs[1]))
    size = max(1, _CHUNK_VALUES // max(n_resamples, 1))
    for (kx, ky), members in sorted(groups.items()):
        for s in range(0, len(members), size):
            chunk = members[s : s + size]
            xc = _Cells([m[1].values for m in chunk], [m[1].codes for m in chunk], kx)
            yc = _Cells([m[2].values for m in chunk], [m[2].codes for m in chunk], ky)
            low, high, se, bad = _run_scipy(
                (np.arange(kx), np.arange(ky)),
                _TwoCells(xc, yc),
                confidence_level=expanded_level(confidence_level, min(kx, ky)) if small_sample else confidence_level,
                n_resamples=n_resamples,
                method=method,
                seed=seed,
            )
            for r, (i, jx, jy) in enumerate(chunk):
                cluster_note = "; ".join(sorted({jx.note, jy.note} - {""}))
                if cluster_note:
                    cluster_note += ": cases resampled instead of clusters"
                fell_back = bool(bad[r])
                note = _join(cluster_note, _BCA_NOTE if fell_back else "")
                est = float(np.mean(jy.values) - np.mean(jx.values))
                n = len(jx.values) + len(jy.values)
                used = "percentile" if fell_back else method
                out[i] = Interval(est, float(low[r]), float(high[r]), float(se[r]), used, note, n, jx.k + jy.k)
    return [o for o in out if o is not None]


_T_CLIP = 1e12  # |T*| of a resample without spread (a degenerate resample): effectively infinite
BOOTSTRAP_T_MIN_UNITS = 6
"""Below this many units (3 to 5) the bootstrap has 10 to 126 distinct resamples: Student's t is used."""


def _student_t_interval(v: FloatArray, codes: IntArray, k: int, confidence_level: float) -> Interval:
    """Student-t interval of the mean with the cluster-robust standard error and k - 1 degrees of freedom."""
    sums = np.bincount(codes, weights=v, minlength=k)
    sizes = np.bincount(codes, minlength=k).astype(np.float64)
    theta = float(sums.sum() / sizes.sum())
    se = math.sqrt(k / (k - 1) * float(np.sum((sums - theta * sizes) ** 2)) / float(sizes.sum()) ** 2)
    q = float(stats.t.ppf(0.5 + confidence_level / 2.0, k - 1))
    note = (
        f"{k} units: Student-t interval (a bootstrap of fewer than {BOOTSTRAP_T_MIN_UNITS} units has too few "
        "distinct resamples)"
    )
    return Interval(theta, theta - q * se, theta + q * se, se, "t", note, len(v), k)


def _bootstrap_t_chunk(
    chunk: list[_Job], k: int, *, confidence_level: float, n_resamples: int, seed: int
) -> list[Interval]:
    """Studentized intervals of the means of cells sharing ``k`` units (see :func:`bootstrap_t_intervals`)."""
    c = len(chunk)
    sums = np.zeros((c, k))
    sizes = np.zeros((c, k))
    for i, job in enumerate(chunk):
        np.add.at(sums[i], job.codes, job.values)
        np.add.at(sizes[i], job.codes, 1.0)
    plain = bool(np.all(sizes == 1.0))
    total = sizes.sum(axis=1)
    theta = sums.sum(axis=1) / total
    resid = sums - theta[:, None] * sizes
    variance = k / (k - 1) * np.sum(resid**2, axis=1) / total**2
    se = np.sqrt(variance)
    rng = np.random.default_rng(seed)
    counts = _counts(rng.integers(0, k, (n_resamples, k)), k).astype(np.float64).T  # (k, B)
    with _one_blas_thread():
        s_star = sums @ counts
        n_star = np.full_like(s_star, float(k)) if plain else sizes @ counts
        m_star = s_star / n_star
        if plain:
            ss = (sums**2) @ counts - m_star * s_star
        else:
            ss = (sums**2) @ counts - 2.0 * m_star * ((sums * sizes) @ counts) + m_star**2 * ((sizes**2) @ counts)
    v_star = k / (k - 1) * np.maximum(ss, 0.0) / n_star**2
    gap = m_star - theta[:, None]
    flat = v_star <= (1e-10 * variance)[:, None]  # no spread in the resample: T* is +-infinite (or 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = np.where(flat, 0.0, gap / np.sqrt(v_star))
    tiny = 64 * np.finfo(np.float64).eps * (np.abs(theta) + se)
    t_star = np.where(flat & (np.abs(gap) > tiny[:, None]), np.sign(gap) * _T_CLIP, t_star)
    np.clip(t_star, -_T_CLIP, _T_CLIP, out=t_star)
    gamma = 1.0 - confidence_level
    q_lo, q_hi = np.quantile(t_star, [gamma / 2.0, 1.0 - gamma / 2.0], axis=1)
    boot_se = np.std(m_star, axis=1, ddof=1)
    out: list[Interval] = []
    for i, job in enumerate(chunk):
        low, high = theta[i] - q_hi[i] * se[i], theta[i] - q_lo[i] * se[i]
        method, note = "bootstrap-t", job.note
        if max(abs(q_lo[i]), abs(q_hi[i])) >= _T_CLIP / 10:
            q = float(stats.t.ppf(0.5 + confidence_level / 2.0, k - 1))
            low, high = theta[i] - q * se[i], theta[i] + q * se[i]
            method = "t"
            note = _join(note, "bootstrap-t undefined (too many resamples without spread, e.g. tied values); "
                         "Student-t interval used")  # fmt: skip
        out.append(
            Interval(float(theta[i]), float(low), float(high), float(boot_se[i]), method, note, len(job.values), k)
        )
    return out


def bootstrap_t_intervals(
    samples: Sequence[ArrayLike],
    *,
    clusters: Sequence[ArrayLike | None] | None = None,
    confidence_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> list[Interval]:
    """Equal-tailed studentized bootstrap (bootstrap-t) interval of the mean of each sample (cell).

    Each resample draws the k units (cases, or whole clusters) with replacement and computes
    ``T* = (mean* - mean) / SE*`` with the cluster-robust standard error
    ``SE^2 = k / (k - 1) sum_u (S_u - mean N_u)^2 / N^2`` (``S_u``, ``N_u``: the sum and the number of a unit's
    cases; for cases: ``s^2 / n``); the interval is ``[mean - q_{1-g/2} SE, mean - q_{g/2} SE]`` with q the
    quantiles of T* (Hall 1988; Efron & Tibshirani 1993, ch. 12). It corrects for skewness as BCa does and for
    the small-sample spread as Student's t does: simulated coverage of a nominal 95% interval is 93-97% at
    n = 10 and 20 for Beta(8, 2) and log-normal data (docs/statistics.md). 3 to 5 units: the Student-t interval
    with the same standard error (``method: t``); fewer than 3 units: no interval, with the reason; all values
    equal: a zero-width interval. ``std_error`` is the bootstrap standard error.
    Every group of cells with the same k starts a fresh generator from ``seed``.
    """
    out: list[Interval | None] = [None] * len(samples)
    jobs: list[_Job] = []
    for i, sample in enumerate(samples):
        v = np.asarray(sample, dtype=np.float64).ravel()
        n = len(v)
        codes, k = _codes(n, None if clusters is None else clusters[i])
        reason = _too_few(n, k)
        est = float(np.mean(v)) if n else math.nan
        if reason:
            out[i] = _nan_interval(n, reason, est, k)
        elif bool(np.all(v == v[0])):
            note = f"all {n} values equal: every resample gives the same value; the interval collapses to it"
            out[i] = Interval(est, est, est, 0.0, "degenerate", note, n, k)
        elif k < BOOTSTRAP_T_MIN_UNITS:
            out[i] = _student_t_interval(v, codes, k, confidence_level)
        else:
            jobs.append(_Job(i, v, codes, k, ""))
    for chunk in _chunks(jobs, n_resamples, 6):
        results = _bootstrap_t_chunk(
            chunk, chunk[0].k, confidence_level=confidence_level, n_resamples=n_resamples, seed=seed
        )
        for job, res in zip(chunk, results, strict=True):
            out[job.cell] = res
    return [o for o in out if o is not None]
