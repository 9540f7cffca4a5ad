"""Every registered metric works on read-only inputs and never writes to them.

On a Ray cluster the arrays of a case come out of the object store as read-only views of an immutable
buffer; ``setflags(write=False)`` makes an owned array read-only instead. Both kinds are fed here for every
input (prediction, reference, ignore, probability, uncertainty).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from metrics_helpers import random_masks
from numpy.typing import NDArray

from robusteval.metrics import METRICS, MetricConfig, compute_metrics
from tests.read_only import READ_ONLY

CONFIGS = {
    "voxel": MetricConfig(),
    "surfel-edt": MetricConfig(surface="surfel", distance_backend="edt"),
    "kdtree-shifts": MetricConfig(distance_backend="kdtree", lesion_convention="shifts"),
}


def _inputs() -> dict[str, NDArray[Any]]:
    pred, ref = random_masks(3)
    pred[0, :5, :5] = True  # touch the volume edge
    rng = np.random.default_rng(3)
    ignore = np.zeros_like(ref)
    ignore[10:12, 10:14, 5:8] = True
    return {
        "pred": pred,
        "ref": ref,
        "ignore": ignore,
        "prob": np.where(pred, 0.8, 0.2).astype(np.float32) + rng.uniform(0, 0.1, ref.shape).astype(np.float32),
        "uncertainty": rng.random(ref.shape).astype(np.float32),
    }


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("style", sorted(READ_ONLY))
@pytest.mark.parametrize("name", METRICS.names())
def test_metric_accepts_read_only_inputs_and_leaves_them_unchanged(name: str, style: str, config: str) -> None:
    writable = _inputs()
    frozen = {k: READ_ONLY[style](v) for k, v in writable.items()}
    assert not any(a.flags.writeable for a in frozen.values())

    def run(a: dict[str, NDArray[Any]]) -> tuple[dict[str, float], dict[str, str]]:
        return compute_metrics(
            [name],
            a["pred"],
            a["ref"],
            (0.9, 1.1, 2.0),
            ignore=a["ignore"],
            prob=a["prob"],
            uncertainty=a["uncertainty"],
            config=CONFIGS[config],
        )

    values, notes = run(frozen)
    expected_values, expected_notes = run(writable)
    np.testing.assert_array_equal(values[name], expected_values[name])  # NaN == NaN here
    assert notes == expected_notes
    for key, a in _inputs().items():
        np.testing.assert_array_equal(frozen[key], a)  # the inputs are unchanged
