"""The PyTorch implementations reproduce TorchIO's output for the same recorded parameters."""

from __future__ import annotations

import numpy as np
import pytest
from shift_helpers import make_shift

from robusteval.data.case import Case
from robusteval.shifts._orientation import reorient
from robusteval.shifts._torch_ops import euler_matrix, is_axis_aligned


def variants(case: Case) -> dict[str, Case]:
    """The phantom as stored (RAS), stored flipped and transposed, and with anisotropic voxels off-origin."""
    affine = np.diag([1.5, 2.0, 2.5, 1.0])
    affine[:3, 3] = [10.0, -20.0, 5.0]
    return {
        "ras": case,
        "lps-permuted": reorient(case, [1, 0, 2], [0], keep_header=False),
        "anisotropic": case.with_(affine=affine),
    }


@pytest.mark.parametrize("name", ["bias_field", "elastic", "motion"])
@pytest.mark.parametrize("variant", ["ras", "lps-permuted", "anisotropic"])
def test_torch_backend_matches_torchio(name: str, variant: str, phantom_ignore: Case) -> None:
    case = variants(phantom_ignore)[variant]
    reference, fast = make_shift(name), make_shift(name, backend="torch", device="cpu")
    params = reference.sample(4, np.random.default_rng(4))
    a, b = reference.apply(case, params), fast.apply(case, params)
    for m in case.images:
        peak = float(np.abs(a.images[m]).max())
        assert not np.array_equal(a.images[m], case.images[m])
        np.testing.assert_allclose(b.images[m], a.images[m], rtol=0, atol=1e-5 * peak)
        assert b.images[m].dtype == np.float32
    np.testing.assert_array_equal(b.label, a.label)
    assert a.ignore is not None
    assert b.ignore is not None
    np.testing.assert_array_equal(b.ignore, a.ignore)
    np.testing.assert_array_equal(b.affine, a.affine)


def test_torch_elastic_falls_back_to_torchio_for_oblique_affines(phantom_case: Case) -> None:
    c, s = np.cos(0.3), np.sin(0.3)
    affine = np.array([[2 * c, -2 * s, 0, 0], [2 * s, 2 * c, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1.0]])
    assert not is_axis_aligned(affine)
    assert is_axis_aligned(phantom_case.affine)
    case = phantom_case.with_(affine=affine)
    reference, fast = make_shift("elastic"), make_shift("elastic", backend="torch", device="cpu")
    params = reference.sample(2, np.random.default_rng(0))
    np.testing.assert_array_equal(
        fast.apply(case, params).images["flair"], reference.apply(case, params).images["flair"]
    )


def test_euler_matrix_is_itk_zxy_order() -> None:
    sitk = pytest.importorskip("SimpleITK")
    t = sitk.Euler3DTransform()
    t.SetRotation(*np.radians([3.0, -7.0, 11.0]).tolist())
    np.testing.assert_allclose(euler_matrix([3.0, -7.0, 11.0]), np.asarray(t.GetMatrix()).reshape(3, 3), atol=1e-12)
