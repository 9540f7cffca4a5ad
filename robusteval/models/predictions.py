"""``predictions`` adapter: precomputed NIfTI predictions of any external tool (LST, BIANCA, nnU-Net, ...).

Files are found by path patterns (relative to the protocol folder unless absolute) with the placeholders
``{case_id}``, ``{condition}`` (``clean`` or ``<condition>-s<severity>``, e.g. ``bias_field-s3``: the names of
the engine's exported test sets), ``{subject_id}``, ``{site}`` and ``{scanner}``:

- ``mask``: a binary (or integer label) map, voxels > 0 are lesion;
- ``prob``: a foreground probability map in [0, 1]; without ``mask``, mask = ``prob >= threshold``;
  without ``prob``, the probability map is the mask itself (0/1).

A missing file is :class:`PredictionUnavailable` (the row says ``unavailable``, not ``failed``), for the clean
condition too. A pattern without ``{condition}`` is a prediction on the clean images: every shifted condition
is unavailable (a prediction of the clean image cannot stand for a shifted one; label-only shifts reuse the
clean prediction in the engine anyway). A file on another grid than the case (shape, or voxel corners more
than ``AFFINE_TOLERANCE_MM`` apart), non-finite values, a probability outside [0, 1] or a non-integer mask is
a :class:`CaseError` with the reason.

A pattern that matches no file at all, or names no file for any work item of the run, is almost surely a
wrong pattern (every row would be unavailable): ``validate`` and the start of ``run`` refuse it
(:meth:`PrecomputedPredictions.check_files`, exit 2), naming the pattern and the folder searched.
"""

from __future__ import annotations

__all__ = ["PLACEHOLDERS", "PrecomputedPredictions", "pattern_fields", "search_folder"]

import glob
import hashlib
import os
import string
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.data.loading import AFFINE_TOLERANCE_MM, grid_deviation_mm
from robusteval.errors import CaseError, PredictionUnavailable
from robusteval.models.base import ADAPTERS, ModelAdapter, Prediction, resolve

PLACEHOLDERS = ("case_id", "condition", "subject_id", "site", "scanner")
OWN_KEYS = {"mask", "prob", "threshold"}
PROB_SLACK = 1e-6  # float32 rounding: a probability within this of [0, 1] is clipped, further out is an error


def pattern_fields(pattern: str, param: str) -> set[str]:
    """The placeholder names in ``pattern``; ValueError naming ``params.<param>`` for a malformed pattern."""
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ValueError(f"params.{param}: malformed pattern {pattern!r}: {exc}") from None
    fields: set[str] = set()
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conv:
            raise ValueError(
                f"params.{param}: unknown placeholder {{{name}}} in {pattern!r}; use {', '.join(PLACEHOLDERS)}"
            )
        fields.add(name)
    if "case_id" not in fields:
        raise ValueError(f"params.{param}: {pattern!r} has no {{case_id}}: every case would read the same file")
    return fields


def _glob_of(pattern: str) -> str:
    """A glob matching every file a pattern can name (literal parts escaped, placeholders → ``*``)."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(pattern):
        parts.append(glob.escape(literal))
        if name is not None:
            parts.append("*")
    return "".join(parts)


def _root(base_dir: Path | None) -> Path:
    """The folder relative patterns resolve against: the protocol's, or the working directory."""
    return base_dir if base_dir is not None else Path.cwd()


def _matching_files(pattern: str, base_dir: Path | None) -> list[Path]:
    """Every existing file ``pattern`` can name."""
    pat = _glob_of(pattern)
    full = pat if Path(pattern).is_absolute() else os.path.join(glob.escape(str(_root(base_dir))), pat)
    return [Path(f) for f in glob.glob(full) if os.path.isfile(f)]


def search_folder(pattern: str, base_dir: Path | None) -> Path:
    """The folder a pattern's files are looked for in: its path up to the first placeholder."""
    literal = next(iter(string.Formatter().parse(pattern)), ("", None, None, None))[0]
    head = literal[: literal.rfind("/") + 1] if "/" in literal else ""
    return _root(base_dir) / head if head else _root(base_dir)


def _where(pattern: str, base_dir: Path | None) -> str:
    folder = search_folder(pattern, base_dir)
    return f"searched {folder}" + ("" if folder.is_dir() else ", which does not exist")


def _read(path: Path, what: str, case: Case, model: str) -> NDArray[np.float64]:
    """The 3D data of ``path``, checked finite and on the case's grid (CaseError otherwise)."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj, dtype=np.float64)  # type: ignore[attr-defined]
        affine = np.asarray(img.affine, dtype=np.float64)  # type: ignore[attr-defined]
    except Exception as exc:
        raise CaseError(f"model {model}: cannot read {what} {path}: {type(exc).__name__}: {exc}") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.shape != case.shape:
        raise CaseError(
            f"model {model}: {what} {path.name} is on another grid: shape {tuple(data.shape)} != case "
            f"{case.case_id}'s {case.shape}"
        )
    deviation = grid_deviation_mm(case.shape, affine, case.affine)
    if not np.isfinite(deviation) or deviation > AFFINE_TOLERANCE_MM:
        raise CaseError(
            f"model {model}: {what} {path.name} is on another grid: its affine differs from case "
            f"{case.case_id}'s by {deviation:.4g} mm at the corners (tolerance {AFFINE_TOLERANCE_MM} mm)"
        )
    bad = int((~np.isfinite(data)).sum())
    if bad:
        raise CaseError(f"model {model}: {what} {path.name} has {bad} NaN/Inf voxels")
    return data


class PrecomputedPredictions(ModelAdapter):
    doc = "Precomputed NIfTI masks and/or probability maps of any tool, by {case_id}/{condition} pattern."

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        super().__init__(name, params, base_dir, device)
        self.patterns: dict[str, str] = {k: str(params[k]) for k in ("mask", "prob") if k in params}
        self.fields: dict[str, set[str]] = {k: pattern_fields(p, k) for k, p in self.patterns.items()}
        self.threshold = float(params.get("threshold", 0.5))

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        if "mask" not in params and "prob" not in params:
            raise ValueError("params.mask or params.prob (a path pattern with {case_id}) is required")
        unknown = set(params) - OWN_KEYS
        if unknown:
            raise ValueError(f"unknown params {sorted(unknown)} for the predictions adapter")
        for key in ("mask", "prob"):
            if key in params:
                if not isinstance(params[key], str):
                    raise ValueError(f"params.{key}: expected a path pattern string")
                pattern_fields(params[key], key)
        threshold = params.get("threshold", 0.5)
        if not isinstance(threshold, int | float) or not 0.0 < float(threshold) < 1.0:
            raise ValueError(f"params.threshold: expected a number in (0, 1), got {threshold!r}")

    @classmethod
    def check_files(
        cls, params: dict[str, Any], base_dir: Path | None, targets: Sequence[Mapping[str, str]] | None = None
    ) -> None:
        """ValueError naming the pattern and the folder searched when a pattern matches no file at all, or
        (``targets`` given) when no planned work item has its files: every row would be unavailable."""
        patterns: dict[str, str] = {k: str(params[k]) for k in ("mask", "prob") if k in params}
        for key, pattern in patterns.items():
            if not _matching_files(pattern, base_dir):
                relative = "" if Path(pattern).is_absolute() else " (a relative one is read from the protocol's folder)"
                raise ValueError(
                    f"params.{key}: pattern {pattern!r} matches no file ({_where(pattern, base_dir)}): every row "
                    f"of this model would be unavailable; check the pattern{relative}"
                )
        if not targets:
            return
        fields = {k: pattern_fields(p, k) for k, p in patterns.items()}

        def served(t: Mapping[str, str], key: str) -> bool:
            if t["condition"] != "clean" and "condition" not in fields[key]:
                return False  # a prediction on the clean images serves no shifted condition
            return resolve(patterns[key].format(**t), base_dir).is_file()

        if any(all(served(t, k) for k in patterns) for t in targets):
            return
        key = next((k for k in patterns if not any(served(t, k) for t in targets)), next(iter(patterns)))
        first = next((t for t in targets if t["condition"] == "clean"), targets[0])
        example = resolve(patterns[key].format(**first), base_dir)
        raise ValueError(
            f"params.{key}: pattern {patterns[key]!r} names no file for any of the run's {len(targets)} work "
            f"items ({_where(patterns[key], base_dir)}; e.g. {example} is missing): every row of this model "
            "would be unavailable; check the pattern's placeholders against the case ids and condition names"
        )

    def path(self, kind: str, case: Case) -> Path:
        """The file of ``kind`` (``mask`` / ``prob``) for ``case`` under its ``metadata['condition']``."""
        condition = str(case.metadata.get("condition", "clean"))
        if condition != "clean" and "condition" not in self.fields[kind]:
            raise PredictionUnavailable(
                f"model {self.name}: params.{kind} {self.patterns[kind]!r} has no {{condition}}, so it holds "
                f"predictions on the clean images only; none for condition {condition}"
            )
        values = {"case_id": case.case_id, "condition": condition, "subject_id": case.subject_id,
                  "site": case.site, "scanner": case.scanner}  # fmt: skip
        return resolve(self.patterns[kind].format(**values), self.base_dir)

    def predict(self, case: Case) -> Prediction:
        t0 = time.perf_counter()
        paths = {kind: self.path(kind, case) for kind in self.patterns}
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:
            condition = case.metadata.get("condition", "clean")
            raise PredictionUnavailable(
                f"model {self.name}: no prediction for case {case.case_id}, condition {condition}: "
                f"missing {', '.join(missing)}"
            )
        prob: NDArray[np.float32] | None = None
        mask: NDArray[np.bool_] | None = None
        if "prob" in paths:
            data = _read(paths["prob"], "probability map", case, self.name)
            lo, hi = float(data.min()), float(data.max())
            if lo < -PROB_SLACK or hi > 1.0 + PROB_SLACK:
                raise CaseError(
                    f"model {self.name}: probability map {paths['prob'].name} has values in "
                    f"[{lo:.4g}, {hi:.4g}], outside [0, 1] (logits or percentages? give probabilities)"
                )
            prob = np.clip(data, 0.0, 1.0).astype(np.float32)
        if "mask" in paths:
            data = _read(paths["mask"], "mask", case, self.name)
            if not np.array_equal(data, np.round(data)):
                raise CaseError(
                    f"model {self.name}: mask {paths['mask'].name} has non-integer values; give them as "
                    "params.prob (thresholded at params.threshold)"
                )
            mask = data > 0
        if mask is None:
            assert prob is not None
            mask = prob >= self.threshold
        if prob is None:
            prob = mask.astype(np.float32)
        return Prediction(prob=prob, mask=mask, timings_s={"read": time.perf_counter() - t0})

    @classmethod
    def referenced_files(cls, params: dict[str, Any], base_dir: Path | None) -> list[Path]:
        """Every existing file the patterns can name (a file added, removed or rewritten changes the run's
        item keys; the engine hashes their bytes)."""
        found: set[Path] = set()
        for key in ("mask", "prob"):
            if key in params:
                found.update(_matching_files(str(params[key]), base_dir))
        return sorted(found)

    def listing(self) -> list[str]:
        """``path (relative to the protocol folder), size (bytes), mtime (ns)`` of each referenced file."""
        root = self.base_dir if self.base_dir is not None else Path.cwd()
        rows = []
        for path in self.referenced_files(self.params, self.base_dir):
            st = path.stat()
            rows.append(f"{os.path.relpath(path, root)}\t{st.st_size}\t{st.st_mtime_ns}")
        return rows

    def fingerprint(self) -> str:
        """The params + the listing of the files the patterns match (names, sizes, mtimes). Contents are not
        read here: thousands of NIfTIs; the engine's item keys hash them through :meth:`referenced_files`."""
        h = hashlib.sha256(repr(sorted(self.params.items())).encode())
        h.update("\n".join(self.listing()).encode())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"source": "precomputed files", "patterns": dict(self.patterns), "files": len(self.listing())}


ADAPTERS.add("predictions", PrecomputedPredictions)
