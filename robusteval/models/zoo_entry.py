"""``zoo`` adapter: a model of robusteval's committed default zoo, by entry name (its model card)."""

from __future__ import annotations

__all__ = ["ZOO_DIR", "ZooModel", "load_card", "zoo_entries"]

import json
from pathlib import Path
from typing import Any

from robusteval.models.base import ADAPTERS, InferenceSettings
from robusteval.models.monai_net import MonaiNetwork

ZOO_DIR = Path(__file__).parent / "zoo"


def zoo_entries() -> list[str]:
    return sorted(p.stem for p in ZOO_DIR.glob("*.json"))


def load_card(entry: str) -> dict[str, Any]:
    """The model card of a zoo entry: architecture, kwargs, inference settings, training, metrics."""
    path = ZOO_DIR / f"{entry}.json"
    if not path.is_file():
        raise ValueError(f"unknown zoo entry {entry!r}; the zoo has: {', '.join(zoo_entries()) or 'nothing'}")
    card: dict[str, Any] = json.loads(path.read_text())
    return card


class ZooModel(MonaiNetwork):
    doc = "A committed zoo model by entry name; inference settings from its card, overridable in params."

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        card = load_card(str(params["entry"]))
        merged = {
            "architecture": card["architecture"],
            "kwargs": card["kwargs"],
            "checkpoint": str(ZOO_DIR / card["weights"]),
            **card["inference"],
            **{k: v for k, v in params.items() if k != "entry"},
        }
        self.card = card
        super().__init__(name, merged, None, device)

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        if "entry" not in params:
            raise ValueError(f"params.entry is required for the zoo adapter; the zoo has: {', '.join(zoo_entries())}")
        load_card(str(params["entry"]))
        unknown = set(params) - {"entry"} - set(InferenceSettings.model_fields)
        if unknown:
            raise ValueError(f"unknown params {sorted(unknown)} for the zoo adapter")

    @classmethod
    def referenced_files(cls, params: dict[str, Any], base_dir: Path | None) -> list[Path]:
        entry = str(params["entry"])
        return [ZOO_DIR / f"{entry}.json", ZOO_DIR / str(load_card(entry)["weights"])]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "card": self.card}


ADAPTERS.add("zoo", ZooModel)
