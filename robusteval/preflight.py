"""Preflight: what ``validate`` checks beyond the schema, the protocol's data and models met as ``run`` meets them.

The checks are the run's own code: the dataset is listed (``list_cases``) and split (``split_records``), and
each model is built on the CPU by its adapter (a checkpoint is read with ``torch.load(weights_only=True)`` and
must fit its architecture), then asked whether the files it reads can serve the run's work items
(``ModelAdapter.check_files``: a ``predictions`` pattern that matches no file). Every problem is reported at its
field's line in the protocol file. Synthetic data is checked once it is generated (by the first run, or
``data synth``): generating it takes a while.
"""

from __future__ import annotations

__all__ = ["check_inputs"]

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from robusteval.data.sources import list_cases, synthetic_dir, synthetic_spec
from robusteval.data.split import split_records
from robusteval.engine.plan import make_plan
from robusteval.engine.work import prediction_targets
from robusteval.errors import FieldError, ProtocolError, ProtocolIssue, RobustEvalError
from robusteval.models import ADAPTERS
from robusteval.models.base import error_reason
from robusteval.protocol.loader import issue_at
from robusteval.protocol.schema import DatasetSpec, ModelSpec, Protocol

# A data-source message that starts with the field it is about (``dataset.params: unknown option``).
_FIELD_PREFIX = re.compile(r"dataset\.(source|path|params|modalities|partition|split): ")


def check_inputs(protocol: Protocol, path: Path, cache_dir: Path) -> list[str]:
    """Raise :class:`ProtocolError` listing every problem with the data or a model; return what went unchecked."""
    issues: list[ProtocolIssue] = []
    notes: list[str] = []
    targets: list[dict[str, str]] | None = None  # the planned work items, once the data is known
    try:
        notes += _check_dataset(protocol.dataset, cache_dir)
        targets = _targets(protocol, cache_dir) if not notes else None
    except FieldError as exc:
        issues.append(issue_at(path, exc.loc, exc.message))
    except RobustEvalError as exc:
        message = str(exc)
        found = _FIELD_PREFIX.match(message)
        if found:
            issues.append(issue_at(path, ("dataset", found.group(1)), message[found.end() :]))
        else:
            where = "params" if protocol.dataset.source == "synthetic" else "path"
            issues.append(issue_at(path, ("dataset", where), message))
    base_dir = path.resolve().parent
    for i, model in enumerate(protocol.models):
        problem = _model_problem(model, base_dir, targets)
        if problem is not None:
            issues.append(issue_at(path, ("models", i), problem))
    if issues:
        raise ProtocolError(issues)
    return notes


def _check_dataset(spec: DatasetSpec, cache_dir: Path) -> list[str]:
    """List and split the cases as a run does (FieldError / RobustEvalError); notes on what was skipped."""
    if spec.source == "synthetic" and not (synthetic_dir(synthetic_spec(spec), cache_dir) / "manifest.csv").exists():
        return ["dataset.split not checked: the synthetic data is not generated yet (the first run generates it)"]
    split_records(list_cases(spec, cache_dir), spec.split)
    return []


def _targets(protocol: Protocol, cache_dir: Path) -> list[dict[str, str]]:
    """The run's work items as an adapter of external predictions sees them."""
    return prediction_targets(make_plan(protocol, list_cases(protocol.dataset, cache_dir)))


def _model_problem(model: ModelSpec, base_dir: Path, targets: Sequence[Mapping[str, str]] | None = None) -> str | None:
    """Why the adapter cannot build ``model`` on the CPU (as a run's worker does), or cannot find the files
    it reads for ``targets`` (the run's work items; None: the files are checked without them), or None."""
    try:
        ADAPTERS.get(model.adapter)(model.name, dict(model.params), base_dir, "cpu")
        ADAPTERS.get(model.adapter).check_files(dict(model.params), base_dir, targets)
    except (ValueError, RobustEvalError) as exc:
        return str(exc).removeprefix(f"model {model.name}: ")
    except Exception as exc:
        return f"cannot be loaded: {type(exc).__name__}: {error_reason(exc)}"
    return None
