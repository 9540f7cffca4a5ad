"""Fixtures of the model-adapter tests: a state-dict checkpoint of the tiny UNet."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_helpers import tiny_unet


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """The tiny UNet's state dict (seed 0), saved with torch.save."""
    path = tmp_path / "w.pt"
    torch.save(tiny_unet().state_dict(), path)
    return path
