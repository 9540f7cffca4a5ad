"""Classical baselines: the ``knn`` (BIANCA-style) and ``lesion_growing`` (LST-style) adapters on hand-made
phantoms whose lesions are known voxel by voxel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_helpers import make_adapter

from robusteval.data.case import Case
from robusteval.errors import CaseError
from robusteval.models.classical import relative_coordinates
from robusteval.models.knn import knn_features, sample_training_points


def phantom(seed: int = 0) -> Case:
    """A 40x40x40 "brain" at 2 mm: CSF core (T1 dark, FLAIR dark), WM shell (T1 bright), GM rim (T1 mid, FLAIR
    mid); two FLAIR-hyperintense lesions (T1 hypointense, as WMH are) inside the WM; outside zero."""
    rng = np.random.default_rng(seed)
    shape = (40, 40, 40)
    r = np.linalg.norm(np.indices(shape) - 19.5, axis=0)
    t1 = np.select([r < 5, r < 14, r < 18], [0.3, 1.0, 0.6], 0.0).astype(np.float32)
    flair = np.select([r < 5, r < 14, r < 18], [0.2, 0.6, 0.75], 0.0).astype(np.float32)
    label = np.zeros(shape, bool)
    label[8:12, 18:22, 18:22] = True
    label[26:29, 18:21, 22:25] = True
    flair[label], t1[label] = 1.4, 0.7
    brain = r < 18
    flair[brain] += rng.normal(0, 0.02, brain.sum()).astype(np.float32)
    t1[brain] += rng.normal(0, 0.02, brain.sum()).astype(np.float32)
    return Case(f"p{seed}", f"s{seed}", "A", "x", {"flair": flair, "t1": t1}, label, np.diag([2.0, 2.0, 2.0, 1.0]))


def dsc(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


def test_relative_coordinates_span_the_bounding_box() -> None:
    mask = np.zeros((5, 6, 7), bool)
    mask[1, 2, 3] = mask[3, 4, 6] = mask[2, 3, 4] = True
    np.testing.assert_allclose(relative_coordinates(mask), [[0, 0, 0], [0.5, 0.5, 1 / 3], [1, 1, 1]])


def test_knn_features_are_intensities_local_means_and_position() -> None:
    case = phantom()
    x = np.stack([case.images["flair"], case.images["t1"]])
    mask = x[0] != 0
    f = knn_features(x, (2.0, 2.0, 2.0), mask, smoothing_mm=2.0, spatial_weight=3.0)
    assert f.shape == (mask.sum(), 7)
    np.testing.assert_array_equal(f[:, 0], x[0][mask])
    np.testing.assert_array_equal(f[:, 1], x[1][mask])
    assert f[:, 4:].min() == 0.0
    assert f[:, 4:].max() == pytest.approx(3.0)


def train_knn(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    feats, labels = [], []
    for seed in (1, 2):
        c = phantom(seed)
        x = np.stack([c.images["flair"], c.images["t1"]])
        f, y = sample_training_points(x, c.label, c.spacing_mm, rng, lesion_points=50, nonlesion_points=300)
        assert y.sum() == 50
        assert len(y) == 350
        feats.append(f)
        labels.append(y)
    path = tmp_path / "knn.npz"
    np.savez(path, features=np.concatenate(feats), labels=np.concatenate(labels))
    return path


def test_knn_finds_the_phantom_lesions(tmp_path: Path) -> None:
    samples = train_knn(tmp_path)
    params = {"samples": samples.name, "k": 5, "normalization": "none", "spatial_weight": 0.0}
    pred = make_adapter("knn", params, tmp_path).predict(phantom(0))
    case = phantom(0)
    assert dsc(pred.mask, case.label) > 0.8
    np.testing.assert_array_equal(pred.mask, pred.prob >= 0.5)
    assert pred.prob.min() >= 0.0
    assert pred.prob.max() <= 1.0
    assert (pred.prob[case.images["flair"] == 0] == 0).all()
    # the FLAIR floor skips dark voxels only: the same lesions are found
    floored = make_adapter("knn", {**params, "flair_floor": 1.0}, tmp_path).predict(case)
    np.testing.assert_array_equal(floored.mask, pred.mask)


def test_knn_refuses_pickles_and_missing_files(tmp_path: Path) -> None:
    np.savez(tmp_path / "obj.npz", features=np.array([{"a": 1}], dtype=object), labels=np.zeros(1))
    with pytest.raises(ValueError, match=r"not an \.npz of features and labels"):
        make_adapter("knn", {"samples": "obj.npz"}, tmp_path)
    with pytest.raises(ValueError, match="file not found"):
        make_adapter("knn", {"samples": "nope.npz"}, tmp_path)
    with pytest.raises(ValueError, match="unknown params"):
        make_adapter("knn", {"samples": "obj.npz", "kk": 3}, tmp_path)


def test_lesion_growing_segments_the_phantom_lesions() -> None:
    case = phantom(0)
    model = make_adapter("lesion_growing", {"seed_z": 20.0, "grow_z": 15.0, "normalization": "none"})
    pred = model.predict(case)
    assert dsc(pred.mask, case.label) > 0.95
    np.testing.assert_array_equal(pred.mask, pred.prob >= 0.5)
    # no seed above the seed threshold: nothing grows, although voxels pass the growing threshold
    none = make_adapter("lesion_growing", {"seed_z": 1e6, "grow_z": 15.0, "normalization": "none"}).predict(case)
    assert not none.mask.any()
    assert none.prob.max() < 0.5


def test_classical_adapters_name_the_model_for_a_missing_modality(tmp_path: Path) -> None:
    case = phantom(0)
    case = case.with_(images={"flair": case.images["flair"]})
    with pytest.raises(CaseError, match=r"model m: .*t1"):
        make_adapter("lesion_growing", {}).predict(case)
    with pytest.raises(CaseError, match="model m: needs modality 't1'"):
        make_adapter("lesion_growing", {"modalities": ["flair"]}).predict(case)
