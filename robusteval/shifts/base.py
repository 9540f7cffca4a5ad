"""Shift base class: sample parameters from (severity, rng), apply them deterministically.

Follows TorchIO's random/deterministic pair: :meth:`Shift.sample` draws the parameters once (a JSON-able dict
recorded with every result), :meth:`Shift.apply` is a pure function of (case, params), so replaying the
recorded parameters rebuilds the exact shifted volume.
"""

from __future__ import annotations

__all__ = ["SHIFTS", "Shift", "ShiftOptionError", "Touches"]

from abc import ABC, abstractmethod
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.errors import RobustEvalError
from robusteval.registry import Registry


class ShiftOptionError(RobustEvalError, ValueError):
    """An invalid shift option; the message names the shift, the option and the allowed values."""


class Touches(StrEnum):
    """What a shift changes."""

    IMAGE = "image"  # intensity artifacts: the label is untouched
    IMAGE_AND_LABEL = "image_and_label"  # spatial shifts move both (and ignore mask, annotations) together
    LABEL = "label"  # reference-label noise: the images (and other raters' annotations) are untouched


class Shift(ABC):
    """A family of out-of-distribution perturbations with severities 1..5 (0 is the identity).

    Subclasses set ``name``, ``doc`` (one line for ``list shifts``), ``touches`` and ``family``, take their
    options as keyword arguments (validated in ``__init__``), and implement :meth:`sample` and :meth:`apply`.
    """

    name: ClassVar[str]
    doc: ClassVar[str]
    family: ClassVar[str]
    touches: ClassVar[Touches]
    max_severity: ClassVar[int] = 5

    def __init__(self, **options: Any) -> None:
        if options:
            raise TypeError(f"shift {self.name!r} takes no options, got {sorted(options)}")

    def check_severity(self, severity: int) -> None:
        if not 0 <= severity <= self.max_severity:
            raise ValueError(f"shift {self.name!r}: severity {severity} is not in 0..{self.max_severity}")

    @abstractmethod
    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        """Parameters for ``severity`` (JSON-serializable; severity 0 gives identity parameters)."""

    @abstractmethod
    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        """The shifted case; deterministic in (case, params)."""

    def severity_table(self) -> list[dict[str, Any]]:
        """The documented parameter range at each severity 1..max (for docs and the report)."""
        return []


SHIFTS: Registry[type[Shift]] = Registry("shift")
