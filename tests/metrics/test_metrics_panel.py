"""The panel as the engine calls it: registry, configuration, context validation, docs in sync."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import box, random_masks

from robusteval.errors import RobustEvalError
from robusteval.metrics import METRICS, PANEL, MetricConfig, MetricContext, compute_metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_panel_lists_every_registered_metric_once() -> None:
    assert sorted(PANEL) == METRICS.names()
    assert len(set(PANEL)) == len(PANEL)


@pytest.mark.parametrize("name", METRICS.names())
def test_registry_entries_declare_their_conventions(name: str) -> None:
    m = METRICS.get(name)
    assert m.name == name
    assert isinstance(m.higher_is_better, bool)
    assert m.doc
    assert m.empty
    assert isinstance(m.unit, str)


def test_docs_table_has_a_row_per_metric() -> None:
    rows = set(re.findall(r"^\| `([a-z0-9_]+)` \|", DOC.read_text(encoding="utf-8"), flags=re.M))
    assert rows == set(METRICS.names())


def test_full_panel_on_a_random_pair_is_finite() -> None:
    pred, ref = random_masks(0)
    prob = np.where(pred, 0.9, 0.1).astype(np.float32)
    unc = np.random.default_rng(0).random(ref.shape).astype(np.float32)
    values, notes = compute_metrics(list(PANEL), pred, ref, (1.0, 1.0, 2.0), prob=prob, uncertainty=unc)
    assert notes == {}
    assert list(values) == list(PANEL)
    assert all(math.isfinite(v) for v in values.values())


def test_unknown_metric_is_a_clear_error() -> None:
    ref = box((4, 4, 4), (1, 1, 1), (2, 2, 2))
    with pytest.raises(RobustEvalError, match="unknown metric 'dice'"):
        compute_metrics(["dsc", "dice"], ref, ref, (1.0, 1.0, 1.0))


def test_context_validates_its_inputs() -> None:
    a = np.zeros((4, 4, 4), dtype=bool)
    with pytest.raises(ValueError, match="shape"):
        MetricContext(a, np.zeros((4, 4, 5), dtype=bool), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="prob shape"):
        MetricContext(a, a, (1.0, 1.0, 1.0), prob=np.zeros((4, 4, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="spacing"):
        MetricContext(a, a, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="3D"):
        MetricContext(np.zeros((4, 4), dtype=bool), np.zeros((4, 4), dtype=bool), (1.0, 1.0, 1.0))


def test_config_validates_its_settings() -> None:
    with pytest.raises(ValueError, match="nsd_tolerance_mm"):
        MetricConfig(nsd_tolerance_mm=-1.0)
    with pytest.raises(ValueError, match="surface"):
        MetricConfig(surface="mesh")  # type: ignore[arg-type]
    assert MetricConfig().lesions.connectivity == 26
    assert MetricConfig(lesion_convention="shifts").lesions.iou_threshold == 0.25


def test_roi_crop_does_not_change_values() -> None:
    # The same pair placed in a small and in a large volume, at an offset: identical values.
    pred, ref = random_masks(1, shape=(20, 22, 18))
    big_p = np.zeros((60, 64, 50), dtype=bool)
    big_r = np.zeros_like(big_p)
    big_p[30:50, 5:27, 20:38] = pred
    big_r[30:50, 5:27, 20:38] = ref
    names = [n for n in PANEL if n not in ("ndsc", "auc_pr", "ndsc_aac")]  # ndsc depends on N by design
    small, _ = compute_metrics(names, pred, ref, (1.0, 1.2, 0.9))
    large, _ = compute_metrics(names, big_p, big_r, (1.0, 1.2, 0.9))
    assert large == pytest.approx(small)


def test_non_bool_masks_are_accepted() -> None:
    ref = box((6, 6, 6), (1, 1, 1), (4, 4, 4))
    values, _ = compute_metrics(["dsc", "hd95"], ref.astype(np.uint8), ref.astype(np.float32), (1.0, 1.0, 1.0))
    assert values == {"dsc": 1.0, "hd95": 0.0}
