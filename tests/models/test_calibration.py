"""A network's threshold chosen on held-out subjects (models/train.py: calibrate_threshold)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robusteval.data.case import Case
from robusteval.models import train
from robusteval.models.base import Prediction


def _case(i: int, label: np.ndarray) -> Case:
    return Case(f"c{i}", f"c{i}", "A", "s", {"flair": label.astype(np.float32)}, label, np.eye(4))


class _Overconfident:
    """A stand-in network whose probability is 0.95 on the lesion and 0.75 on a 1-voxel shell around it."""

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path, device: str) -> None:
        pass

    def predict(self, case: Case) -> Prediction:
        from scipy import ndimage

        shell = ndimage.binary_dilation(case.label) & ~case.label
        prob = np.where(case.label, 0.95, np.where(shell, 0.75, 0.02)).astype(np.float32)
        return Prediction(prob=prob, mask=prob >= 0.5)


class _Registry:
    def get(self, name: str) -> type[_Overconfident]:
        return _Overconfident


def test_the_threshold_is_the_best_on_held_out_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train, "ADAPTERS", _Registry())
    label = np.zeros((12, 12, 12), dtype=bool)
    label[4:8, 4:8, 4:8] = True  # 64 voxels; its 6-connected shell holds 96
    threshold, scores = train.calibrate_threshold(
        {"adapter": "x", "entry": "e", "params": {}}, [_case(0, label)], Path()
    )
    # thresholds up to 0.7 take the shell too: DSC = 2*64 / (64 + 160); 0.8 and 0.9 take the lesion only: 1.0
    assert scores["0.5"] == pytest.approx(round(128 / 224, 4))
    assert scores["0.8"] == scores["0.9"] == 1.0
    assert threshold == 0.8  # the first of the best
