"""A run folder as the report sees it: summary.json and cases.csv (read by :mod:`robusteval.rundir`), plus
the orderings, condition labels and metric facts every section shares."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from robusteval.conditions import ConditionKey
from robusteval.report.figures.style import model_label
from robusteval.report.fmt import finite, missing
from robusteval.rundir import HUMAN_FAMILY, read_run

__all__ = ["RunView", "id_means", "load_run"]


def _hashable(value: Any) -> Any:
    """A dict key for a record field value (lists become tuples)."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True)
class RunView:
    """A run folder's contents, plus the orderings every section shares."""

    dir: Path
    summary: dict[str, Any]
    cases: pd.DataFrame
    cells: pd.DataFrame
    headline: str
    metrics: list[str]
    models: list[str]  # best in distribution first
    families: dict[str, str]
    ood_sites: list[str]
    level: float
    correction: str
    noise_shifts: frozenset[str]
    human: dict[str, str] = field(default_factory=dict)  # human baseline model -> its annotation's name

    _index: dict[Any, dict[Any, list[dict[str, Any]]]] = field(default_factory=dict, compare=False, repr=False)
    figures_used: set[str] = field(default_factory=set, compare=False, repr=False)  # stored figures drawn or read

    def records(self, key: str, kind: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """The ``summary[key]`` records of ``kind`` whose fields equal ``match``.

        Sections ask thousands of times, so the records are grouped once per (key, kind, matched fields).
        """
        names = tuple(sorted(match))
        index_key = (key, kind, names)
        if index_key not in self._index:
            groups: dict[Any, list[dict[str, Any]]] = {}
            for r in self.summary.get(key) or []:
                if isinstance(r, dict) and (kind is None or r.get("kind") == kind):
                    groups.setdefault(tuple(_hashable(r.get(n)) for n in names), []).append(r)
            self._index[index_key] = groups
        return list(self._index[index_key].get(tuple(_hashable(match[n]) for n in names), []))

    def profiles(self) -> dict[str, dict[str, Any]]:
        """model -> its efficiency profile (summary.json ``models``; each keyed ``name`` or ``model``)."""
        listed = [e for e in self.summary.get("models") or [] if isinstance(e, dict)]
        return {str(e.get("name") or e.get("model")): e for e in listed}

    def facts(self, metric: str) -> Mapping[str, Any]:
        """summary.json's ``metrics`` entry of ``metric`` (unit, higher_is_better, descriptive); {} when the
        run predates that block (see :meth:`hib`, :meth:`descriptive` and :meth:`unit` for the fallbacks)."""
        block = self.summary.get("metrics")
        entry = block.get(metric) if isinstance(block, dict) else None
        return entry if isinstance(entry, dict) else {}

    def hib(self, metric: str) -> bool:
        """Whether higher is better for ``metric``: the ``metrics`` block, else the statistics' data record
        (runs before the block), else True (a descriptive metric is nominally higher-is-better)."""
        value = self.facts(metric).get("higher_is_better")
        if value is not None:
            return bool(value)
        for r in self.records("data", "summary"):
            if r.get(f"higher_is_better:{metric}") is not None:
                return bool(r[f"higher_is_better:{metric}"])
        return True

    def descriptive(self, metric: str) -> bool:
        """Whether ``metric`` describes a case (a volume) rather than scores it: no better or worse."""
        facts = self.facts(metric)
        if "descriptive" in facts:
            return bool(facts["descriptive"])
        for r in self.records("data", "summary"):
            if f"descriptive:{metric}" in r:
                return bool(r[f"descriptive:{metric}"])
        return False

    def unit(self, metric: str) -> str:
        """The metric's unit (``mm``, ``ml``; ``""`` when unitless or not recorded)."""
        return str(self.facts(metric).get("unit") or "")

    def sign(self, metric: str) -> float:
        return 1.0 if self.hib(metric) else -1.0

    def name(self, model: str) -> str:
        """A model as comparisons name it: ``human baseline (rater2)`` for the human baseline."""
        return model_label(model, self.human)

    def family_of(self, model: str) -> str:
        """A model's family for tables: ``human baseline`` for family ``human``."""
        family = self.families.get(model, "?")
        return "human baseline" if family == HUMAN_FAMILY else family

    def direction(self, metric: str) -> str:
        if self.descriptive(metric):
            return "descriptive: no better or worse"
        return "higher is better" if self.hib(metric) else "lower is better"

    def label(self, shift: Any, severity: Any, split: Any = "ood", site: Any = None) -> str:
        """Display label of a condition: ``ID clean``, ``site B``, ``OOD sites (pooled)``, ``motion@2``."""
        if shift == "clean":
            if split == "id":
                return "ID clean"
            if not missing(site):
                return f"site {site}"
            return f"site {self.ood_sites[0]}" if len(self.ood_sites) == 1 else "OOD sites (pooled)"
        return ConditionKey(str(shift), float(severity)).label if finite(severity) else str(shift)

    def label_of(self, rec: Mapping[str, Any]) -> str:
        return self.label(rec.get("shift"), rec.get("severity"), rec.get("split", "ood"), rec.get("site"))

    def order_key(self, rec: Mapping[str, Any]) -> tuple[int, str, float]:
        """ID clean, pooled sites, single sites, simulated shifts, then label noise."""
        shift = rec.get("shift")
        if shift == "clean":
            if rec.get("split", "ood") == "id":
                return (0, "", 0.0)
            site = rec.get("site")
            return (1, "", 0.0) if missing(site) else (2, str(site), 0.0)
        noise = rec.get("shift_family") == "label_noise" or str(shift) in self.noise_shifts
        sev = float(rec["severity"]) if finite(rec.get("severity")) else 0.0
        return (4 if noise else 3, str(shift), sev)

    def key_conditions(self, recs: Iterable[Mapping[str, Any]]) -> list[str]:
        """Labels of ID clean, the OOD sites (pooled) and each simulated shift at its highest severity."""
        keep: dict[str, tuple[int, str, float]] = {}
        top: dict[str, float] = {}
        for r in recs:
            key = self.order_key(r)
            if key[0] == 4 or key[0] == 2:
                continue
            if key[0] == 3:
                if key[2] < top.get(key[1], -math.inf):
                    continue
                top[key[1]] = key[2]
                keep = {k: v for k, v in keep.items() if not (v[0] == 3 and v[1] == key[1])}
            keep[self.label_of(r)] = key
        return sorted(keep, key=lambda k: keep[k])


def load_run(run_dir: Path) -> RunView:
    """The run folder ``run_dir`` (a RobustEvalError, naming the file, when it cannot be read)."""
    summary, cases = read_run(run_dir)
    cells = pd.DataFrame(summary.get("cells") or [])
    protocol = summary.get("protocol") or {}
    settings = (summary.get("settings") or [{}])[0]
    report = protocol.get("report") or {}
    headline = str(report.get("headline_metric") or settings.get("headline_metric", "dsc"))
    panel = list((protocol.get("metrics") or {}).get("panel") or settings.get("metrics") or [])
    metrics = [headline, *[m for m in panel if m != headline]] if headline in panel else panel
    families: dict[str, str] = {}
    if len(cases):
        families = {str(m): str(f) for m, f in cases.groupby("model")["family"].first().items()}
    for r in summary.get("cells") or []:
        families.setdefault(str(r.get("model")), str(r.get("family")))
    site_split = (cases["shift"] == "clean") & (cases["split"] != "id")
    ood_sites = sorted({str(s) for s in cases.loc[site_split, "site"]})
    statistics = protocol.get("statistics") or {}
    level = float(settings.get("confidence_level") or statistics.get("confidence_level", 0.95))
    human = {m: _annotation_of(protocol, m) for m, f in families.items() if f == HUMAN_FAMILY}
    run = RunView(
        run_dir,
        summary,
        cases,
        cells,
        headline,
        metrics,
        sorted(families),
        families,
        ood_sites,
        level,
        str(settings.get("multiple_testing") or "holm"),
        frozenset(cases.loc[cases["shift_family"] == "label_noise", "shift"]),
        human,
    )
    means = id_means(run, headline)
    sign = run.sign(headline)
    ordered = sorted(run.models, key=lambda m: (m in human, *_rank_key(m, means, sign)))
    return replace(run, models=ordered)


def _annotation_of(protocol: Mapping[str, Any], model: str) -> str:
    """The rater a human-baseline model stands for: its ``rater`` adapter's annotation, else its own name."""
    spec = next((m for m in protocol.get("models") or [] if isinstance(m, dict) and m.get("name") == model), {})
    if spec.get("adapter") == "rater":
        return str((spec.get("params") or {}).get("annotation", "rater2"))
    return model


def _rank_key(model: str, means: Mapping[str, Mapping[str, Any]], sign: float) -> tuple[float, str]:
    """Sort key: best mean first (by direction), models without a mean last, then by name."""
    return (-sign * float(means[model]["mean"]) if model in means else math.inf, model)


def id_means(run: RunView, metric: str) -> dict[str, dict[str, Any]]:
    """model -> the ID clean cell record of ``metric`` (finite means only)."""
    return {
        str(r["model"]): r
        for r in run.records("cells", metric=metric, shift="clean", split="id", site=None)
        if finite(r.get("mean"))
    }
