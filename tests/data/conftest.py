"""Fixtures of the data tests: tiny NIfTI writers and a small generated dataset (4 mm, one subject a site)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from numpy.typing import NDArray

from robusteval.data.synthetic import SynthSpec, generate

WriteNifti = Callable[..., Path]


def save_nifti(path: Path, data: NDArray[np.generic], affine: NDArray[np.float64] | None = None) -> Path:
    """Write ``data`` as a NIfTI (gzipped when the name ends in .gz); the parents are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(np.asarray(data), np.eye(4) if affine is None else affine)
    nib.save(img, str(path))
    return path


@pytest.fixture
def write_nifti() -> WriteNifti:
    return save_nifti


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sites A, B, C with one test subject each at 4 mm (seed 0): the generated manifest's path."""
    return generate(SynthSpec(test_subjects=1, resolution_mm=4.0), tmp_path_factory.mktemp("synth") / "ds")
