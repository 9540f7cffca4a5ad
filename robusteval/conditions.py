"""The condition of a result: one key type, ``(shift, severity)``, with one label, one file name and one parser.

A condition is the unshifted ``clean`` case (severity 0) or a protocol's shift condition at one severity. It is
spelled two ways, each in one place:

- :attr:`ConditionKey.label`, ``motion@2``: how statistics records (``condition``), the report and its figures
  name it;
- :attr:`ConditionKey.slug`, ``motion-s2``: the file-safe name of exported test sets
  (``<slug>/<case_id>_<modality>.nii.gz``) and of the ``{condition}`` placeholder of the ``predictions``
  adapter's patterns.

:meth:`ConditionKey.parse` reads either spelling back. ``cases.csv`` keeps the two parts in its ``shift`` and
``severity`` columns.
"""

from __future__ import annotations

__all__ = ["CLEAN", "ConditionKey", "param_text", "severity_value"]

import math
from dataclasses import dataclass
from typing import Any

CLEAN = "clean"
_LABEL_SEP = "@"
_SLUG_SEP = "-s"


def severity_value(severity: float) -> int | float:
    """A severity as an ``int`` when integral (as written in labels: ``motion@2``, not ``motion@2.0``)."""
    s = float(severity)
    return int(s) if math.isfinite(s) and s.is_integer() else s


@dataclass(frozen=True)
class ConditionKey:
    """``(shift, severity)``; ``shift`` is ``clean`` (severity 0) or a protocol's condition name."""

    shift: str
    severity: int | float = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shift", str(self.shift))
        object.__setattr__(self, "severity", 0 if self.shift == CLEAN else severity_value(self.severity))

    @property
    def is_clean(self) -> bool:
        return self.shift == CLEAN

    @property
    def label(self) -> str:
        """``clean`` or ``<shift>@<severity>`` (``motion@2``): statistics records, the report, its figures."""
        return CLEAN if self.is_clean else f"{self.shift}{_LABEL_SEP}{self.severity}"

    @property
    def slug(self) -> str:
        """``clean`` or ``<shift>-s<severity>`` (``motion-s2``): file and folder names, prediction patterns."""
        return CLEAN if self.is_clean else f"{self.shift}{_SLUG_SEP}{self.severity}"

    def sort_key(self) -> tuple[int, str, float]:
        """Clean first, then by shift name, then numerically by severity."""
        return (0, "", 0.0) if self.is_clean else (1, self.shift, float(self.severity))

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, text: str) -> ConditionKey:
        """The key of a label (``motion@2``) or a slug (``motion-s2``); ``clean`` is clean.

        A ValueError when ``text`` is neither (no severity after the last ``@`` or ``-s``)."""
        text = str(text)
        if text == CLEAN:
            return cls(CLEAN)
        for sep in (_LABEL_SEP, _SLUG_SEP):
            shift, found, severity = text.rpartition(sep)
            if found and shift:
                try:
                    value = float(severity)
                except ValueError:
                    continue
                if math.isfinite(value):
                    return cls(shift, value)
        expected = "'clean', '<shift>@<severity>' or '<shift>-s<severity>'"
        raise ValueError(f"{text!r} is not a condition: expected {expected}")

    @classmethod
    def sort_key_of(cls, text: str) -> tuple[int, str, float]:
        """:meth:`sort_key` of a label or slug; text that is neither sorts by itself after the conditions."""
        try:
            return cls.parse(text).sort_key()
        except ValueError:
            return (2, str(text), 0.0)


def param_text(param: Any) -> str:
    """One searched shift parameter (a worst-case search record's ``params`` entry) as ``shift parameter=value``."""
    if isinstance(param, dict) and {"shift", "parameter", "value"} <= set(param):
        value = param["value"]
        shown = f"{value:.3g}" if isinstance(value, int | float) else str(value)
        return f"{param['shift']} {param['parameter']}={shown}"
    return str(param)
