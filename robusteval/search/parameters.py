"""Shifts at a *continuous* strength: a named physical parameter -> a deterministic params dict.

The mapping is generic and follows each shift's documented severity table (docs/shifts.md):

- **strength** ``s`` in [0, 5] is a continuous severity. Every numeric column of the table is interpolated
  piecewise-linearly between the identity row (``s = 0``) and rows 1..5; integer columns (``num_transforms``,
  ``count``...) are rounded half up, but never to their identity value when ``s > 0`` (a positive
  strength always perturbs: motion at 0.1 degrees has one movement); the other columns are rounded to 6
  decimals like the tables. At an integer ``s`` the row is exactly the table's, so the parameters equal
  ``shift.sample(s, rng)``.
- **parameter**: ``severity`` (the strength itself) or any table column that is strictly monotone from the
  identity to severity 5 (``degrees_bound`` of ``motion``, ``coefficient_bound`` of ``bias_field``,
  ``relative_std`` of ``rician_noise``, ``gamma`` of ``gamma_compress`` (decreasing)...). A value of that
  column is mapped to the strength at which the interpolated column equals it; every other column follows
  the table at that strength (``motion`` at ``degrees_bound = 2.5``: 5 mm translations, 5 movements).
- ``scanner`` (no table) takes ``severity`` or ``weight = severity / 5``; its own levels are linear in it.
- The random draws (angles, coefficients, noise seeds...) are the shift's own ``sample`` with that row, from a
  seed that does not depend on the strength: one seed gives the same underlying draws scaled by the level
  (common random numbers), so an objective varies smoothly with the parameter.

Supported: every tabled shift whose varying columns are numbers (the artifacts, ``spike`` through
``severity`` only, the label-noise shifts and ``missing_modality``) and ``scanner``. Orientation shifts and
``swap_modalities`` are on/off operations without a continuous parameter.
"""

from __future__ import annotations

__all__ = [
    "MAPPING_VERSION",
    "SEVERITY",
    "Dimension",
    "ParameterInfo",
    "condition_at",
    "default_parameter",
    "level_at",
    "parameter_info",
    "parameters_of",
    "resolve_dimension",
    "shift_at",
    "strength_of",
]

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

import numpy as np

from robusteval.errors import RobustEvalError
from robusteval.shifts import SHIFTS, Shift
from robusteval.shifts._common import TabledShift
from robusteval.shifts.compose import Condition
from robusteval.shifts.scanner import Scanner

SEVERITY = "severity"
MAPPING_VERSION = 2  # bump when the mapping changes: searches recorded under another version do not restore
MAX_STRENGTH = 5.0
_DECIMALS = 6


@dataclass(frozen=True)
class ParameterInfo:
    """A searchable parameter: its values at strengths 0..5 (``knots[0]`` is the identity value)."""

    shift: str
    name: str
    knots: tuple[float, ...]
    integer: bool

    @property
    def identity(self) -> float:
        return self.knots[0]

    @property
    def extreme(self) -> float:
        """The value at severity 5 (the far end of the documented range)."""
        return self.knots[-1]

    @property
    def bounds(self) -> tuple[float, float]:
        """The documented range ``(min, max)``."""
        return (min(self.identity, self.extreme), max(self.identity, self.extreme))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rows(cls: type[TabledShift]) -> list[dict[str, Any]]:
    return [dict(cls.identity), *(dict(cls.table[s]) for s in range(1, 6))]


def _strictly_monotone(values: Sequence[float]) -> bool:
    steps = np.diff(np.asarray(values, dtype=np.float64))
    return bool((steps > 0).all() or (steps < 0).all())


@cache
def parameters_of(shift: str) -> dict[str, ParameterInfo]:
    """The searchable parameters of a registered shift, ``severity`` first then table columns in order.

    Raises :class:`RobustEvalError` for a shift without a continuous parameter.
    """
    cls = SHIFTS.get(shift)
    strengths = tuple(float(s) for s in range(6))
    out = {SEVERITY: ParameterInfo(shift, SEVERITY, strengths, integer=False)}
    if issubclass(cls, Scanner):
        out["weight"] = ParameterInfo(shift, "weight", tuple(s / MAX_STRENGTH for s in strengths), integer=False)
        return out
    if not issubclass(cls, TabledShift):
        raise RobustEvalError(f"shift {shift!r} has no continuous parameter to search")
    rows = _rows(cls)
    for key in rows[0]:
        values = [row.get(key) for row in rows]
        if len({repr(v) for v in values}) > 1 and not all(_is_number(v) for v in values):
            raise RobustEvalError(
                f"shift {shift!r} is an on/off operation ({key!r}: {values[0]!r} -> {values[1]!r}); "
                "it has no continuous parameter to search"
            )
        if all(_is_number(v) for v in values) and _strictly_monotone(cast(list[float], values)):
            integer = all(isinstance(v, int) for v in values)
            out[key] = ParameterInfo(shift, key, tuple(float(cast(float, v)) for v in values), integer)
    return out


def default_parameter(shift: str) -> str:
    """The shift's primary physical parameter: its first monotone table column (else ``severity``)."""
    names = list(parameters_of(shift))
    return names[1] if len(names) > 1 else SEVERITY


def parameter_info(shift: str, parameter: str) -> ParameterInfo:
    """The named parameter of ``shift``; :class:`RobustEvalError` listing the known ones otherwise."""
    known = parameters_of(shift)
    if parameter not in known:
        raise RobustEvalError(f"shift {shift!r} has no searchable parameter {parameter!r}; known: {', '.join(known)}")
    return known[parameter]


def strength_of(info: ParameterInfo, value: float) -> float:
    """The continuous severity in [0, 5] at which the interpolated parameter equals ``value``."""
    knots = np.asarray(info.knots, dtype=np.float64)
    lo, hi = info.bounds
    if not lo - 1e-9 <= value <= hi + 1e-9:
        raise RobustEvalError(
            f"shift {info.shift!r}: {info.name} = {value} is outside its documented range [{lo}, {hi}]"
        )
    if knots[-1] < knots[0]:
        knots, value = -knots, -value
    k = int(np.clip(np.searchsorted(knots, value, side="right") - 1, 0, len(knots) - 2))
    s = k + (value - knots[k]) / (knots[k + 1] - knots[k])
    return float(np.clip(s, 0.0, MAX_STRENGTH))


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def level_at(cls: type[TabledShift], strength: float) -> dict[str, Any]:
    """The table row of ``cls`` at a continuous ``strength`` (see the module docstring)."""
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise RobustEvalError(f"shift {cls.name!r}: strength {strength} is not in [0, 5]")
    rows = _rows(cls)
    k = min(math.floor(strength), 4)
    f = strength - k
    out: dict[str, Any] = {}
    for key, a in rows[k].items():
        b = rows[k + 1][key]
        if not (_is_number(a) and _is_number(b)):
            out[key] = a if f == 0.0 else b  # constant columns (checked in parameters_of)
            continue
        v = float(a) + f * (float(b) - float(a))
        if not all(isinstance(row[key], int) for row in rows):
            out[key] = round(v, _DECIMALS)
            continue
        n = _round_half_up(v)
        zero, one = int(rows[0][key]), int(rows[1][key])
        if n == zero and strength > 0.0 and one != zero:  # any positive strength perturbs: one unit at least
            n = zero + (1 if one > zero else -1)
        out[key] = n
    return out


class _TabledAtStrength:
    """Mixin: ``level`` returns the row at ``strength`` whatever the (ignored) integer severity."""

    strength: float = 0.0

    def level(self, severity: int) -> dict[str, Any]:
        return level_at(cast(type[TabledShift], type(self)), self.strength)


class _ScannerAtStrength:
    """Mixin: ``sample`` passes the continuous strength to ``Scanner.sample`` (levels linear in it)."""

    strength: float = 0.0

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return cast(dict[str, Any], super().sample(self.strength, rng))  # type: ignore[misc]


@cache
def _continuous_class(cls: type[Shift]) -> type[Shift]:
    mixin: type = _ScannerAtStrength if issubclass(cls, Scanner) else _TabledAtStrength
    return cast(type[Shift], type(f"{cls.__name__}AtStrength", (mixin, cls), {"__module__": __name__}))


def shift_at(shift: str, options: dict[str, Any], strength: float) -> Shift:
    """An instance of ``shift`` (with ``options``) whose ``sample`` draws the parameters at ``strength``
    (the severity argument is ignored); ``apply`` is the shift's own."""
    parameters_of(shift)  # raises for shifts without a continuous parameter
    instance = _continuous_class(SHIFTS.get(shift))(**options)
    instance.strength = float(strength)  # type: ignore[attr-defined]
    return instance


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: ``shift`` (with ``options``) at ``parameter`` values in ``[low, high]``."""

    shift: str
    parameter: str
    low: float
    high: float
    options: dict[str, Any] = field(default_factory=dict)
    key: str = ""

    @property
    def info(self) -> ParameterInfo:
        return parameter_info(self.shift, self.parameter)

    @property
    def identity(self) -> float:
        return self.info.identity

    @property
    def far(self) -> float:
        """The end of the range away from the identity value (breaking-point searches go toward it)."""
        return self.low if abs(self.low - self.identity) > abs(self.high - self.identity) else self.high

    def strength(self, value: float) -> float:
        return strength_of(self.info, value)

    def describe(self, value: float) -> dict[str, Any]:
        """A JSON-able record of one value: shift, options, parameter, value and its strength."""
        return {
            "shift": self.shift,
            "options": dict(self.options),
            "parameter": self.parameter,
            "value": float(value),
            "strength": round(self.strength(value), _DECIMALS),
        }


def resolve_dimension(
    shift: str, parameter: str | None, options: dict[str, Any], value_range: Sequence[float] | None, key: str
) -> Dimension:
    """A :class:`Dimension` with defaults filled in: the primary parameter and the documented range."""
    name = parameter or default_parameter(shift)
    info = parameter_info(shift, name)
    lo, hi = info.bounds
    if value_range is not None:
        a, b = float(value_range[0]), float(value_range[1])
        if not a < b:
            raise RobustEvalError(f"shift {shift!r}: range [{a}, {b}] of {name} must have low < high")
        if a < lo - 1e-9 or b > hi + 1e-9:
            raise RobustEvalError(
                f"shift {shift!r}: range [{a}, {b}] of {name} leaves its documented range [{lo}, {hi}]"
            )
        lo, hi = a, b
    SHIFTS.get(shift)(**options)  # option errors (ShiftOptionError) surface here
    return Dimension(shift=shift, parameter=name, low=lo, high=hi, options=dict(options), key=key)


def condition_at(dims: Sequence[Dimension], values: Sequence[float], name: str = "search") -> Condition:
    """The composition of ``dims`` (in order) at ``values``: a :class:`Condition` for ``sample_condition``."""
    steps = tuple(shift_at(d.shift, d.options, d.strength(v)) for d, v in zip(dims, values, strict=True))
    return Condition(name=name, steps=steps, severities=tuple(None for _ in steps))
