"""The per-item work shared by every engine: shift a case once, run each model, score the prediction.

Nothing here raises for a bad case or item: failures become rows with ``status=failed`` and the reason in
``error``, so every other item still runs and nothing is silently dropped.
"""

from __future__ import annotations

__all__ = [
    "ModelRuntime",
    "check_finite_prediction",
    "evaluate_case",
    "failed_rows",
    "prediction_targets",
    "shift_item",
]

import json
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from robusteval.conditions import ConditionKey
from robusteval.data.case import Case
from robusteval.engine.plan import Plan, WorkItem, base_row, shift_family_of
from robusteval.errors import CaseError, PredictionUnavailable
from robusteval.metrics import MetricConfig, compute_metrics
from robusteval.metrics.surface import worst_distance_mm
from robusteval.models.base import ModelAdapter, Prediction
from robusteval.shifts.compose import Condition, apply_condition, sample_condition


@dataclass
class ModelRuntime:
    """A loaded model with its protocol name and family."""

    name: str
    family: str
    adapter: ModelAdapter


def prediction_targets(plan: Plan) -> list[dict[str, str]]:
    """What each planned item asks an adapter of external predictions for: its ``case_id``, ``condition`` (as
    :attr:`~robusteval.conditions.ConditionKey.slug`, e.g. ``motion-s2``; ``clean`` for a label-only condition,
    which reuses the clean prediction),
    ``subject_id``, ``site`` and ``scanner``: the placeholders of a ``predictions`` pattern."""
    out = []
    for item in plan.items:
        label_only = item.condition != "clean" and plan.conditions[item.condition].touches_label_only()
        r = item.record
        condition = "clean" if label_only else ConditionKey(item.condition, item.severity).slug
        out.append({"case_id": r.case_id, "condition": condition, "subject_id": r.subject_id, "site": r.site,
                    "scanner": r.scanner})  # fmt: skip
    return out


def _tag(case: Case, item: WorkItem) -> Case:
    """The case with its condition in the metadata (adapters of external predictions look files up by it)."""
    meta = {**case.metadata, "condition": ConditionKey(item.condition, item.severity).slug}
    return case.with_(metadata=meta)


def _clean(case: Case) -> Case:
    """The case as its clean item sees it: a label-only condition's prediction is the clean prediction."""
    return case.with_(metadata={**case.metadata, "condition": "clean"})


def shift_item(case: Case, item: WorkItem, conditions: dict[str, Condition]) -> tuple[Case, list[dict[str, Any]]]:
    """The item's version of ``case`` (its parameters sampled once from the item's seed) and those parameters."""
    if item.condition == "clean":
        return _tag(case, item), []
    condition = conditions[item.condition]
    params = sample_condition(condition, item.severity, item.seed)
    return _tag(apply_condition(case, condition, params), item), params


def check_finite_prediction(model: str, prediction: Prediction) -> None:
    """CaseError naming ``model`` when the probability or uncertainty map holds NaN or Inf, whatever the adapter:
    ``prob >= threshold`` would turn a NaN into background and score an invalid output as an empty mask."""
    for what, values in (("probability", prediction.prob), ("uncertainty", prediction.uncertainty)):
        if values is None:
            continue
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise CaseError(f"model {model}: non-finite {what} map ({bad} NaN/Inf voxels): the prediction is invalid")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, CaseError):
        return str(exc)
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def failed_rows(
    items: Sequence[WorkItem], models: Sequence[tuple[str, str]], conditions: dict[str, Condition], reason: str
) -> list[dict[str, Any]]:
    """Rows marking every (item, model) as failed with ``reason``."""
    rows = []
    for item in items:
        for name, family in models:
            row = base_row(item, name, family, shift_family_of(item, conditions))
            row.update(
                status="failed",
                error=reason,
                shift_params="",
                metric_notes="",
                inference_s=float("nan"),
                fov_diagonal_mm=float("nan"),
            )
            rows.append(row)
    return rows


def _score(
    item: WorkItem,
    model: ModelRuntime,
    case: Case,
    prediction: Prediction,
    params_json: str,
    shift_family: str,
    metrics: Sequence[str],
    metric_config: MetricConfig,
    inference_s: float,
) -> dict[str, Any]:
    row = base_row(item, model.name, model.family, shift_family)
    values, notes = compute_metrics(
        metrics,
        prediction.mask,
        case.label,
        case.spacing_mm,
        ignore=case.ignore,
        prob=prediction.prob,
        uncertainty=prediction.uncertainty,
        config=metric_config,
    )
    row.update(
        shift_params=params_json,
        metric_notes=json.dumps(notes) if notes else "",
        inference_s=inference_s,
        fov_diagonal_mm=round(worst_distance_mm(case.shape, case.spacing_mm), 4),
    )
    row.update(values)
    return row


def evaluate_case(
    items: Sequence[WorkItem],
    conditions: dict[str, Condition],
    models: Sequence[ModelRuntime],
    metrics: Sequence[str],
    metric_config: MetricConfig,
    case: Case | None = None,
) -> list[dict[str, Any]]:
    """All rows for one case's items: load once (unless ``case`` is given: loaded elsewhere, e.g. by the driver
    of a cluster without shared storage), shift each item once, reuse predictions for label-only shifts."""
    model_pairs = [(m.name, m.family) for m in models]
    try:
        case = items[0].record.load() if case is None else case
    except Exception as exc:  # a bad case: every item of it fails with the reason
        return failed_rows(items, model_pairs, conditions, _reason(exc))
    rows: list[dict[str, Any]] = []
    clean_predictions: dict[str, tuple[Prediction, float]] = {}
    for item in items:
        shift_family = shift_family_of(item, conditions)
        t_shift = time.perf_counter()
        try:
            shifted, params = shift_item(case, item, conditions)
        except Exception as exc:
            rows.extend(failed_rows([item], model_pairs, conditions, f"shift failed: {_reason(exc)}"))
            continue
        params_json = json.dumps(params, sort_keys=True) if item.condition != "clean" else ""
        label_only = item.condition != "clean" and conditions[item.condition].touches_label_only()
        shift_s = round(time.perf_counter() - t_shift, 4)
        for model in models:
            try:
                if label_only and model.name in clean_predictions:
                    prediction, seconds = clean_predictions[model.name]
                else:  # a label-only item without its clean twin here (a resumed run) predicts the clean case too
                    t0 = time.perf_counter()
                    prediction = model.adapter.predict(_clean(case) if label_only else shifted)
                    seconds = time.perf_counter() - t0
                if item.condition == "clean":
                    clean_predictions[model.name] = (prediction, seconds)
                if prediction.mask.shape != shifted.label.shape:
                    raise CaseError(
                        f"model {model.name}: prediction shape {prediction.mask.shape} != label {shifted.label.shape}"
                    )
                check_finite_prediction(model.name, prediction)
                row = _score(
                    item,
                    model,
                    shifted,
                    prediction,
                    params_json,
                    shift_family,
                    metrics,
                    metric_config,
                    round(seconds, 4),
                )
                row["shift_s"] = shift_s
                rows.append(row)
            except Exception as exc:
                row = failed_rows([item], [(model.name, model.family)], conditions, _reason(exc))[0]
                if isinstance(exc, PredictionUnavailable):
                    row["status"] = "unavailable"
                row["shift_params"] = params_json
                rows.append(row)
    return rows
