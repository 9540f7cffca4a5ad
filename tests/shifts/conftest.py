"""Fixtures of the shift tests: the phantom (cheap) and one synthetic subject at 4 mm (built once)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from shift_helpers import phantom

from robusteval.data.case import Case
from robusteval.data.synthetic import SITES, acquire, make_anatomy


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread while the shift tests run: on these small volumes threading overhead dominates, and
    on shared cores OpenMP spinning made TorchIO/PyTorch shifts 3-5x slower. Restored after each module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def phantom_case() -> Case:
    return phantom()


@pytest.fixture(scope="session")
def phantom_ignore() -> Case:
    return phantom(with_ignore=True)


@pytest.fixture(scope="session")
def anatomy_case() -> Case:
    """A synthetic subject (high lesion load) imaged by site A at 4 mm: about 38 x 47 x 40 voxels."""
    anatomy = make_anatomy(np.random.default_rng(1), 4.0)
    images, label, affine = acquire(anatomy, SITES["A"], np.random.default_rng(101), 4.0)
    return Case("synth-1", "synth-1", "A", SITES["A"].description, images, label.astype(bool), affine)
