"""The command line's own commands (``list``); protocol commands are tested in test_protocol.py and test_run.py."""

from __future__ import annotations

import json

import pytest

from robusteval.cli import main
from robusteval.models.zoo_entry import ZOO_DIR, zoo_entries


def test_list_models_shows_every_zoo_entry_classical_ones_without_parameters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The classical cards have ``parameters: null``; the list says so instead of failing on it."""
    assert main(["list", "models"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = {line.split("  ")[0].strip(): line for line in captured.out.splitlines()}
    for entry in zoo_entries():
        card = json.loads((ZOO_DIR / f"{entry}.json").read_text())
        n = card["parameters"]
        size = "no network parameters" if n is None else f"{n:,} parameters"
        dsc = card["metrics"]["id_test_dsc"]
        assert lines[f"zoo {entry}"].endswith(
            f"[{card['family']}] {card['architecture']}, {size}, in-distribution test DSC {dsc}"
        )
    assert "no network parameters" in lines["zoo lst"]
    assert "no network parameters" in lines["zoo bianca"]
