"""Metric base: each metric declares its direction, unit and empty-mask convention.

A :class:`MetricContext` holds one (prediction, reference) pair and caches the expensive shared work: the
union region of interest, the voxel lists, the surface distances and the connected components, so a whole
panel extracts each boundary once and runs one nearest-boundary search per direction.
"""

from __future__ import annotations

__all__ = [
    "LESION_CONVENTIONS",
    "METRICS",
    "METRIC_CONVENTIONS",
    "Emptiness",
    "LesionConvention",
    "Metric",
    "MetricConfig",
    "MetricContext",
    "MetricConvention",
    "Roi",
]

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar, Literal, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from robusteval.registry import Registry

T = TypeVar("T")

Connectivity = Literal[6, 18, 26]


@dataclass(frozen=True)
class LesionConvention:
    """How lesions are delineated and matched.

    ``connectivity``: voxel connectivity of the components (6 faces, 18 +edges, 26 +corners).
    ``iou_threshold``: a reference lesion and a predicted component match when they share at least one voxel
    and their IoU is >= this (0 = any overlap). ``f1``: ``"pr"`` for 2PR/(P+R), ``"counts"`` for
    2TP/(2TP+FP+FN) with TP counted over predicted components and FN over reference lesions.
    """

    connectivity: Connectivity
    iou_threshold: float
    f1: Literal["pr", "counts"]


LESION_CONVENTIONS: dict[str, LesionConvention] = {
    # MICCAI 2017 WMH challenge (Kuijf et al. 2019, evaluation.py): SimpleITK fully connected components.
    "wmh2017": LesionConvention(connectivity=26, iou_threshold=0.0, f1="pr"),
    # Shifts 2.0 MS lesions (mswml/metrics.py lesion_f1_score): ndimage.label default (6), IoU >= 0.25.
    "shifts": LesionConvention(connectivity=6, iou_threshold=0.25, f1="counts"),
}


Emptiness = Literal["both", "prediction", "reference"]
"""Which masks of a pair are empty: both, only the prediction, or only the reference."""

LabelMasks = tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_] | None]
"""(prediction, reference, excluded voxels or None) read from the values of two label files."""


def _labels_default(pred_values: NDArray[np.floating], ref_values: NDArray[np.floating]) -> LabelMasks:
    """Values above 0.5 are foreground in both files; nothing is excluded."""
    return np.asarray(pred_values > 0.5), np.asarray(ref_values > 0.5), None


def _labels_wmh2017(pred_values: NDArray[np.floating], ref_values: NDArray[np.floating]) -> LabelMasks:
    """The WMH 2017 challenge's reading (``evaluation.py getImages``): reference value 1 is WMH (the range
    [0.5, 1.5]); value 2, other pathology ((1.5, 2.5]), is excluded from both masks; a prediction voxel is
    foreground when its value lies in [0.5, 1000] (integer files: 1 to 1000)."""
    ref = (ref_values >= 0.5) & (ref_values <= 1.5)
    excluded = (ref_values > 1.5) & (ref_values <= 2.5)
    pred = (pred_values >= 0.5) & (pred_values <= 1000.0)
    return np.asarray(pred), np.asarray(ref), np.asarray(excluded)


@dataclass(frozen=True)
class MetricConvention:
    """A named set of per-metric rules, selected by ``MetricConfig.convention`` (docs/metrics.md).

    ``boundary``: how the ``voxel`` surface convention finds boundary voxels: ``"erosion3d"`` (a mask minus
    its erosion by the 6-neighbour cross; beyond the volume edge is background) or ``"inplane2d"`` (a mask
    minus its erosion by a 3x3 square over array axes 0 and 1, slice by slice; beyond the volume edge is
    foreground). ``undefined``: metric name -> {which masks are empty -> reason}: where the metric is NaN
    under this convention, with the reason as its note, in place of the metric's own value. ``requires``:
    ``MetricConfig`` field -> the values it may take under this convention (others contradict it).
    ``labels``: how the values of a prediction and a reference label file become masks (the ``metrics``
    command).
    """

    boundary: Literal["erosion3d", "inplane2d"]
    undefined: Mapping[str, Mapping[Emptiness, str]]
    requires: Mapping[str, tuple[object, ...]]
    labels: Callable[[NDArray[np.floating], NDArray[np.floating]], LabelMasks]


_WMH_NO_REFERENCE = "reference empty: AVD divides by the reference volume (wmh2017)"

METRIC_CONVENTIONS: dict[str, MetricConvention] = {
    # Metrics Reloaded wherever it states a convention (docs/metrics.md, "Conventions that apply to every metric").
    "default": MetricConvention(boundary="erosion3d", undefined={}, requires={}, labels=_labels_default),
    # MICCAI 2017 WMH challenge, evaluation.py (Kuijf et al. 2019): DSC, HD95, AVD, lesion recall and F1.
    "wmh2017": MetricConvention(
        boundary="inplane2d",
        undefined={
            "dsc": {"both": "both masks empty: Dice is 0/0 (wmh2017)"},
            "hd95": {
                "both": "prediction empty (wmh2017: NaN even when the reference is empty too)",
                "prediction": "prediction empty",
            },
            "avd": {"both": _WMH_NO_REFERENCE, "reference": _WMH_NO_REFERENCE},
        },
        requires={
            "surface": ("voxel",),
            "lesion_convention": ("wmh2017",),
            "lesion_connectivity": (None, 26),
            "lesion_iou_threshold": (None, 0.0),
            "lesion_min_volume_ml": (0.0,),
        },
        labels=_labels_wmh2017,
    ),
}


@dataclass(frozen=True)
class MetricConfig:
    """Settings shared by the panel (from the protocol's ``metrics`` block).

    ``convention``: the named set of per-metric rules in :data:`METRIC_CONVENTIONS` (``"default"``, or
    ``"wmh2017"``: the MICCAI 2017 WMH challenge's evaluation; it fixes the settings it ``requires``).
    ``surface``: ``"voxel"`` (boundary voxels, each weighted 1: MONAI / Metrics Reloaded) or ``"surfel"``
    (marching-cubes surface elements weighted by area: DeepMind ``surface-distance``).
    ``distance_backend``: nearest-boundary search by dense ``edt`` or a KD-tree; both are exact, ``"auto"``
    picks the faster for the boundary density. ``lesion_connectivity`` / ``lesion_iou_threshold`` override
    the chosen ``lesion_convention``. Lesions smaller than ``lesion_min_volume_ml`` are dropped from both
    masks before matching. ``lesion_size_edges_ml`` = (small/medium, medium/large) reference-lesion volume
    edges: small < e1 <= medium < e2 <= large.
    """

    convention: Literal["default", "wmh2017"] = "default"
    nsd_tolerance_mm: float = 1.0
    surface: Literal["voxel", "surfel"] = "voxel"
    distance_backend: Literal["auto", "edt", "kdtree"] = "auto"
    ndsc_r: float = 0.001
    lesion_convention: Literal["wmh2017", "shifts"] = "wmh2017"
    lesion_connectivity: Connectivity | None = None
    lesion_iou_threshold: float | None = None
    lesion_min_volume_ml: float = 0.0
    lesion_size_edges_ml: tuple[float, float] = (0.01, 0.1)

    def __post_init__(self) -> None:
        # A list (e.g. from YAML) becomes a tuple, so the config stays hashable.
        if not isinstance(self.lesion_size_edges_ml, tuple):
            object.__setattr__(self, "lesion_size_edges_ml", tuple(self.lesion_size_edges_ml))
        problems: list[str] = []
        if not (math.isfinite(self.nsd_tolerance_mm) and self.nsd_tolerance_mm >= 0):
            problems.append(f"nsd_tolerance_mm must be a finite number >= 0, got {self.nsd_tolerance_mm}")
        if self.surface not in ("voxel", "surfel"):
            problems.append(f"surface must be 'voxel' or 'surfel', got {self.surface!r}")
        if self.distance_backend not in ("auto", "edt", "kdtree"):
            problems.append(f"distance_backend must be 'auto', 'edt' or 'kdtree', got {self.distance_backend!r}")
        if not 0 < self.ndsc_r < 1:
            problems.append(f"ndsc_r must be in (0, 1), got {self.ndsc_r}")
        if self.lesion_convention not in LESION_CONVENTIONS:
            known = ", ".join(sorted(LESION_CONVENTIONS))
            problems.append(f"lesion_convention must be one of {known}, got {self.lesion_convention!r}")
        if self.lesion_connectivity not in (None, 6, 18, 26):
            problems.append(f"lesion_connectivity must be 6, 18 or 26, got {self.lesion_connectivity}")
        if self.lesion_iou_threshold is not None and not 0 <= self.lesion_iou_threshold <= 1:
            problems.append(f"lesion_iou_threshold must be in [0, 1], got {self.lesion_iou_threshold}")
        if not self.lesion_min_volume_ml >= 0:
            problems.append(f"lesion_min_volume_ml must be >= 0, got {self.lesion_min_volume_ml}")
        edges = self.lesion_size_edges_ml
        if len(edges) != 2 or not 0 < edges[0] < edges[1] or not math.isfinite(edges[1]):
            problems.append(f"lesion_size_edges_ml must be two increasing positive volumes, got {edges}")
        if self.convention not in METRIC_CONVENTIONS:
            known = ", ".join(sorted(METRIC_CONVENTIONS))
            problems.append(f"convention must be one of {known}, got {self.convention!r}")
        else:
            for name, allowed in self.rules.requires.items():
                value = getattr(self, name)
                if value not in allowed:
                    options = " or ".join(repr(a) for a in allowed)
                    problems.append(f"convention {self.convention} needs {name} {options}, got {value!r}")
        if problems:
            raise ValueError("invalid metric settings: " + "; ".join(problems))

    @property
    def rules(self) -> MetricConvention:
        """The per-metric rules of ``convention``."""
        return METRIC_CONVENTIONS[self.convention]

    @property
    def boundary(self) -> Literal["surfel", "erosion3d", "inplane2d"]:
        """How the surface metrics find boundary elements: ``surface`` and the convention together."""
        return "surfel" if self.surface == "surfel" else self.rules.boundary

    @property
    def lesions(self) -> LesionConvention:
        """The lesion convention with any overrides applied."""
        base = LESION_CONVENTIONS[self.lesion_convention]
        conn = base.connectivity if self.lesion_connectivity is None else self.lesion_connectivity
        iou = base.iou_threshold if self.lesion_iou_threshold is None else self.lesion_iou_threshold
        return LesionConvention(connectivity=conn, iou_threshold=iou, f1=base.f1)


@dataclass(frozen=True)
class Roi:
    """The union bounding box of both masks plus a 1-voxel margin of background on every side.

    ``pred_idx`` / ``ref_idx``: sorted flat (C-order) indices of the foreground voxels in the ROI grid of
    ``shape``; ``tp_idx`` their intersection. The margin makes every foreground voxel an interior grid
    point, so neighbours can be read without bounds checks (voxels beyond the volume edge are background).
    ``origin``: the volume index of ROI voxel (0, 0, 0); -1 on an axis where the margin lies beyond the edge.
    """

    shape: tuple[int, int, int]
    origin: tuple[int, int, int]
    pred_idx: NDArray[np.intp]
    ref_idx: NDArray[np.intp]
    tp_idx: NDArray[np.intp]

    def dense(self, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Boolean ROI-sized mask that is True at ``idx``."""
        out = np.zeros(self.shape, dtype=bool)
        out.reshape(-1)[idx] = True
        return out


def _as_bool(a: NDArray[np.generic]) -> NDArray[np.bool_]:
    """``a`` as a boolean array (no copy when it already is one)."""
    return np.asarray(a, dtype=np.bool_)


@dataclass
class MetricContext:
    """One prediction/reference pair on one grid. Masks are boolean; ``spacing_mm`` per array axis.

    Voxels where ``ignore`` is True are set to background in both masks before any metric, and are left
    out of the probability and uncertainty maps (``prob``: foreground probability per voxel;
    ``uncertainty``: higher = less certain).
    """

    pred: NDArray[np.bool_]
    ref: NDArray[np.bool_]
    spacing_mm: tuple[float, float, float]
    ignore: NDArray[np.bool_] | None = None
    prob: NDArray[np.float32] | None = None
    config: MetricConfig = field(default_factory=MetricConfig)
    notes: dict[str, str] = field(default_factory=dict)
    uncertainty: NDArray[np.float32] | None = None
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.pred.shape != self.ref.shape:
            raise ValueError(f"prediction shape {self.pred.shape} != reference shape {self.ref.shape}")
        if self.pred.ndim != 3:
            raise ValueError(f"masks must be 3D, got shape {self.pred.shape}")
        for label, extra in (("ignore", self.ignore), ("prob", self.prob), ("uncertainty", self.uncertainty)):
            if extra is not None and extra.shape != self.pred.shape:
                raise ValueError(f"{label} shape {extra.shape} != mask shape {self.pred.shape}")
        if len(self.spacing_mm) != 3 or not all(math.isfinite(s) and s > 0 for s in self.spacing_mm):
            raise ValueError(f"spacing_mm must be three positive numbers, got {self.spacing_mm}")
        self.spacing_mm = (float(self.spacing_mm[0]), float(self.spacing_mm[1]), float(self.spacing_mm[2]))
        self.pred = _as_bool(self.pred)
        self.ref = _as_bool(self.ref)
        if self.ignore is not None:
            self.ignore = _as_bool(self.ignore)
            keep = ~self.ignore
            self.pred = self.pred & keep
            self.ref = self.ref & keep

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing_mm)) / 1000.0

    @cached_property
    def n_voxels(self) -> int:
        """Number of voxels evaluated (the grid less the ignored voxels)."""
        ignored = 0 if self.ignore is None else int(np.count_nonzero(self.ignore))
        return int(self.pred.size) - ignored

    @cached_property
    def roi(self) -> Roi:
        """Union bounding box + 1-voxel background margin, with the foreground voxel lists."""
        p_full, r_full = np.flatnonzero(self.pred), np.flatnonzero(self.ref)
        if p_full.size + r_full.size == 0:
            empty = np.zeros(0, dtype=np.intp)
            return Roi((1, 1, 1), (0, 0, 0), empty, empty, empty)
        p_co = np.stack(np.unravel_index(p_full, self.pred.shape))
        r_co = np.stack(np.unravel_index(r_full, self.ref.shape))
        both = np.concatenate([p_co, r_co], axis=1)
        lo, hi = both.min(axis=1), both.max(axis=1)
        shape = (int(hi[0] - lo[0] + 3), int(hi[1] - lo[1] + 3), int(hi[2] - lo[2] + 3))
        shift = (lo - 1)[:, None]
        pred_idx = np.ravel_multi_index(tuple(p_co - shift), shape).astype(np.intp)
        ref_idx = np.ravel_multi_index(tuple(r_co - shift), shape).astype(np.intp)
        tp_idx = np.intersect1d(pred_idx, ref_idx, assume_unique=True).astype(np.intp)
        origin = (int(lo[0] - 1), int(lo[1] - 1), int(lo[2] - 1))
        return Roi(shape, origin, pred_idx, ref_idx, tp_idx)

    @cached_property
    def pred_roi(self) -> NDArray[np.bool_]:
        return self.roi.dense(self.roi.pred_idx)

    @cached_property
    def ref_roi(self) -> NDArray[np.bool_]:
        return self.roi.dense(self.roi.ref_idx)

    @property
    def n_pred(self) -> int:
        return int(self.roi.pred_idx.size)

    @property
    def n_ref(self) -> int:
        return int(self.roi.ref_idx.size)

    @property
    def n_tp(self) -> int:
        return int(self.roi.tp_idx.size)

    @property
    def emptiness(self) -> Emptiness | None:
        """Which masks are empty (None: neither)."""
        p, r = self.n_pred == 0, self.n_ref == 0
        return "both" if p and r else "prediction" if p else "reference" if r else None

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per context under ``key`` (shared work between metrics)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return cast(T, self._cache[key])

    def undefined(self, name: str, reason: str) -> float:
        """NaN, with ``reason`` recorded in ``notes[name]``."""
        self.notes[name] = reason
        return float("nan")


class Metric(ABC):
    """A per-case metric. ``empty`` documents the value when one or both masks are empty.

    ``descriptive`` metrics (volumes) describe the case rather than score it: ``higher_is_better`` is nominal.
    """

    name: ClassVar[str]
    doc: ClassVar[str]
    higher_is_better: ClassVar[bool]
    unit: ClassVar[str]
    empty: ClassVar[str]
    descriptive: ClassVar[bool] = False

    @abstractmethod
    def __call__(self, ctx: MetricContext) -> float:
        """The value for this pair (NaN with ``ctx.notes[name]`` set when undefined)."""

    def value(self, ctx: MetricContext) -> float:
        """The value under ``ctx.config.convention``: NaN with the convention's reason where it leaves this
        metric undefined for the masks' emptiness, else :meth:`__call__`."""
        cases = ctx.config.rules.undefined.get(self.name)  # looked up first: most metrics have none
        empty = ctx.emptiness if cases else None
        reason = None if cases is None or empty is None else cases.get(empty)
        return ctx.undefined(self.name, reason) if reason is not None else float(self(ctx))


METRICS: Registry[Metric] = Registry("metric")
