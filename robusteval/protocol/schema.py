"""The protocol language: pydantic models with ``extra="forbid"``.

Relative paths are resolved against the protocol file's folder (passed in the validation context as
``base_dir``). Names of shifts, metrics, model adapters and data sources are checked against their registries.
"""

from __future__ import annotations

__all__ = [
    "HUMAN_FAMILY",
    "MAX_RESAMPLES",
    "DatasetSpec",
    "ExecutionSpec",
    "MetricsSpec",
    "ModelSpec",
    "Protocol",
    "ReportSpec",
    "ShiftSpec",
    "ShiftStep",
    "StatisticsSpec",
]

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from robusteval.paths import unsafe_reason
from robusteval.protocol.search_spec import MAX_RESAMPLES, SearchSpec
from robusteval.rundir import HUMAN_FAMILY

Family = Literal["cnn", "vit", "hybrid", "classical", "external", "human"]
"""Model families; ``human`` (:data:`HUMAN_FAMILY`) is the human baseline, shown as the models' ceiling."""
MAX_SEVERITY = 5


def _severity(value: int) -> int:
    if not 1 <= value <= MAX_SEVERITY:
        raise ValueError(f"{value} is not in 1..{MAX_SEVERITY}")
    return value


Severity = Annotated[int, AfterValidator(_severity)]


def resolve_path(value: Path, info: ValidationInfo, *, must_exist: bool = True) -> Path:
    """Resolve ``value`` against the protocol's folder; raise when it must exist and does not."""
    base = (info.context or {}).get("base_dir")
    path = value if value.is_absolute() or base is None else Path(base) / value
    if must_exist and not path.exists():
        raise ValueError(f"file not found: {path}")
    return path


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _registered(registry_module: str, registry_name: str, name: str) -> str:
    import importlib

    registry = getattr(importlib.import_module(registry_module), registry_name)
    if name not in registry:
        known = ", ".join(registry.names())
        raise ValueError(f"unknown {registry.kind} {name!r}; known: {known}")
    return name


class SplitSpec(_Spec):
    """Which cases are in distribution and which are out of distribution, by any metadata column."""

    in_distribution: dict[str, list[str]] = Field(default_factory=lambda: {"site": ["A"]})
    out_of_distribution: dict[str, list[str]] | None = Field(
        default=None, description="default: every test case not in distribution"
    )


class DatasetSpec(_Spec):
    """The held-out test set. ``source: synthetic`` generates the embedded default (no files needed)."""

    source: str = "synthetic"
    path: Path | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="source-specific options")
    modalities: list[str] = Field(default_factory=lambda: ["flair", "t1"], min_length=1)
    partition: str = "test"
    split: SplitSpec = Field(default_factory=SplitSpec)

    @field_validator("source")
    @classmethod
    def _known_source(cls, v: str) -> str:
        return _registered("robusteval.data.sources", "SOURCES", v)

    @field_validator("path")
    @classmethod
    def _resolve(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is None:
            return None
        path = resolve_path(v, info)
        if info.data.get("source") == "manifest" and path.is_dir() and not (path / "manifest.csv").is_file():
            raise ValueError(f"folder {path} has no manifest.csv; give the CSV file, or a folder holding it")
        return path


class ModelSpec(_Spec):
    """One model to evaluate: ``adapter`` says how it is loaded, ``params`` are the adapter's options."""

    name: str = Field(min_length=1)
    family: Family
    adapter: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("adapter")
    @classmethod
    def _known_adapter(cls, v: str) -> str:
        return _registered("robusteval.models", "ADAPTERS", v)

    @model_validator(mode="after")
    def _check_params(self, info: ValidationInfo) -> ModelSpec:
        from robusteval.models import ADAPTERS

        ADAPTERS.get(self.adapter).validate_params(self.params, (info.context or {}).get("base_dir"))
        if self.adapter == "rater" and self.family != HUMAN_FAMILY:
            raise ValueError(f"adapter 'rater' (a human annotation) needs family: {HUMAN_FAMILY}, not {self.family!r}")
        return self


class ShiftStep(_Spec):
    """One step of a (possibly composed) condition: a registered shift and its options."""

    shift: str
    options: dict[str, Any] = Field(default_factory=dict)
    severity: Severity | None = Field(default=None, description="fixed severity; default: the condition's")

    @field_validator("shift")
    @classmethod
    def _known_shift(cls, v: str) -> str:
        return _registered("robusteval.shifts", "SHIFTS", v)

    @model_validator(mode="after")
    def _valid_options(self) -> ShiftStep:
        _build_shift(self.shift, self.options)
        return self


def _build_shift(name: str, options: dict[str, Any]) -> None:
    """Construct the shift once so that invalid options fail at validation, naming the option."""
    from robusteval.shifts import SHIFTS

    try:
        SHIFTS.get(name)(**options)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


class ShiftSpec(_Spec):
    """A condition: one shift, or ``compose`` (applied in order), at each of ``severities``."""

    shift: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    compose: list[ShiftStep] | None = None
    name: str | None = Field(default=None, description="condition name; default: the shift names joined by +")
    severities: list[Severity] = Field(default_factory=lambda: [1, 2, 3, 4, 5], min_length=1)
    apply_to: Literal["in_distribution", "out_of_distribution", "all"] = "in_distribution"

    @field_validator("severities")
    @classmethod
    def _once_each(cls, v: list[int]) -> list[int]:
        repeated = sorted({s for s in v if v.count(s) > 1})
        if repeated:
            raise ValueError(f"severities {repeated} repeat; list each severity once")
        return v

    @field_validator("shift")
    @classmethod
    def _known_shift(cls, v: str | None) -> str | None:
        return None if v is None else _registered("robusteval.shifts", "SHIFTS", v)

    @field_validator("name")
    @classmethod
    def _file_name(cls, v: str | None) -> str | None:
        """The condition name names folders (``export``): it must be one safe file name."""
        reason = None if v is None else unsafe_reason(v)
        if reason is not None:
            raise ValueError(f"condition name {v!r} cannot name a folder: {reason}")
        return v

    @model_validator(mode="after")
    def _one_form(self) -> ShiftSpec:
        if (self.shift is None) == (self.compose is None):
            raise ValueError("give exactly one of 'shift' or 'compose'")
        if self.compose is not None and self.options:
            raise ValueError("'options' belongs inside each 'compose' step")
        if self.shift is not None:
            _build_shift(self.shift, self.options)
        return self

    @property
    def steps(self) -> list[ShiftStep]:
        if self.compose is not None:
            return list(self.compose)
        assert self.shift is not None
        return [ShiftStep(shift=self.shift, options=self.options)]

    @property
    def condition(self) -> str:
        return self.name or "+".join(s.shift for s in self.steps)


class MetricsSpec(_Spec):
    """The metric panel and its conventions."""

    panel: list[str] = Field(default_factory=lambda: ["dsc", "hd95"], min_length=1)
    convention: Literal["default", "wmh2017"] = Field(
        default="default",
        description="per-metric rules: default, or wmh2017 (the WMH 2017 challenge's evaluation.py; docs/metrics.md)",
    )
    nsd_tolerance_mm: float = Field(default=1.0, gt=0, description="NSD tolerance tau in mm")
    surface: Literal["voxel", "surfel"] = Field(
        default="voxel", description="voxel: MONAI/Metrics Reloaded boundary voxels; surfel: DeepMind surface-distance"
    )
    ndsc_r: float = Field(default=0.001, gt=0, lt=1, description="nDSC reference lesion-load ratio r")
    lesion_convention: Literal["wmh2017", "shifts"] = Field(
        default="wmh2017", description="wmh2017: 26-conn., any overlap; shifts: 6-conn., IoU >= 0.25"
    )
    lesion_connectivity: Literal[6, 18, 26] | None = None
    lesion_iou_threshold: float | None = Field(default=None, ge=0, le=1)
    lesion_min_volume_ml: float = Field(default=0.0, ge=0)
    lesion_size_edges_ml: tuple[float, float] = Field(
        default=(0.01, 0.1), description="small < e1 <= medium < e2 <= large (reference lesion volume, mL)"
    )

    def config_fields(self) -> dict[str, Any]:
        """Everything but the panel: the keyword arguments of ``robusteval.metrics.MetricConfig``."""
        return self.model_dump(exclude={"panel"})

    @field_validator("panel")
    @classmethod
    def _known_metrics(cls, v: list[str]) -> list[str]:
        for name in v:
            _registered("robusteval.metrics", "METRICS", name)
        if len(set(v)) != len(v):
            raise ValueError("metric names repeat")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> MetricsSpec:
        """The settings must agree with each other (a convention fixes some of them)."""
        from robusteval.metrics import MetricConfig

        try:
            MetricConfig(**self.config_fields())
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix("invalid metric settings: ")) from None
        return self


class PrimaryQuestionsSpec(_Spec):
    """The primary questions (mirrors ``robusteval.stats.PrimarySpec``; docs/statistics.md)."""

    metric: str | None = Field(default=None, description="default: report.headline_metric")
    quantities: list[Literal["id_score", "site_drop", "shift_degradation"]] = Field(
        default=["id_score", "site_drop", "shift_degradation"], min_length=1
    )
    models: list[str] | None = Field(default=None, description="default: every model but the human baseline")
    family_pairs: list[tuple[str, str]] | None = Field(default=None, description="default: every pair present")
    correction: Literal["holm", "fdr_bh", "bonferroni"] = "holm"
    target_difference: float | None = Field(
        default=0.05, gt=0, description="difference (metric units) the primary tests should detect"
    )
    power: float = Field(default=0.8, gt=0.0, lt=1.0)


class StatisticsSpec(_Spec):
    """Statistics settings (mirrors ``robusteval.stats.StatsSettings``; docs/statistics.md)."""

    confidence_level: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(
        default=10_000,
        ge=100,
        le=MAX_RESAMPLES,
        description=f"bootstrap resamples per interval, 100 to {MAX_RESAMPLES:,} (memory and time grow with it)",
    )
    ci_method: Literal["bootstrap-t", "BCa", "percentile"] = Field(
        default="bootstrap-t", description="interval of a cell's mean (medians: BCa)"
    )
    skew_correction: bool = Field(default=False, description="comparisons: Hall's skewness-corrected t")
    small_sample_expansion: bool = True
    cluster: Literal["auto", "subject", "site"] | None = Field(
        default="auto",
        description="auto: subjects are the units wherever one has several rows; null: every case independent",
    )
    multiple_testing: Literal["holm", "fdr_bh", "bonferroni"] = Field(
        default="holm", description="adjustment of the exploratory per-condition families"
    )
    primary: PrimaryQuestionsSpec = Field(
        default_factory=lambda: PrimaryQuestionsSpec(), description="the declared primary questions"
    )
    reference_model: str | None = Field(default=None, description="model normalizing mCE and relative mCE")
    rood_alpha: float = Field(default=2.0 / 3.0, gt=0.0, le=1.0, description="ROOD-MRI severity weight base")
    mixed_condition: Literal["shift", "shift_family", "condition"] = "shift"
    mixed_metrics: list[str] = Field(default_factory=list, description="default: the headline metric only")


class CheckBody(_Spec):
    """A check's settings; which ones apply depends on its kind (docs/statistics.md)."""

    metric: str = "dsc"
    max: float | None = None
    min: float | None = None
    warn: float | None = None
    model: str | None = None
    scope: str = ""


def _known_check(value: dict[str, CheckBody]) -> dict[str, CheckBody]:
    if len(value) != 1:
        raise ValueError(f"a check is one mapping {{kind: {{...}}}}, got {len(value)} keys")
    for kind in value:
        _registered("robusteval.stats", "CHECKS", kind)
    return value


Check = Annotated[dict[str, CheckBody], AfterValidator(_known_check)]


class ExecutionSpec(_Spec):
    """Where and how the work runs."""

    engine: Literal["local", "ray"] = Field(
        default="ray", description="ray: parallel Ray actors (local Ray or a cluster); local: in process, for debugging"
    )
    address: str | None = Field(default=None, description="Ray cluster address; default: a local Ray")
    workers: int | None = Field(
        default=None,
        ge=1,
        description="parallel model workers (Ray actors); default: one per GPU share with GPUs, else one per "
        "threads_per_worker CPUs",
    )
    threads_per_worker: int = Field(default=1, ge=1, description="torch CPU threads per worker (also local)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    gpus_per_worker: float | None = Field(
        default=None, gt=0, description="GPU share per Ray worker (0.5: two replicas per GPU); default: even split"
    )
    retries: int = Field(
        default=3,
        ge=0,
        description="times a unit of work runs again after its worker process died (crash, out of memory); "
        "after that its items are recorded as failed with the reason and the run goes on",
    )
    ship_cases: bool | None = Field(
        default=None,
        description="the driver reads each case and sends it to the workers through Ray's object store (for "
        "clusters without shared storage); default: on clusters of more than one node",
    )


class ReportSpec(_Spec):
    """What the report leads with, and the efficiency profile."""

    headline_metric: str = "dsc"
    efficiency: bool = Field(default=True, description="profile parameters, FLOPs, latency, memory per model")
    examples: bool = Field(default=True, description="draw the worst and median case overlays (predicts again)")
    energy_country_iso: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="ISO 3166 alpha-3 country: codecarbon measures energy and CO2 on its grid (when installed)",
    )
    energy_grid_gco2_per_kwh: float | None = Field(
        default=None,
        gt=0,
        le=2000,
        description="grid carbon intensity (gCO2eq/kWh) for CO2; overrides the country's grid and the "
        "default world average (robusteval.models.energy.DEFAULT_GRID_INTENSITY_G_PER_KWH)",
    )
    energy_cpu_tdp_per_core_w: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="watts per busy CPU core of the energy estimate used when no RAPL/NVML counter is readable "
        "(default robusteval.models.energy.DEFAULT_CPU_TDP_PER_CORE_W)",
    )


class Protocol(_Spec):
    """A robustness evaluation: data, models, shifts, metrics, statistics, execution, report."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="names the default out dir")
    description: str = ""
    seed: int = Field(default=0, ge=0)
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    models: list[ModelSpec] = Field(min_length=1)
    shifts: list[ShiftSpec] = Field(default_factory=list)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    statistics: StatisticsSpec = Field(default_factory=StatisticsSpec)
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    checks: list[Check] = Field(default_factory=list, description="e.g. [{ood_drop: {metric: dsc, max: 0.05}}]")
    search: SearchSpec | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Protocol:
        models = [m.name for m in self.models]
        if len(set(models)) != len(models):
            raise ValueError(f"model names repeat: {models}")
        conditions = [s.condition for s in self.shifts]
        if len(set(conditions)) != len(conditions) or "clean" in conditions:
            raise ValueError(f"condition names must be unique and not 'clean': {conditions}")
        if self.report.headline_metric not in self.metrics.panel:
            raise ValueError(f"report.headline_metric {self.report.headline_metric!r} is not in metrics.panel")
        ref = self.statistics.reference_model
        if ref is not None and ref not in models:
            raise ValueError(f"statistics.reference_model {ref!r} is not one of the models {models}")
        for metric in [*self.statistics.mixed_metrics, *(b.metric for c in self.checks for b in c.values())]:
            if metric not in self.metrics.panel:
                raise ValueError(f"metric {metric!r} (statistics or checks) is not in metrics.panel")
        return self
