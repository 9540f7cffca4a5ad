"""Fixtures for the statistics tests: a small hand-made cases table with known cell means."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

# Cell means of the hand table (model -> condition -> DSC mean). Per-case values add zero-mean offsets.
HAND_MEANS: dict[str, dict[str, float]] = {
    "a": {"clean": 0.80, "site_b": 0.60, "noise@1": 0.70, "noise@2": 0.60, "flip@1": 0.75},
    "b": {"clean": 0.90, "site_b": 0.75, "noise@1": 0.85, "noise@2": 0.70, "flip@1": 0.80},
    "c": {"clean": 0.70, "site_b": 0.50, "noise@1": 0.65, "noise@2": 0.60, "flip@1": 0.68},
}
HAND_FAMILIES = {"a": "cnn", "b": "vit", "c": "hybrid"}
ID_OFFSETS = (-0.03, -0.01, 0.01, 0.03)
OOD_OFFSETS = (-0.02, 0.0, 0.02)


def _row(
    model: str, case: str, subject: str, site: str, split: str, shift: str, family: str, sev: int
) -> dict[str, object]:
    return {
        "model": model,
        "family": HAND_FAMILIES[model],
        "case_id": case,
        "subject_id": subject,
        "site": site,
        "scanner": f"scanner-{site}",
        "split": split,
        "shift": shift,
        "shift_family": family,
        "severity": sev,
        "seed": 0,
        "status": "ok",
        "error": "",
    }


def build_hand_table() -> pd.DataFrame:
    """3 models x (4 ID cases, 3 OOD cases at site B) x (clean, noise@1, noise@2, flip@1 label noise)."""
    rows = []
    for model, means in HAND_MEANS.items():
        for i, off in enumerate(ID_OFFSETS):
            case, subject = f"id{i}", f"s{i}"
            rows.append({**_row(model, case, subject, "A", "id", "clean", "clean", 0), "dsc": means["clean"] + off})
            for sev in (1, 2):
                rows.append(
                    {
                        **_row(model, case, subject, "A", "ood", "noise", "artifact", sev),
                        "dsc": means[f"noise@{sev}"] + off,
                    }
                )
            rows.append(
                {
                    **_row(model, case, subject, "A", "ood", "flip", "label_noise", 1),
                    "dsc": means["flip@1"] + off,
                }
            )
        for i, off in enumerate(OOD_OFFSETS):
            rows.append(
                {
                    **_row(model, f"ood{i}", f"t{i}", "B", "ood", "clean", "site", 0),
                    "dsc": means["site_b"] + off,
                }
            )
    df = pd.DataFrame(rows)
    df["hd95"] = 20.0 * (1.0 - df["dsc"])
    return df


@pytest.fixture
def hand_table() -> pd.DataFrame:
    return build_hand_table()


@pytest.fixture
def rng_factory() -> Callable[[int], np.random.Generator]:
    return np.random.default_rng
