"""The realism card of the synthetic WMH data (version 2): per site, what real WMH data would show, measured
on generated subjects, beside the published figure each number aims at (``TARGETS``).

Conventions: lesions are 26-connected components of the reference (rater 1, label value 1) on the acquired
grid; normal-appearing white matter (NAWM) is white matter (fraction > 0.95 on the acquired grid) farther than
3 mm from any FLAIR-bright object (lesion, cap, rim, infarct); a lesion's contrast is its mean FLAIR over the
NAWM median; the NAWM coefficient of variation is the std / mean of FLAIR over NAWM; DSCs exclude the voxels
labelled 2 (other pathology); "periventricular share" is the share of lesion volume (working grid) within
10 mm of the ventricle surface, over medium- and high-grade subjects. The global threshold is one FLAIR z-score
(z over the brain, voxels > 0) tuned for the best mean DSC on the training subjects of the first site and
applied to the test subjects of every site.
"""

from __future__ import annotations

__all__ = [
    "TARGETS",
    "THRESHOLDS_Z",
    "SubjectFacts",
    "best_threshold",
    "boundary_distance_mm",
    "card_rows",
    "measure",
]

from dataclasses import dataclass
from typing import Any

import cc3d
import edt
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from robusteval.data.synth_common import resample_to, subject_rng
from robusteval.data.synthetic_v2 import IGNORE_VALUE, SITES_V2, Scan, Subject, make_subject, scan

LOCAL_NAWM_MM = 8.0
THRESHOLDS_Z = np.round(np.arange(0.5, 6.01, 0.1), 2)

# (name, target text, source) of every card row
TARGETS: tuple[tuple[str, str, str], ...] = (
    ("lesions per subject", "median 40 (16-86) non-punctate WMH", "de Bresser et al. 2018 (3 T)"),
    ("lesion volume (mL), median / p90", "most lesions < 0.1 mL, heavy tail", "Kuijf et al. 2019; Metrics Reloaded"),
    ("total WMH volume (mL), median", "≈ 5-20 mL, up to > 50 mL", "Kuijf et al. 2019 (WMH-2017)"),
    ("periventricular share (≤ 10 mm)", "most WMH volume (≥ 60 %)", "DeCarli et al. 2005"),
    ("lesion FLAIR contrast p5-p95", "faint to bright (spread ≥ 0.3)", "issue target; Kuijf et al. 2019"),
    ("lesions with T1/NAWM > 0.9", "many isointense on T1 (≥ 30 %)", "issue target"),
    ("NAWM FLAIR CV", "6-10 %", "issue target"),
    ("inter-rater DSC, median", "0.75-0.85", "expert raters (REFERENCES.md)"),
    ("inter-rater boundary distance (mm)", "sets the label-noise severities", "docs/shifts.md"),
    ("best global FLAIR threshold DSC", "≤ 0.60 (a threshold cannot solve real WMH)", "issue target"),
)


@dataclass(frozen=True)
class SubjectFacts:
    """What the card measures of one generated subject at one site."""

    site: str
    partition: str
    grade: str
    lesion_count: int
    lesion_volumes_ml: tuple[float, ...]
    total_ml: float
    pv_ml: float  # lesion volume within 10 mm of the ventricle surface (working grid)
    work_ml: float  # lesion volume on the working grid
    contrasts: tuple[float, ...]
    t1_ratios: tuple[float, ...]
    nawm_cv: float
    inter_rater_dsc: float
    boundary_mm: float  # mean symmetric surface distance between the raters' lesions that both found
    z_dsc: tuple[float, ...]  # DSC of each of THRESHOLDS_Z


def _dsc(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def _matched(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The 26-connected components of ``a`` that overlap ``b``."""
    comps = cc3d.connected_components(a.astype(np.uint8), connectivity=26)
    hit = np.unique(comps[b & (comps > 0)])
    return np.isin(comps, hit)


def _surface(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    eroded: NDArray[np.bool_] = ndimage.binary_erosion(mask, border_value=0)
    return mask & ~eroded


def boundary_distance_mm(a: NDArray[np.bool_], b: NDArray[np.bool_], spacing: tuple[float, float, float]) -> float:
    """Boundary disagreement of two raters: the mean symmetric distance (mm) between the surface voxels of the
    lesions both found (components of one overlapping the other); NaN when they share none. Lesions one rater
    missed are detection disagreement, not boundary disagreement."""
    sa, sb = _surface(_matched(a, b)), _surface(_matched(b, a))
    if not sa.any() or not sb.any():
        return float("nan")
    d_ab = edt.edt(~sb, anisotropy=spacing, black_border=False)[sa]
    d_ba = edt.edt(~sa, anisotropy=spacing, black_border=False)[sb]
    return float(np.concatenate([d_ab, d_ba]).mean())


def _facts(site: str, partition: str, subject: Subject, s: Scan, resolution_mm: float) -> SubjectFacts:
    ref, other = s.labels["rater1"], s.labels["rater2"]
    valid = ref != IGNORE_VALUE
    lesion = ref == 1
    zooms = np.sqrt((s.affine[:3, :3] ** 2).sum(axis=0))
    spacing = (float(zooms[0]), float(zooms[1]), float(zooms[2]))
    voxel_ml = float(np.prod(zooms)) / 1000.0
    comps, n = cc3d.connected_components(lesion.astype(np.uint8), connectivity=26, return_N=True)
    sizes = np.bincount(comps.ravel(), minlength=n + 1)[1:]
    flair, t1 = s.images["flair"], s.images["t1"]
    bright = subject.profile > 0.05
    bright |= (subject.mimic > 0.05) | (subject.infarct > 0) | (subject.gliosis > 0)
    near = resample_to(bright.astype(np.float32), subject.affine, spacing)[0] > 0.01
    near = edt.edt(~near, anisotropy=spacing, black_border=False) <= 3.0
    wm = resample_to(subject.wm, subject.affine, spacing)[0] > 0.95
    nawm = wm & ~near & ~lesion & (flair > 0)
    contrasts, t1_ratios = [], []
    margin = np.ceil(LOCAL_NAWM_MM / np.asarray(spacing)).astype(int)
    for box, comp in zip(ndimage.find_objects(comps), range(1, n + 1), strict=True):
        # the lesion against the NAWM around it (8 mm), so that the bias field does not count as contrast
        sl = tuple(slice(max(b.start - m, 0), b.stop + m) for b, m in zip(box, margin, strict=True))
        local = nawm[sl]
        if local.sum() < 20:
            continue
        inside = comps[sl] == comp
        contrasts.append(float(flair[sl][inside].mean() / np.median(flair[sl][local])))
        t1_ratios.append(float(t1[sl][inside].mean() / np.median(t1[sl][local])))
    r = resolution_mm
    d_vent = edt.edt(~subject.ventricles, anisotropy=(r, r, r), black_border=False) - 0.5 * r
    ref_work = subject.raters[0] * subject.wm  # lesioned white matter, as the acquired label counts it
    brain = flair > 0
    z = (flair - flair[brain].mean()) / max(float(flair[brain].std()), 1e-6)
    z_dsc = tuple(_dsc((z >= t) & brain & valid, lesion) for t in THRESHOLDS_Z)
    return SubjectFacts(
        site=site,
        partition=partition,
        grade=subject.grade,
        lesion_count=int(n),
        lesion_volumes_ml=tuple(float(v) * voxel_ml for v in sizes),
        total_ml=float(lesion.sum()) * voxel_ml,
        pv_ml=float(ref_work[d_vent <= 10.0].sum()) * r**3 / 1000.0,
        work_ml=float(ref_work.sum()) * r**3 / 1000.0,
        contrasts=tuple(contrasts),
        t1_ratios=tuple(t1_ratios),
        nawm_cv=float(flair[nawm].std() / flair[nawm].mean()),
        inter_rater_dsc=_dsc(lesion & valid, (other == 1) & valid),
        boundary_mm=boundary_distance_mm(lesion & valid, (other == 1) & valid, spacing),
        z_dsc=z_dsc,
    )


def measure(
    sites: tuple[str, ...], test_subjects: int, train_subjects: int, resolution_mm: float, seed: int = 0
) -> list[SubjectFacts]:
    """Generate each subject exactly as :func:`robusteval.data.synthetic.generate` names and seeds it (without
    writing files) and measure it: ``test_subjects`` per site, ``train_subjects`` of the first site (where the
    global threshold is tuned)."""
    facts = []
    for site in sites:
        for partition, n in (("train", train_subjects if site == sites[0] else 0), ("test", test_subjects)):
            for i in range(n):
                name = f"{site}-{partition}-{i:03d}"
                subject = make_subject(subject_rng(seed, name), resolution_mm)
                s = scan(subject, SITES_V2[site], subject_rng(seed, name, "scan", site), resolution_mm)
                facts.append(_facts(site, partition, subject, s, resolution_mm))
    return facts


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def best_threshold(facts: list[SubjectFacts]) -> int:
    """Index in ``THRESHOLDS_Z`` of the best mean DSC over the training subjects (all subjects when none)."""
    tune = [f for f in facts if f.partition == "train"] or facts
    return int(np.argmax(np.mean([f.z_dsc for f in tune], axis=0)))


def card_rows(facts: list[SubjectFacts]) -> list[dict[str, Any]]:
    """One row per card line and site: ``{"measure", "site", "value", "target", "source"}`` (value as text).

    The threshold is tuned on the training subjects (:func:`best_threshold`) and applied to the test subjects."""
    sites = list(dict.fromkeys(f.site for f in facts))
    best = best_threshold(facts)
    rows = []
    for site in sites:
        test = [f for f in facts if f.site == site and f.partition == "test"] or [f for f in facts if f.site == site]
        vols = [v for f in test for v in f.lesion_volumes_ml]
        contrasts = [c for f in test for c in f.contrasts]
        t1 = [c for f in test for c in f.t1_ratios]
        graded = [f for f in test if f.grade != "low"]
        lo, hi = _pct(contrasts, 5), _pct(contrasts, 95)
        pv = sum(f.pv_ml for f in graded) / max(sum(f.work_ml for f in graded), 1e-9) if graded else float("nan")
        values = (
            f"{np.median([f.lesion_count for f in test]):.0f} "
            f"({min(f.lesion_count for f in test)}-{max(f.lesion_count for f in test)})",
            f"{_pct(vols, 50):.3f} / {_pct(vols, 90):.2f}",
            f"{np.median([f.total_ml for f in test]):.1f} ({min(f.total_ml for f in test):.1f}-"
            f"{max(f.total_ml for f in test):.1f})",
            f"{100 * pv:.0f} %",
            f"{lo:.2f}-{hi:.2f} (spread {hi - lo:.2f})",
            f"{100 * float(np.mean(np.asarray(t1) > 0.9)) if t1 else float('nan'):.0f} %",
            f"{100 * float(np.median([f.nawm_cv for f in test])):.1f} %",
            f"{np.median([f.inter_rater_dsc for f in test]):.3f}",
            f"{np.nanmean([f.boundary_mm for f in test]):.2f} (mean over subjects)",
            f"{np.mean([f.z_dsc[best] for f in test]):.3f} (z ≥ {THRESHOLDS_Z[best]:g})",
        )
        for (name, target, source), value in zip(TARGETS, values, strict=True):
            rows.append({"measure": name, "site": site, "value": value, "target": target, "source": source})
    return rows
