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
    "CheckSpec",
    "StatsSettings",
]

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from robusteval.errors import RobustEvalError

CI_METHODS = ("BCa", "percentile")
CLUSTERS = ("subject", "site")
MULTIPLE_TESTING = ("holm", "fdr_bh")
MIXED_CONDITIONS = ("shift", "shift_family", "condition")

CiMethod = Literal["BCa", "percentile"]
Cluster = Literal["subject", "site"]
MultipleTesting = Literal["holm", "fdr_bh"]
MixedCondition = Literal["shift", "shift_family", "condition"]


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
    - ``ci_method``: ``"BCa"`` (bias-corrected and accelerated, default) or ``"percentile"``.
    - ``small_sample_expansion``: ask scipy for Hesterberg's expanded level (``bootstrap.expanded_level``,
      0.968 for 20 cases at 95%) so that small-sample intervals of a mean cover at the nominal rate (True).
    - ``cluster``: ``None`` resamples cases; ``"subject"`` or ``"site"`` resamples whole clusters of cases
      sharing that column (cluster bootstrap; jackknife for BCa leaves out one cluster).
    - ``multiple_testing``: ``"holm"`` (family-wise error, default) or ``"fdr_bh"`` (Benjamini-Hochberg),
      passed by name to ``statsmodels.stats.multitest.multipletests``.
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
    """

    confidence_level: float = 0.95
    n_resamples: int = 10_000
    ci_method: CiMethod = "BCa"
    small_sample_expansion: bool = True
    cluster: Cluster | None = None
    multiple_testing: MultipleTesting = "holm"
    reference_model: str | None = None
    headline_metric: str = "dsc"
    rood_alpha: float = 2.0 / 3.0
    seed: int = 0
    checks: tuple[CheckSpec, ...] = ()
    mixed_condition: MixedCondition = "shift"
    mixed_metrics: tuple[str, ...] = field(default=())

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
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (checks as flat dicts) for recording next to the results."""
        out = asdict(self)
        out["checks"] = [asdict(c) for c in self.checks]
        out["mixed_metrics"] = list(self.mixed_metrics)
        return out
