"""Working orientation of the torch adapters: the same scan stored RAS, ARS, SAR or LPS (header consistent)
gets the same prediction, voxel for voxel once mapped back, and the same DSC.

The stored versions are made with nibabel (``apply_orientation`` and ``inv_ornt_aff``), independently of
robusteval's own reorientation code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from model_helpers import KWARGS, ROI, make_adapter, make_case
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.data.synthetic import SITES, acquire, make_anatomy
from robusteval.metrics import compute_metrics
from robusteval.models import ADAPTERS
from robusteval.models.base import InferenceSettings, TorchSegmenter
from robusteval.models.orientation import Reorientation

STORED = ["RAS", "ARS", "SAR", "LPS"]


def _transform(start: str, end: str) -> NDArray[np.float64]:
    return np.asarray(ornt_transform(axcodes2ornt(start), axcodes2ornt(end)))


def stored_as(case: Case, codes: str) -> Case:
    """The RAS ``case`` stored with array axes ``codes``, the affine updated so every voxel keeps its place."""
    t = _transform("RAS", codes)

    def move(a: NDArray[Any]) -> NDArray[Any]:
        return np.ascontiguousarray(apply_orientation(a, t))

    out = case.with_(
        images={m: move(img) for m, img in case.images.items()},
        label=move(case.label),
        affine=case.affine @ inv_ornt_aff(t, case.shape),
    )
    assert nib.aff2axcodes(out.affine) == tuple(codes)
    return out


def to_ras(a: NDArray[Any], codes: str) -> NDArray[Any]:
    return np.asarray(apply_orientation(a, _transform(codes, "RAS")))


def anisotropic_case() -> Case:
    """The tiny two-channel case of the adapter tests, RAS with voxels of 1 x 2 x 3 mm."""
    affine = np.diag([1.0, 2.0, 3.0, 1.0])
    affine[:3, 3] = [-10.0, 4.0, 2.5]
    return make_case().with_(affine=affine)


@pytest.mark.parametrize("codes", STORED)
def test_reorientation_permutes_and_flips_like_nibabel(codes: str) -> None:
    case = stored_as(anisotropic_case(), codes)
    r = Reorientation.between(case.affine, "RAS")
    x = np.random.default_rng(0).random((2, *case.shape)).astype(np.float32)
    forward = r.forward(x)
    for c in range(2):
        np.testing.assert_array_equal(forward[c], to_ras(x[c], codes))
    np.testing.assert_array_equal(r.backward(forward), x)
    assert r.shape(case.shape) == make_case().shape
    assert r.spacing_mm(case.spacing_mm) == (1.0, 2.0, 3.0)
    assert r.identity == (codes == "RAS")
    assert Reorientation.between(case.affine, None).identity


def _tiny_unet(checkpoint: Path, **settings: Any) -> TorchSegmenter:
    params = {"architecture": "UNet", "kwargs": KWARGS, "checkpoint": str(checkpoint), "roi_size": ROI, **settings}
    model = make_adapter("monai", params)
    assert isinstance(model, TorchSegmenter)
    return model


def test_same_scan_in_any_stored_orientation_gets_the_same_prediction(checkpoint: Path) -> None:
    # A working spacing of 2 mm on 1 x 2 x 3 mm voxels: the spacing must follow the axes to the model's.
    model = _tiny_unet(checkpoint, spacing_mm=[2.0, 2.0, 2.0], tta_flips=True)
    assert model.settings.orientation == "RAS"  # the default
    base = anisotropic_case()
    first = model.predict(base)
    assert first.uncertainty is not None
    for codes in STORED:
        case = stored_as(base, codes)
        pred = model.predict(case)
        assert pred.prob.shape == pred.mask.shape == case.shape  # on the case's own grid
        assert model.working_shape(case) == model.working_shape(base) == (10, 22, 27)
        assert pred.uncertainty is not None
        np.testing.assert_array_equal(to_ras(pred.prob, codes), first.prob)
        np.testing.assert_array_equal(to_ras(pred.mask, codes), first.mask)
        np.testing.assert_array_equal(to_ras(pred.uncertainty, codes), first.uncertainty)


def test_orientation_null_feeds_the_arrays_as_stored(checkpoint: Path) -> None:
    model = _tiny_unet(checkpoint, orientation=None)
    base = anisotropic_case()
    ras = model.predict(base).prob
    ars = to_ras(model.predict(stored_as(base, "ARS")).prob, "ARS")
    assert np.abs(ars - ras).max() > 0.01  # a network is not invariant to transposed input


def test_zoo_model_scores_the_same_dsc_in_every_stored_orientation() -> None:
    # A synthetic subject at 4 mm (the zoo U-Net resamples to its 2 mm and RAS).
    anatomy = make_anatomy(np.random.default_rng(1), 4.0)
    images, label, affine = acquire(anatomy, SITES["A"], np.random.default_rng(101), 4.0)
    base = Case("synth-1", "synth-1", "A", SITES["A"].description, images, label.astype(bool), affine)
    assert nib.aff2axcodes(base.affine) == ("R", "A", "S")

    def scores(orientation: str | None) -> tuple[list[float], list[NDArray[np.bool_]]]:
        model = ADAPTERS.get("zoo")("unet", {"entry": "unet", "orientation": orientation}, None, "cpu")
        dsc, masks = [], []
        for codes in STORED:
            case = stored_as(base, codes)
            pred = model.predict(case)
            values, _ = compute_metrics(["dsc"], pred.mask, case.label, case.spacing_mm)
            dsc.append(values["dsc"])
            masks.append(to_ras(pred.mask, codes))
        return dsc, masks

    dsc, masks = scores("RAS")
    assert dsc[0] > 0.5
    assert dsc == [dsc[0]] * len(STORED)
    for m in masks[1:]:
        np.testing.assert_array_equal(m, masks[0])
    as_stored, _ = scores(None)  # before: the volumes went to the network as stored
    assert len(set(as_stored)) > 1


@pytest.mark.parametrize("codes", ["ras", "LPI", "SAR", "PIL"])
def test_orientation_setting_accepts_axis_codes(codes: str) -> None:
    assert InferenceSettings(orientation=codes).orientation == codes.upper()


@pytest.mark.parametrize("codes", ["RAR", "RA", "XYZ", "RASL", "LRS"])
def test_orientation_setting_rejects_bad_codes(codes: str) -> None:
    with pytest.raises(ValueError, match="orientation must be three axis codes"):
        InferenceSettings(orientation=codes)
