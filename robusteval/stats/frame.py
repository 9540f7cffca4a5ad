"""Input preparation: validate ``cases.csv``, drop failed rows, apply worst-value replacements, label conditions.

Conventions: a *condition* is ``(shift, severity)``, labelled ``clean`` or ``"<shift>@<severity>"``; the ID
reference is ``shift == "clean"`` with ``split == "id"``; the natural site split is ``shift == "clean"`` with
``split == "ood"``; rows with ``shift_family == "label_noise"`` perturb the reference labels and are kept out
of the OOD analyses (they feed the label-noise sensitivity only).
"""

from __future__ import annotations

__all__ = [
    "CLEAN",
    "LABEL_NOISE",
    "REQUIRED_COLUMNS",
    "MetricInfo",
    "Prepared",
    "condition_label",
    "metric_info",
    "prepare",
    "severity_value",
]

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from robusteval.errors import RobustEvalError
from robusteval.metrics import METRICS

CLEAN = "clean"
LABEL_NOISE = "label_noise"
REQUIRED_COLUMNS = (
    "model",
    "family",
    "case_id",
    "subject_id",
    "site",
    "split",
    "shift",
    "shift_family",
    "severity",
    "status",
)
KEY = ["model", "case_id", "shift", "severity"]


@dataclass(frozen=True)
class MetricInfo:
    """A metric column: its direction, its declared worst value and a note when the direction is assumed."""

    name: str
    higher_is_better: bool
    registered: bool
    worst_value: float | None
    note: str = ""

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 otherwise: ``sign * (a - b) > 0`` means ``a`` is better."""
        return 1.0 if self.higher_is_better else -1.0


def metric_info(name: str, worst_values: Mapping[str, float] | None = None) -> MetricInfo:
    """Direction from the metric registry; unregistered columns are assumed higher-is-better, with a note."""
    worst = None if worst_values is None else worst_values.get(name)
    worst_f = None if worst is None else float(worst)
    if name in METRICS:
        return MetricInfo(name, bool(METRICS.get(name).higher_is_better), True, worst_f)
    note = f"metric {name!r} is not in the metric registry; assumed higher is better"
    return MetricInfo(name, True, False, worst_f, note)


def severity_value(severity: float) -> int | float:
    """Severity as an ``int`` when integral (as written in condition labels), else the float."""
    s = float(severity)
    return int(s) if math.isfinite(s) and s.is_integer() else s


def condition_label(shift: str, severity: float) -> str:
    """``clean`` for the unshifted condition, else ``"<shift>@<severity>"`` (e.g. ``motion@2``)."""
    return CLEAN if shift == CLEAN else f"{shift}@{severity_value(severity)}"


@dataclass
class Prepared:
    """Successful rows, one per (model, case_id, shift, severity), with the bookkeeping the records report.

    ``rows`` holds the metric columns after worst-value replacement, a boolean ``replaced:<metric>`` column
    per metric, ``condition``, ``cluster`` (the cluster id, or the case id when not clustering) and the flags
    ``is_id``, ``is_site`` (natural site split), ``is_label_noise`` and ``is_shift`` (simulated shift).
    """

    rows: pd.DataFrame
    failed: pd.DataFrame
    metrics: tuple[MetricInfo, ...]
    cluster: str | None
    n_input_rows: int
    notes: list[str] = field(default_factory=list)

    def info(self, metric: str) -> MetricInfo:
        for m in self.metrics:
            if m.name == metric:
                return m
        return metric_info(metric)


def prepare(
    cases: pd.DataFrame,
    metrics: Sequence[str],
    *,
    worst_values: Mapping[str, float] | None = None,
    cluster: str | None = None,
) -> Prepared:
    """Validate and normalize ``cases``; raise :class:`RobustEvalError` naming missing columns."""
    missing = [c for c in (*REQUIRED_COLUMNS, *metrics) if c not in cases.columns]
    if missing:
        raise RobustEvalError(f"cases table lacks column(s) {', '.join(missing)}; has {', '.join(map(str, cases.columns))}")
    if len(set(metrics)) != len(metrics):
        raise RobustEvalError(f"metrics listed twice: {list(metrics)}")
    notes: list[str] = []
    infos = tuple(metric_info(m, worst_values) for m in metrics)
    notes.extend(i.note for i in infos if i.note)

    df = cases.copy()
    df["severity"] = pd.to_numeric(df["severity"], errors="coerce").astype(float)
    for col in ("model", "family", "case_id", "subject_id", "site", "split", "shift", "shift_family", "status"):
        df[col] = df[col].astype(str)
    for m in metrics:
        df[m] = pd.to_numeric(df[m], errors="coerce").astype(float)
    statuses = sorted(set(df["status"]) - {"ok", "failed"})
    if statuses:
        notes.append(f"status value(s) {statuses} treated as failed")
    ok = df["status"] == "ok"
    failed = df.loc[~ok, ["model", "case_id", "site", "split", "shift", "severity"]].copy()
    if "error" in df.columns:
        failed["error"] = df.loc[~ok, "error"].astype(str)
    rows = df.loc[ok].copy()

    for info in infos:
        nan = rows[info.name].isna()
        rows[f"replaced:{info.name}"] = nan & (info.worst_value is not None)
        if info.worst_value is not None and bool(nan.any()):
            rows.loc[nan, info.name] = info.worst_value

    dup = rows.duplicated(KEY, keep=False)
    if bool(dup.any()):
        n_dup = int(rows.loc[dup].groupby(KEY).ngroups)
        notes.append(
            f"{n_dup} (model, case, condition) key(s) had several rows (e.g. seeds); their metric values were "
            "averaged (NaN-aware) before the statistics"
        )
        agg: dict[str, str] = {c: "first" for c in rows.columns if c not in KEY}
        for info in infos:
            agg[info.name] = "mean"
            agg[f"replaced:{info.name}"] = "max"
        rows = rows.groupby(KEY, as_index=False, sort=False).agg(agg)

    rows["condition"] = [condition_label(s, v) for s, v in zip(rows["shift"], rows["severity"], strict=True)]
    clean = rows["shift"] == CLEAN
    rows["is_label_noise"] = rows["shift_family"] == LABEL_NOISE
    rows["is_id"] = clean & (rows["split"] == "id")
    rows["is_site"] = clean & (rows["split"] != "id")
    rows["is_shift"] = ~clean & ~rows["is_label_noise"]
    if cluster is None:
        rows["cluster"] = rows["case_id"]
    else:
        column = {"subject": "subject_id", "site": "site"}[cluster]
        rows["cluster"] = rows[column]
    rows = rows.reset_index(drop=True)
    if len(rows) == 0:
        notes.append("no successful rows: every statistic is empty")
    return Prepared(rows, failed, infos, cluster, int(len(cases)), notes)


def finite_values(values: pd.Series) -> np.ndarray:
    """The non-NaN values of a metric column as float64."""
    arr = values.to_numpy(dtype=np.float64)
    return arr[~np.isnan(arr)]
