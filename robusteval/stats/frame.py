"""Input preparation: validate ``cases.csv``, set failed and unavailable rows aside, replace NaNs by worst
values, label cells.

Only ``ok`` rows enter the statistics. ``failed`` rows (and any status robusteval does not write) are counted
as failures; ``unavailable`` rows (no prediction for that condition) are counted apart and never as failures.

Conventions: a *condition* is a :class:`~robusteval.conditions.ConditionKey`, labelled ``clean`` or
``"<shift>@<severity>"``; the ID
reference is ``shift == "clean"`` with ``split == "id"``; the natural site split is ``shift == "clean"`` with
``split == "ood"``; rows with ``shift_family == "label_noise"`` perturb the reference labels and are kept out
of the OOD analyses (they feed the label-noise sensitivity only).
"""

from __future__ import annotations

__all__ = [
    "CLEAN",
    "LABEL_NOISE",
    "REQUIRED_COLUMNS",
    "Cube",
    "MetricInfo",
    "Prepared",
    "alpha_of",
    "condition_keys",
    "metric_info",
    "prepare",
]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from robusteval.conditions import CLEAN, ConditionKey
from robusteval.errors import RobustEvalError
from robusteval.metrics import METRICS
from robusteval.status import OK, STATUSES, UNAVAILABLE

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
    """A metric column: its direction, its declared worst value and a note when the direction is assumed.

    ``descriptive`` metrics (volumes) describe a case rather than score it: no better or worse, no degradation,
    no ranking (their ``higher_is_better`` is nominal and never used).
    """

    name: str
    higher_is_better: bool
    registered: bool
    worst_value: float | None
    note: str = ""
    descriptive: bool = False

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 otherwise: ``sign * (a - b) > 0`` means ``a`` is better."""
        return 1.0 if self.higher_is_better else -1.0


def metric_info(name: str, worst_values: Mapping[str, float] | None = None) -> MetricInfo:
    """Direction from the metric registry; unregistered columns are assumed higher-is-better, with a note."""
    worst = None if worst_values is None else worst_values.get(name)
    worst_f = None if worst is None else float(worst)
    if name in METRICS:
        metric = METRICS.get(name)
        descriptive = bool(getattr(metric, "descriptive", False))
        return MetricInfo(name, bool(metric.higher_is_better), True, worst_f, descriptive=descriptive)
    note = f"metric {name!r} is not in the metric registry; assumed higher is better"
    return MetricInfo(name, True, False, worst_f, note)


@dataclass(frozen=True)
class Cube:
    """One metric as a dense array ``values[model, case, condition]`` (NaN where absent, failed or missing).

    ``conditions`` are (shift, severity) pairs; per case: ``case_is_id`` (an ID test case), ``case_site`` and
    ``case_cluster`` (cluster id, the case id when not clustering).
    """

    values: NDArray[np.float64]
    present: NDArray[np.bool_]
    replaced: NDArray[np.bool_]
    models: list[str]
    cases: list[str]
    conditions: list[tuple[str, float]]
    case_is_id: NDArray[np.bool_]
    case_site: NDArray[np.object_]
    case_cluster: NDArray[np.object_]

    def condition(self, shift: str, severity: float) -> int:
        return self.conditions.index((shift, float(severity)))

    def clean(self) -> int | None:
        """Index of the clean condition (whatever severity it was written with), or None."""
        return next((i for i, (shift, _) in enumerate(self.conditions) if shift == CLEAN), None)

    def case_mask(self, shift: str, split: str) -> NDArray[np.bool_]:
        """Cases of a condition key: ID cases (clean, split id), OOD-site cases (clean, other) or all."""
        if shift != CLEAN:
            return np.ones(len(self.cases), dtype=bool)
        return self.case_is_id.copy() if split == "id" else ~self.case_is_id

    def model(self, name: str) -> int:
        return self.models.index(name)


@dataclass
class Prepared:
    """Successful rows, one per (model, case_id, shift, severity), with the bookkeeping the records report.

    ``rows`` holds the metric columns after worst-value replacement, a boolean ``replaced:<metric>`` column
    per metric, ``condition``, ``cluster`` (the cluster id, or the case id when not clustering) and the flags
    ``is_id``, ``is_site`` (natural site split), ``is_label_noise`` and ``is_shift`` (simulated shift).
    ``failed`` and ``unavailable`` hold the identifying columns (and ``error``) of the rows set aside;
    ``n_input_rows`` = ok input rows + ``len(failed)`` + ``len(unavailable)``.
    """

    rows: pd.DataFrame
    failed: pd.DataFrame
    unavailable: pd.DataFrame
    metrics: tuple[MetricInfo, ...]
    cluster: str | None
    n_input_rows: int
    notes: list[str] = field(default_factory=list)
    families: dict[str, str] = field(default_factory=dict)
    shift_families: dict[str, str] = field(default_factory=dict)

    _cubes: dict[str, Cube] = field(default_factory=dict, repr=False)

    def info(self, metric: str) -> MetricInfo:
        for m in self.metrics:
            if m.name == metric:
                return m
        return metric_info(metric)

    def cube(self, metric: str) -> Cube:
        """The dense array of ``metric`` (built once)."""
        if metric not in self._cubes:
            self._cubes[metric] = _build_cube(self.rows, metric)
        return self._cubes[metric]


def _build_cube(rows: pd.DataFrame, metric: str) -> Cube:
    m_codes, models = pd.factorize(rows["model"], sort=True)
    n_codes, cases = pd.factorize(rows["case_id"], sort=True)
    cond = pd.MultiIndex.from_arrays([rows["shift"], rows["severity"]])
    c_codes, conds = pd.factorize(cond, sort=True)
    shape = (len(models), len(cases), len(conds))
    values = np.full(shape, np.nan)
    values[m_codes, n_codes, c_codes] = rows[metric].to_numpy(dtype=np.float64)
    present = np.zeros(shape, dtype=bool)
    present[m_codes, n_codes, c_codes] = True
    replaced = np.zeros(shape, dtype=bool)
    replaced[m_codes, n_codes, c_codes] = rows[f"replaced:{metric}"].to_numpy(dtype=bool)
    per_case = rows.groupby(n_codes).agg(site=("site", "first"), cluster=("cluster", "first"), is_id=("is_id", "any"))
    return Cube(
        values=values,
        present=present,
        replaced=replaced,
        models=[str(m) for m in models],
        cases=[str(c) for c in cases],
        conditions=[(str(s), float(v)) for s, v in conds],
        case_is_id=per_case["is_id"].to_numpy(dtype=bool),
        case_site=per_case["site"].to_numpy(dtype=object),
        case_cluster=per_case["cluster"].to_numpy(dtype=object),
    )


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
        raise RobustEvalError(
            f"cases table lacks column(s) {', '.join(missing)}; has {', '.join(map(str, cases.columns))}"
        )
    if len(set(metrics)) != len(metrics):
        raise RobustEvalError(f"metrics listed twice: {list(metrics)}")
    notes: list[str] = []
    infos = tuple(metric_info(m, worst_values) for m in metrics)
    notes.extend(i.note for i in infos if i.note)

    df = cases.copy()
    df["severity"] = pd.to_numeric(df["severity"], errors="coerce").astype(float)
    for col in (
        "model",
        "family",
        "case_id",
        "subject_id",
        "site",
        "split",
        "shift",
        "shift_family",
        "status",
    ):
        df[col] = df[col].astype(str)
    for m in metrics:
        df[m] = pd.to_numeric(df[m], errors="coerce").astype(float)
    statuses = sorted(set(df["status"]) - set(STATUSES))
    if statuses:
        notes.append(f"status value(s) {statuses} treated as failed")
    ok = df["status"] == OK
    unavailable = df["status"] == UNAVAILABLE
    failed_rows = _set_aside(df, ~ok & ~unavailable)
    unavailable_rows = _set_aside(df, unavailable)
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
            f"{n_dup} (model, case, condition) key(s) had several rows (e.g. seeds); their metric values "
            "were averaged (NaN-aware) before the statistics"
        )
        agg: dict[str, str] = {c: "first" for c in rows.columns if c not in KEY}
        for info in infos:
            agg[info.name] = "mean"
            agg[f"replaced:{info.name}"] = "max"
        rows = rows.groupby(KEY, as_index=False, sort=False).agg(agg)

    rows["condition"] = [ConditionKey(s, v).label for s, v in zip(rows["shift"], rows["severity"], strict=True)]
    clean = rows["shift"] == CLEAN
    rows["is_label_noise"] = rows["shift_family"] == LABEL_NOISE
    rows["is_id"] = clean & (rows["split"] == "id")
    rows["is_site"] = clean & (rows["split"] != "id")
    rows["is_shift"] = ~clean & ~rows["is_label_noise"]
    if cluster is None:
        rows["cluster"] = rows["case_id"]
        repeated = rows.groupby("subject_id")["case_id"].nunique()
        if bool((repeated > 1).any()):
            notes.append(
                f"{int((repeated > 1).sum())} subject(s) have several cases, but cluster is null: their cases are "
                "treated as independent (intervals too narrow, tests too liberal); cluster: auto resamples subjects"
            )
    else:
        column = {"auto": "subject_id", "subject": "subject_id", "site": "site"}[cluster]
        rows["cluster"] = rows[column]
    rows = rows.reset_index(drop=True)
    if len(rows) == 0:
        notes.append("no successful rows: every statistic is empty")
    families = {str(k): str(v) for k, v in rows.groupby("model")["family"].first().items()}
    shift_families = {str(k): str(v) for k, v in rows.groupby("shift")["shift_family"].first().items()}
    return Prepared(rows, failed_rows, unavailable_rows, infos, cluster, len(cases), notes, families, shift_families)


def _set_aside(df: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """The identifying columns (and ``error``) of the rows that do not enter the statistics."""
    out = df.loc[mask, ["model", "case_id", "site", "split", "shift", "severity"]].copy()
    if "error" in df.columns:
        out["error"] = df.loc[mask, "error"].astype(str)
    return out


def condition_keys(rows: pd.DataFrame) -> list[tuple[str, float, str]]:
    """Distinct (shift, severity, split) keys: ID clean first, then the natural site split, then shifts."""
    keys = {(str(a), float(b), str(c)) for a, b, c in rows[["shift", "severity", "split"]].itertuples(index=False)}

    def order(key: tuple[str, float, str]) -> tuple[int, str, float, str]:
        shift, severity, split = key
        if shift == CLEAN:
            return (0 if split == "id" else 1, "", severity, split)
        return (2, shift, severity, split)

    return sorted(keys, key=order)


def alpha_of(confidence_level: float) -> float:
    """Significance level matching a confidence level (0.95 -> 0.05)."""
    return round(1.0 - confidence_level, 12)
