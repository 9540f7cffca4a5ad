"""Checking a data source's ``dataset.params``."""

from __future__ import annotations

__all__ = ["check_params", "resolve_under"]

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from robusteval.errors import RobustEvalError
from robusteval.protocol.schema import DatasetSpec


def check_params(spec: DatasetSpec, allowed: Iterable[str]) -> dict[str, Any]:
    """A copy of ``spec.params`` after checking that every key is one the source knows."""
    known = set(allowed)
    unknown = set(spec.params) - known
    if unknown:
        raise RobustEvalError(
            f"dataset.params: unknown {spec.source} option(s) {sorted(unknown)}; allowed {sorted(known)}"
        )
    return dict(spec.params)


def resolve_under(value: str | Path, base: Path) -> Path:
    """``value`` as a path; a relative one is taken relative to ``base`` (the dataset's folder)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path
