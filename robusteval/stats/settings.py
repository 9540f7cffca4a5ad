"""Settings of the statistics stage (mirrors the protocol's ``statistics:`` block) and check specs.

Both types are frozen dataclasses of plain values so that a pydantic model can mirror them field by field;
:meth:`StatsSettings.from_mapping` and :meth:`CheckSpec.parse` accept the protocol's YAML shapes.
"""

from __future__ import annotations

__all__ = [
    "CI_METHODS",
    "CLUSTERS",
    "MIXED_CONDITIONS",
    "MULTIPLE_TESTING",
    "PRIMARY_QUANTITIES",
    "CheckSpec",
    "PrimarySpec",
    "StatsSettings",
]

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, cast

from robusteval.errors import RobustEvalError

CI_METHODS = ("bootstrap-t", "BCa", "percentile")
CLUSTERS = ("auto", "subject", "site")
MULTIPLE_TESTING = ("holm", "fdr_bh", "bonferroni")
MIXED_CONDITIONS = ("shift", "shift_family", "condition")
PRIMARY_QUANTITIES: tuple[Literal["id_score", "site_drop", "shift_degradation"], ...] = (
    "id_score",
    "site_drop",
    "shift_degradation",
)

CiMethod = Literal["bootstrap-t", "BCa", "percentile"]
Cluster = Literal["auto", "subject", "site"]
MultipleTesting = Literal["holm", "fdr_bh", "bonferroni"]
MixedCondition = Literal["shift", "shift_family", "condition"]
PrimaryQuantity = Literal["id_score", "site_drop", "shift_degradation"]


@dataclass(frozen=True)
class PrimarySpec:
    """The declared primary questions (``statistics.primary``); every field has the default of docs/statistics.md.

    - ``metric``: the metric asked about; ``None`` = the headline metric.
    - ``quantities``: which of ``id_score`` (mean on the ID clean cases), ``site_drop`` (ID clean minus the
      OOD sites pooled, + = worse OOD) and ``shift_degradation`` (each ID case's ROOD-MRI degradation over the
      simulated shifts, + = worse) are asked, per model and per pair of model families.
    - ``models``: the models asked about; ``None`` = every model except the human baseline.
    - ``family_pairs``: pairs of families compared, e.g. ``[["cnn", "vit"]]``; ``None`` = every pair present
      (the human baseline included: its ID score is the ceiling); ``[]`` = none.
    - ``correction``: multiplicity adjustment within the primary family (``holm``: family-wise error).
    - ``target_difference``: the difference (metric units, 0.05 = 5 DSC points) the protocol should detect;
      the report warns when a primary test cannot detect it with ``power`` and says the n it would need.
    - ``power``: the power at which the minimum detectable difference is stated (0.8).
    """

    metric: str | None = None
    quantities: tuple[PrimaryQuantity, ...] = PRIMARY_QUANTITIES
    models: tuple[str, ...] | None = None
    family_pairs: tuple[tuple[str, str], ...] | None = None
    correction: MultipleTesting = "holm"
    target_difference: float | None = 0.05
    power: float = 0.8

    def __post_init__(self) -> None:
        problems: list[str] = []
        quantities = tuple(self.quantities)
        unknown = [q for q in quantities if q not in PRIMARY_QUANTITIES]
        if unknown or not quantities:
            problems.append(f"primary quantities must be some of {PRIMARY_QUANTITIES}, got {list(quantities)}")
        pairs = None if self.family_pairs is None else tuple(tuple(p) for p in self.family_pairs)
        if pairs is not None and any(len(p) != 2 or p[0] == p[1] for p in pairs):
            problems.append(f"family_pairs must be pairs of two different families, got {[list(p) for p in pairs]}")
        if self.correction not in MULTIPLE_TESTING:
            problems.append(f"primary correction must be one of {MULTIPLE_TESTING}, got {self.correction!r}")
        if self.target_difference is not None and not self.target_difference > 0:
            problems.append(f"target_difference must be positive, got {self.target_difference}")
        if not 0.0 < self.power < 1.0:
            problems.append(f"power must be in (0, 1), got {self.power}")
        if problems:
            raise RobustEvalError("invalid primary questions: " + "; ".join(problems))
        object.__setattr__(self, "quantities", quantities)
        object.__setattr__(self, "models", None if self.models is None else tuple(self.models))
        object.__setattr__(self, "family_pairs", cast(Any, pairs))

    @classmethod
    def parse(cls, spec: PrimarySpec | Mapping[str, Any] | None) -> PrimarySpec:
        """Accept a :class:`PrimarySpec`, the protocol's mapping or ``None`` (the defaults)."""
        if spec is None:
            return cls()
        if isinstance(spec, PrimarySpec):
            return spec
        if not isinstance(spec, Mapping):
            raise RobustEvalError(f"statistics.primary must be a mapping, got {spec!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise RobustEvalError(
                f"statistics.primary: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = {k: v for k, v in spec.items() if v is not None or k in ("metric", "target_difference")}
        if "quantities" in values:
            values["quantities"] = tuple(values["quantities"])
        if "models" in values:
            values["models"] = tuple(values["models"])
        if "family_pairs" in values:
            values["family_pairs"] = tuple(tuple(p) for p in values["family_pairs"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (tuples as lists)."""
        return {
            "metric": self.metric,
            "quantities": list(self.quantities),
            "models": None if self.models is None else list(self.models),
            "family_pairs": None if self.family_pairs is None else [list(p) for p in self.family_pairs],
            "correction": self.correction,
            "target_difference": self.target_difference,
            "power": self.power,
        }


@dataclass(frozen=True)
class CheckSpec:
    """One pass/fail condition on the results, e.g. ``{"ood_drop": {"metric": "dsc", "max": 0.05}}``.

    Fields (each check kind uses the ones it needs, see ``robusteval.stats.checks``):

    - ``kind``: the registered check kind (``ood_drop``, ``min_mean``, ``max_mean``, ``max_degradation``).
    - ``metric``: metric column the check reads.
    - ``max`` / ``min``: the FAIL threshold (upper or lower bound on the checked quantity).
    - ``warn``: optional WARN threshold on the same side as ``max``/``min`` (e.g. ``max: 0.05, warn: 0.03``).
    - ``model``: restrict to one model; ``None`` checks every model.
    - ``scope``: which conditions; ``ood_drop``: ``all`` (every OOD condition except label noise),
      ``sites`` (natural site split), ``shifts`` (simulated shifts) or one shift name;
      ``min_mean``/``max_mean``: ``clean`` (ID clean cases) or a condition label such as ``motion@2``;
      ``max_degradation``: ``mean`` (ROOD-MRI degradation averaged over shifts) or one shift name.
    """

    kind: str
    metric: str = "dsc"
    max: float | None = None
    min: float | None = None
    warn: float | None = None
    model: str | None = None
    scope: str = ""

    @classmethod
    def parse(cls, spec: CheckSpec | Mapping[str, Any]) -> CheckSpec:
        """Accept ``{"kind": k, ...}``, the protocol's one-key form ``{k: {...}}`` or a :class:`CheckSpec`."""
        if isinstance(spec, CheckSpec):
            return spec
        if not isinstance(spec, Mapping):
            raise RobustEvalError(f"a check must be a mapping like {{'ood_drop': {{...}}}}, got {spec!r}")
        if "kind" in spec:
            params = dict(spec)
        elif len(spec) == 1:
            ((kind, inner),) = spec.items()
            if inner is None:
                inner = {}
            if not isinstance(inner, Mapping):
                raise RobustEvalError(f"check {kind!r}: parameters must be a mapping, got {inner!r}")
            params = {"kind": kind, **inner}
        else:
            raise RobustEvalError(f"a check needs one kind, e.g. {{'ood_drop': {{'max': 0.05}}}}; got {dict(spec)!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise RobustEvalError(
                f"check {params['kind']!r}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        for key in ("max", "min", "warn"):
            if params.get(key) is not None:
                params[key] = float(params[key])
        return cls(**params)

    def describe(self) -> str:
        """A compact one-line form used in check records, e.g. ``ood_drop(metric=dsc, max=0.05)``."""
        parts = [
            f"{f.name}={getattr(self, f.name)}" for f in fields(self)[1:] if getattr(self, f.name) not in (None, "")
        ]
        return f"{self.kind}({', '.join(parts)})"


@dataclass(frozen=True)
class StatsSettings:
    """How the statistics are computed. Every field has a default; all are recorded in the output.

    - ``confidence_level``: two-sided level of every confidence interval (0.95).
    - ``n_resamples``: bootstrap resamples per interval (10,000).
    - ``ci_method``: interval of a cell's mean: ``"bootstrap-t"`` (studentized bootstrap, equal-tailed;
      default), ``"BCa"`` (bias-corrected and accelerated) or ``"percentile"``. Medians use BCa (percentile
      when ``ci_method`` is ``"percentile"``). Comparisons always use the t procedure of ``inference.py``.
    - ``skew_correction``: comparisons use Hall's (1992) skewness-corrected t (``inference.py``) instead of
      Student's / Welch's t (False, default: at the levels multiplicity demands a noisy skewness estimate
      costs power; docs/statistics.md).
    - ``small_sample_expansion``: for ``BCa`` / ``percentile`` intervals, ask scipy for Hesterberg's expanded
      level (``bootstrap.expanded_level``, 0.968 for 20 cases at 95%) (True).
    - ``cluster``: ``"auto"`` (default) resamples and tests whole subjects wherever a subject contributes
      several rows to one interval or test, cases otherwise; ``"subject"`` is the same; ``"site"`` resamples
      whole sites; ``None`` treats every case as independent (a note says where subjects repeat).
    - ``multiple_testing``: adjustment of the secondary (exploratory, per-condition) families: ``"holm"``
      (family-wise error, default), ``"fdr_bh"`` (Benjamini-Hochberg) or ``"bonferroni"``, passed by name to
      ``statsmodels.stats.multitest.multipletests``.
    - ``reference_model``: model whose corruption errors normalize mCE and relative mCE (``None``: skip).
    - ``headline_metric``: metric used for rankings, the significance map, the mixed model and label-noise
      ranking stability (default ``"dsc"``).
    - ``rood_alpha``: severity weight base of the ROOD-MRI scores (weight of severity s is alpha**s; 2/3).
    - ``seed``: seed of every resampling generator (each bootstrap call starts a fresh generator from it).
    - ``checks``: pass/fail conditions, see :class:`CheckSpec`.
    - ``mixed_condition``: the ``condition`` factor of the mixed model: ``"shift"`` (shift name, severities
      pooled; default), ``"shift_family"``, or ``"condition"`` (shift at each severity; slow with many
      conditions, ~25 s per metric for 40 conditions).
    - ``mixed_metrics``: metrics that get a mixed model; empty means the headline metric only.
    - ``primary``: the declared primary questions, see :class:`PrimarySpec` (its own family and correction).
    """

    confidence_level: float = 0.95
    n_resamples: int = 10_000
    ci_method: CiMethod = "bootstrap-t"
    skew_correction: bool = False
    small_sample_expansion: bool = True
    cluster: Cluster | None = "auto"
    multiple_testing: MultipleTesting = "holm"
    reference_model: str | None = None
    headline_metric: str = "dsc"
    rood_alpha: float = 2.0 / 3.0
    seed: int = 0
    checks: tuple[CheckSpec, ...] = ()
    mixed_condition: MixedCondition = "shift"
    mixed_metrics: tuple[str, ...] = field(default=())
    primary: PrimarySpec = field(default_factory=PrimarySpec)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not 0.0 < self.confidence_level < 1.0:
            problems.append(f"confidence_level must be in (0, 1), got {self.confidence_level}")
        if int(self.n_resamples) != self.n_resamples or self.n_resamples < 100:
            problems.append(f"n_resamples must be an integer >= 100, got {self.n_resamples}")
        if self.ci_method not in CI_METHODS:
            problems.append(f"ci_method must be one of {CI_METHODS}, got {self.ci_method!r}")
        if self.cluster is not None and self.cluster not in CLUSTERS:
            problems.append(f"cluster must be None or one of {CLUSTERS}, got {self.cluster!r}")
        if self.multiple_testing not in MULTIPLE_TESTING:
            problems.append(f"multiple_testing must be one of {MULTIPLE_TESTING}, got {self.multiple_testing!r}")
        if not 0.0 < self.rood_alpha <= 1.0:
            problems.append(f"rood_alpha must be in (0, 1], got {self.rood_alpha}")
        if self.mixed_condition not in MIXED_CONDITIONS:
            problems.append(f"mixed_condition must be one of {MIXED_CONDITIONS}, got {self.mixed_condition!r}")
        if problems:
            raise RobustEvalError("invalid statistics settings: " + "; ".join(problems))
        object.__setattr__(self, "n_resamples", int(self.n_resamples))
        object.__setattr__(self, "checks", tuple(CheckSpec.parse(c) for c in self.checks))
        object.__setattr__(self, "mixed_metrics", tuple(self.mixed_metrics))
        object.__setattr__(self, "primary", PrimarySpec.parse(cast(Any, self.primary)))

    @property
    def cluster_column(self) -> str | None:
        """The cases-table column whose values are the resampling units (``None``: every case its own)."""
        return (
            None
            if self.cluster is None
            else {"auto": "subject_id", "subject": "subject_id", "site": "site"}[self.cluster]
        )

    @property
    def primary_metric(self) -> str:
        """The metric of the primary questions (the headline metric unless the protocol names one)."""
        return self.primary.metric or self.headline_metric

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> StatsSettings:
        """Build from a plain mapping (e.g. the protocol block's ``model_dump()``); checks may be mappings."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RobustEvalError(f"unknown statistics setting(s): {', '.join(unknown)}")
        kwargs = dict(values)
        if "checks" in kwargs:
            raw = kwargs["checks"]
            items = [{k: v} for k, v in raw.items()] if isinstance(raw, Mapping) else list(raw or ())
            kwargs["checks"] = tuple(CheckSpec.parse(c) for c in items)
        if "mixed_metrics" in kwargs:
            kwargs["mixed_metrics"] = tuple(kwargs["mixed_metrics"] or ())
        if "primary" in kwargs:
            kwargs["primary"] = PrimarySpec.parse(kwargs["primary"])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (checks as flat dicts) for recording next to the results."""
        out = asdict(self)
        out["checks"] = [asdict(c) for c in self.checks]
        out["mixed_metrics"] = list(self.mixed_metrics)
        out["primary"] = self.primary.to_dict()
        return out
