"""Statistics benchmark: bootstrap CIs (mean and median) of every cell of a default-sized run.

Ours: ``robusteval.stats.bootstrap_intervals``, vectorized over all cells (one ``scipy.stats.bootstrap``
call per group of cells with equal n). Peer: the per-cell loop, one ``scipy.stats.bootstrap`` call per cell
and statistic with the same seed. Both give the same intervals; the largest difference, relative to the
interval's width, is printed.
"""

from __future__ import annotations

__all__ = ["run"]

import time
import warnings

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from benchmarks.common import BenchRow, best_of
from robusteval.stats import bootstrap_intervals
from robusteval.stats.synthetic import make_cases

N_RESAMPLES = 10_000
SEED = 0


def _cells() -> list[NDArray[np.float64]]:
    """6 models x 42 conditions x 10 metrics, 10-20 cases per cell (failures thin some cells)."""
    shifts = {f"shift{i}": "artifact" for i in range(8)}
    extra = [f"metric{i}" for i in range(8)]
    cases = make_cases(
        n_id=15, ood_sites={"B": 12, "C": 20}, shifts=shifts, extra_metrics=extra, fail_rate=0.1, seed=SEED
    )
    cases = cases.loc[cases["status"] == "ok"]
    samples: list[NDArray[np.float64]] = []
    for _, frame in cases.groupby(["model", "shift", "severity", "split"], sort=True):
        for metric in ["dsc", "hd95", *extra]:
            values = frame[metric].dropna().to_numpy(dtype=np.float64)
            if len(values) >= 3:
                samples.append(values)
    return samples


def _loop(samples: list[NDArray[np.float64]]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {"mean": [], "median": []}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # scipy warns where BCa is undefined (tied medians)
        for name, fn in (("mean", np.mean), ("median", np.median)):
            for x in samples:
                res = stats.bootstrap(
                    (x,),
                    fn,
                    n_resamples=N_RESAMPLES,
                    vectorized=True,
                    axis=-1,
                    rng=np.random.default_rng(SEED),
                )
                out[name].append((float(res.confidence_interval.low), float(res.confidence_interval.high)))
    return out


def run() -> list[BenchRow]:
    samples = _cells()
    ours_result = bootstrap_intervals(samples, statistics=("mean", "median"), n_resamples=N_RESAMPLES, seed=SEED)
    ours_s = best_of(
        lambda: bootstrap_intervals(samples, statistics=("mean", "median"), n_resamples=N_RESAMPLES, seed=SEED)
    )
    t0 = time.perf_counter()
    peer_result = _loop(samples)
    peer_s = time.perf_counter() - t0
    diffs = {}
    for name in ("mean", "median"):
        ours = np.array([(i.low, i.high) for i in ours_result[name]])
        peer = np.array(peer_result[name])
        # The peer's BCa is undefined (NaN) where scipy warns; ours then uses the percentile fallback.
        ok = np.isfinite(peer).all(axis=1) & (peer[:, 1] > peer[:, 0])
        rel = np.abs(ours[ok] - peer[ok]).max(axis=1) / (peer[ok, 1] - peer[ok, 0])
        diffs[name] = float(rel.max()) if ok.any() else float("nan")
    return [
        BenchRow(
            name=f"bootstrap CIs mean+median, {len(samples)} cells",
            ours_s=ours_s,
            peer="scipy.bootstrap per-cell loop",
            peer_s=peer_s,
            goal=f">=30x; max |dCI|/width: mean {diffs['mean']:.1e}, median {diffs['median']:.1e}",
        )
    ]
