"""RobustBench's pattern: every committed zoo model still reproduces its card's in-distribution DSC."""

from __future__ import annotations

from pathlib import Path

import pytest

from robusteval.models.train import RECIPES, evaluate_entry
from robusteval.models.zoo_entry import ZooModel, load_card, zoo_entries

TOLERANCE = 0.02
# Issue 6's bars, so that out-of-distribution drops mean something.
MIN_DSC = {"cnn": 0.6, "hybrid": 0.6, "vit": 0.5}


def test_every_recipe_has_a_committed_card() -> None:
    assert set(RECIPES) <= set(zoo_entries())


@pytest.mark.parametrize("entry", zoo_entries())
def test_zoo_model_reproduces_its_card(entry: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    card = load_card(entry)
    files = ZooModel.referenced_files({"entry": entry}, None)
    assert all(f.stat().st_size <= 10 * 2**20 for f in files), files
    expected = card["metrics"]["id_test_dsc"]
    measured = evaluate_entry(entry, Path(tmp_path_factory.getbasetemp()) / "zoo-cache")
    assert measured == pytest.approx(expected, abs=TOLERANCE)
    assert measured >= MIN_DSC.get(card["family"], 0.0)


def test_compact_state_round_trips_through_load_state_dict() -> None:
    """fp16 floats and int16 integer buffers (values that fit) load back into the network's own dtypes."""
    import torch

    from robusteval.models.train import compact_state

    net = torch.nn.Linear(3, 2)
    net.register_buffer("index", torch.arange(6, dtype=torch.int64))
    net.register_buffer("big", torch.tensor([70_000], dtype=torch.int64))
    state = compact_state(net.state_dict())
    assert state["weight"].dtype == torch.float16
    assert state["index"].dtype == torch.int16
    assert state["big"].dtype == torch.int64  # does not fit int16: kept
    fresh = torch.nn.Linear(3, 2)
    fresh.register_buffer("index", torch.zeros(6, dtype=torch.int64))
    fresh.register_buffer("big", torch.zeros(1, dtype=torch.int64))
    fresh.load_state_dict(state)
    assert fresh.index.dtype == torch.int64
    assert fresh.index.tolist() == list(range(6))
    torch.testing.assert_close(fresh.weight, net.weight.half().float())
