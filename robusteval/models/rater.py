"""``rater`` adapter: the human baseline. Another annotator's mask of the case, scored like a prediction.

The prediction for a case is its annotation ``params.annotation`` (default ``rater2``; ``Case.annotations``,
read from a manifest's ``label_<name>`` column): mask = the annotation, probability = the mask as float32.
Scored against the reference label (rater 1), it gives the inter-rater agreement: the ceiling a network
cannot meaningfully beat.

The annotation was drawn on the clean images, so it is a prediction for the clean condition only (the
in-distribution cases and the other sites' cases). Label-noise conditions perturb the reference, not the
images, and reuse the clean prediction in the engine as they do for every model. Every other shifted
condition is :class:`PredictionUnavailable` (status ``unavailable``, as for the ``predictions`` adapter
without a file for that condition). A case without the annotation is a :class:`CaseError` (a failed row).
No network runs, so there is no efficiency profile (``not_profiled``).
"""

from __future__ import annotations

__all__ = ["DEFAULT_ANNOTATION", "HumanRater"]

from pathlib import Path
from typing import Any

import numpy as np

from robusteval.data.case import Case
from robusteval.errors import CaseError, PredictionUnavailable
from robusteval.models.base import ADAPTERS, ModelAdapter, Prediction

DEFAULT_ANNOTATION = "rater2"


class HumanRater(ModelAdapter):
    doc = "The human baseline: another rater's annotation of the case (clean and label-noise conditions only)."
    not_profiled = "a human rater's annotation: no network runs, nothing to count or time"

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        super().__init__(name, params, base_dir, device)
        self.annotation = str(params.get("annotation", DEFAULT_ANNOTATION))

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        unknown = set(params) - {"annotation"}
        if unknown:
            raise ValueError(f"unknown params {sorted(unknown)} for the rater adapter; it takes: annotation")
        annotation = params.get("annotation", DEFAULT_ANNOTATION)
        if not isinstance(annotation, str) or not annotation:
            raise ValueError(
                f"params.annotation: expected a rater name (a manifest column label_<name>), got {annotation!r}"
            )

    def predict(self, case: Case) -> Prediction:
        condition = str(case.metadata.get("condition", "clean"))
        if condition != "clean":
            raise PredictionUnavailable(
                f"model {self.name}: the human annotation {self.annotation!r} was drawn on the clean images; "
                "it is a prediction for the clean and label-noise conditions only"
            )
        mask = case.annotations.get(self.annotation)
        if mask is None:
            have = f"; it has {sorted(case.annotations)}" if case.annotations else ""
            raise CaseError(f"model {self.name}: case {case.case_id} has no annotation {self.annotation!r}{have}")
        if mask.shape != case.shape:
            raise CaseError(
                f"model {self.name}: annotation {self.annotation!r} of case {case.case_id} has shape "
                f"{tuple(mask.shape)}, the case {case.shape}"
            )
        binary = np.ascontiguousarray(mask, dtype=bool)
        return Prediction(prob=binary.astype(np.float32), mask=binary)

    def describe(self) -> dict[str, Any]:
        return {"source": "human annotation", "annotation": self.annotation}


ADAPTERS.add("rater", HumanRater)
