"""``zoo`` adapter: a model of robusteval's committed default zoo, by entry name (its model card).

A card names the adapter that runs the entry (``monai`` for the networks, ``knn`` and ``lesion_growing`` for the
classical baselines) and that adapter's ``params``, file paths relative to the zoo folder. Protocol params other
than ``entry`` override the card's (e.g. ``threshold``, ``tta_flips``, ``sw_batch_size``).
"""

from __future__ import annotations

__all__ = ["ZOO_DIR", "ZooModel", "load_card", "zoo_entries"]

import json
from pathlib import Path
from typing import Any

from robusteval.data.case import Case
from robusteval.models.base import ADAPTERS, ModelAdapter, Prediction

ZOO_DIR = Path(__file__).parent / "zoo"


def zoo_entries() -> list[str]:
    return sorted(p.stem for p in ZOO_DIR.glob("*.json"))


def load_card(entry: str) -> dict[str, Any]:
    """The model card of a zoo entry: adapter and params, family, training, metrics."""
    path = ZOO_DIR / f"{entry}.json"
    if not path.is_file():
        raise ValueError(f"unknown zoo entry {entry!r}; the zoo has: {', '.join(zoo_entries()) or 'nothing'}")
    card: dict[str, Any] = json.loads(path.read_text())
    return card


def _resolved(params: dict[str, Any]) -> tuple[type[ModelAdapter], dict[str, Any]]:
    """The adapter class and params that run the entry, with the protocol's overrides."""
    card = load_card(str(params["entry"]))
    merged = {**card["params"], **{k: v for k, v in params.items() if k != "entry"}}
    return ADAPTERS.get(card["adapter"]), merged


class ZooModel(ModelAdapter):
    doc = "A committed zoo model by entry name (networks and classical baselines); settings overridable in params."

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        super().__init__(name, params, base_dir, device)
        self.card = load_card(str(params["entry"]))
        adapter, merged = _resolved(params)
        self.inner = adapter(name, merged, ZOO_DIR, device)

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        if "entry" not in params:
            raise ValueError(f"params.entry is required for the zoo adapter; the zoo has: {', '.join(zoo_entries())}")
        adapter, merged = _resolved(params)
        adapter.validate_params(merged, ZOO_DIR)

    @classmethod
    def referenced_files(cls, params: dict[str, Any], base_dir: Path | None) -> list[Path]:
        adapter, merged = _resolved(params)
        return [ZOO_DIR / f"{params['entry']}.json", *adapter.referenced_files(merged, ZOO_DIR)]

    def segmenter(self) -> ModelAdapter:
        return self.inner

    def predict(self, case: Case) -> Prediction:
        return self.inner.predict(case)

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "card": self.card}


ADAPTERS.add("zoo", ZooModel)
