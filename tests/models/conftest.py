"""Fixtures of the model-adapter tests: one torch thread, a state-dict checkpoint of the tiny UNet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from model_helpers import tiny_unet


@pytest.fixture(autouse=True, scope="package")
def one_torch_thread() -> Iterator[None]:
    """Tiny networks gain nothing from intra-op threads, and on a shared machine they oversubscribe the
    cores (a sliding-window test took 10x longer with 2 threads under load); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """The tiny UNet's state dict (seed 0), saved with torch.save."""
    path = tmp_path / "w.pt"
    torch.save(tiny_unet().state_dict(), path)
    return path
