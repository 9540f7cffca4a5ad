"""Version 2 of the synthetic WMH generator: small-vessel-disease lesions, FLAIR-bright mimics, scanner sites
that differ as scanners do, and two simulated raters (the reference is rater 1).

Every figure this module aims at, with its source, is in docs/data.md ("Version 2"); ``python -m robusteval
data realism`` measures them. Steps, all on the isotropic working grid of ``resolution_mm`` (a pure function of
``(seed, subject)``; the scan also of the site):

1. **Anatomy.** The MNI152 2009 GM / WM / CSF fractions and the lateral ventricles (:func:`template`), warped by a
   smooth random displacement field (peak 3 mm), a global anisotropic scaling (0.93-1.07) and a ventricle
   enlargement that grows with the subject's lesion load (atrophy goes with small-vessel disease).
2. **Lesions** (WMH), each an object with a soft profile ``p`` (1 in its core, fading to 0 over a
   partial-volume penumbra), its own FLAIR excess over normal-appearing WM (NAWM) ``a`` (faint 0.1 to bright
   1.4) and T1 drop ``b`` (most lesions isointense or nearly so on T1). A subject's load ``L`` ~ Beta(1.2, 2.0)
   sets everything: periventricular caps and bands grow out from the ventricle surface (width at the horns
   ``18 L - 2`` mm, irregular, along the bodies a fraction of that), split into six segments with their own
   contrast; deep lesions (Poisson, mean ``8 + 50 L``; log-normal radius, median ``1.4 + 1.6 L`` mm) in deep
   white matter, some joining the periventricular bands (confluence, probability ``L``); juxtacortical lesions
   within 3 mm of the cortex (a quarter of the deep count, fainter).
3. **FLAIR-bright tissue that is not WMH:** an ependymal rim around the ventricles, thin caps at the frontal
   and occipital horns (most subjects), corticospinal-tract hyperintensity (most subjects), the choroid plexus
   in the atria; and in a fifth of subjects an old infarct (CSF-like core, gliotic bright rim), labelled with
   the ignore value 2 as WMH-2017 labels other pathology.
4. **Raters.** Each rater draws a lesion's boundary where its profile passes the rater's own fraction (with a
   smooth jitter), misses lesions whose visibility (contrast x size) is below the rater's detection threshold
   (softly), and includes a horn cap with its own probability. Rater 1 is the reference ``label``; rater 2 is
   written as ``label_rater2``.
5. **Acquisition** at a :class:`Site`: its own tissue contrasts (GM/WM ratio, residual CSF signal after
   inversion), lesion contrast (lower at 1.5 T), slice thickness and gap (the slice profile is the thickness,
   the spacing thickness + gap), texture, smooth bias field, power-law intensity curve, scale and Rician noise.
"""

from __future__ import annotations

__all__ = [
    "RATERS",
    "SITES_V2",
    "Lesion",
    "Rater",
    "Scan",
    "Site",
    "Subject",
    "Template",
    "make_subject",
    "mni152_ventricles",
    "scan",
    "template",
]

import functools
import itertools
from dataclasses import dataclass

import edt
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from robusteval.data.synth_common import (
    FloatArray,
    ScannerProfile,
    bias_field,
    deformation,
    mni152_maps,
    resample_to,
    smooth_noise,
)

IGNORE_VALUE = 2  # label value of other pathology (WMH-2017 convention)
# Corticospinal tract, one hemisphere (x > 0; mirrored), MNI152 mm: cerebral peduncle -> internal capsule
# (posterior limb) -> corona radiata -> centrum semiovale.
CST_MNI = ((12.0, -20.0, -14.0), (16.0, -18.0, -6.0), (20.0, -14.0, 4.0), (24.0, -18.0, 22.0), (26.0, -20.0, 40.0))
CHOROID_MNI = (26.0, -40.0, 16.0)  # glomus of the choroid plexus in the atrium (x mirrored)


@dataclass(frozen=True)
class Site:
    """A scanner site of version 2: the acquisition (``scanner``) plus how it renders tissue.

    ``flair`` and ``t1`` are (CSF, GM, WM) intensities relative to the scanner's scale; ``lesion_contrast``
    multiplies every lesion's FLAIR excess; ``slice_thickness_mm`` is the slice profile's FWHM along z (the
    spacing minus the gap); ``texture`` the peak amplitude of the smooth tissue texture (fraction)."""

    scanner: ScannerProfile
    slice_thickness_mm: float
    flair: tuple[float, float, float]
    t1: tuple[float, float, float]
    lesion_contrast: float
    texture: float


SITES_V2: dict[str, Site] = {
    "A": Site(
        ScannerProfile("A", "3T 3D FLAIR, near-isotropic (GE Discovery MR750-like)", 3.0, (1.0, 1.0, 1.2),
                       snr=18.0, bias_strength=0.20, gamma=1.0, scale=1000.0),
        slice_thickness_mm=1.2, flair=(0.10, 0.58, 0.50), t1=(0.22, 0.55, 0.85), lesion_contrast=1.0, texture=0.10,
    ),
    "B": Site(
        ScannerProfile("B", "3T 2D FLAIR, 3 mm slices (Philips Achieva-like)", 3.0, (1.0, 1.0, 3.0),
                       snr=18.0, bias_strength=0.25, gamma=0.85, scale=600.0),
        slice_thickness_mm=3.0, flair=(0.13, 0.57, 0.50), t1=(0.25, 0.58, 0.85), lesion_contrast=0.95, texture=0.10,
    ),
    "C": Site(
        ScannerProfile("C", "1.5T 2D FLAIR, 3 mm slices (GE Signa HDxt-like)", 1.5,
                       (1.2, 1.2, 3.0), snr=18.0, bias_strength=0.20, gamma=1.15, scale=250.0),
        slice_thickness_mm=3.0, flair=(0.16, 0.56, 0.50), t1=(0.28, 0.60, 0.83), lesion_contrast=1.0, texture=0.10,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Rater:
    """How one simulated annotator draws lesions.

    ``boundary``: the profile value where the boundary is drawn (higher = tighter); ``jitter``: peak amplitude
    of its smooth variation (correlation ``jitter_mm``); ``detect``: the visibility (FLAIR excess x size factor)
    at which a lesion is found half of the time (``detect_softness`` wide); ``cap_p``: probability of
    including a horn cap."""

    name: str
    boundary: float
    jitter: float
    jitter_mm: float
    detect: float
    detect_softness: float
    cap_p: float


RATERS: tuple[Rater, Rater] = (
    Rater("rater1", boundary=0.45, jitter=0.15, jitter_mm=3.0, detect=0.24, detect_softness=0.05, cap_p=0.3),
    Rater("rater2", boundary=0.62, jitter=0.2, jitter_mm=3.0, detect=0.3, detect_softness=0.05, cap_p=0.6),
)


@dataclass(frozen=True)
class Template:
    """The MNI152 maps on the working grid: tissue fractions, the lateral ventricles, corticospinal tracts and
    choroid plexus (masks as float fractions), and the grid's affine."""

    gm: FloatArray
    wm: FloatArray
    csf: FloatArray
    ventricles: FloatArray
    cst: FloatArray
    choroid: FloatArray
    affine: NDArray[np.float64]


@dataclass(frozen=True)
class Lesion:
    """One FLAIR-bright object: ``kind`` pv | deep | juxta | cap | rim; ``contrast`` = peak FLAIR excess over
    NAWM; ``t1_drop`` = peak relative T1 decrease; ``radius_mm``; ``wmh`` = whether it is a WMH;
    ``found`` = per rater, whether that rater labels it."""

    kind: str
    contrast: float
    t1_drop: float
    radius_mm: float
    wmh: bool
    found: tuple[bool, ...]


@dataclass(frozen=True)
class Subject:
    """One subject on the working grid (see the module doc)."""

    gm: FloatArray
    wm: FloatArray
    csf: FloatArray
    choroid: FloatArray
    ventricles: NDArray[np.bool_]
    profile: FloatArray  # max over lesions of their profile, [0, 1]
    lesion_id: NDArray[np.int32]  # the lesion owning each voxel's profile, -1 = none
    lesions: tuple[Lesion, ...]
    mimic: FloatArray  # FLAIR excess of the ependymal rim and the corticospinal tracts
    infarct: FloatArray  # other pathology (label 2): fraction in [0, 1]
    gliosis: FloatArray  # FLAIR excess of the infarct's rim
    raters: tuple[NDArray[np.bool_], ...]  # per rater: the lesion mask on the working grid
    affine: NDArray[np.float64]
    load: float
    grade: str


@dataclass(frozen=True)
class Scan:
    """One subject imaged at one site: images, the raters' labels (0/1, 2 = other pathology), affine."""

    images: dict[str, FloatArray]
    labels: dict[str, NDArray[np.uint8]]
    affine: NDArray[np.float64]


@functools.lru_cache(maxsize=1)
def mni152_ventricles() -> NDArray[np.bool_]:
    """The lateral ventricles of the MNI152 template at 1 mm: the two largest deep CSF components (CSF fraction
    > 0.7, > 10 mm inside the brain mask) off the midline, on the template's own grid."""
    mask, _, _, csf, _ = mni152_maps()
    deep = (csf > 0.7) & (edt.edt(mask, black_border=True) > 10.0)
    labels, n = ndimage.label(deep)
    index = np.arange(1, n + 1)
    sizes = ndimage.sum(deep, labels, index)
    centre_x = np.asarray(ndimage.center_of_mass(deep, labels, index))[:, 0]
    lateral = np.abs(centre_x - (mask.shape[0] - 1) / 2) > 5.0
    keep = index[lateral][np.argsort(sizes[lateral])[::-1][:2]]
    return np.isin(labels, keep)


def _polyline_mask(points_vox: NDArray[np.float64], shape: tuple[int, ...]) -> NDArray[np.bool_]:
    """Voxels visited by the polyline through ``points_vox`` (sampled every 0.25 voxel)."""
    out = np.zeros(shape, dtype=bool)
    for a, b in itertools.pairwise(points_vox):
        n = int(np.ceil(np.linalg.norm(b - a) * 4)) + 1
        pts = np.round(a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)).astype(int)
        ok = np.all((pts >= 0) & (pts < np.asarray(shape)), axis=1)
        out[tuple(pts[ok].T)] = True
    return out


@functools.lru_cache(maxsize=4)
def template(resolution_mm: float) -> Template:
    """The MNI152 maps cropped to the brain (4 mm margin) and resampled once to ``resolution_mm``."""
    mask, gm, wm, csf, mni_affine = mni152_maps()
    vent = mni152_ventricles().astype(np.float32)
    idx = np.argwhere(mask)
    lo, hi = np.maximum(idx.min(axis=0) - 4, 0), np.minimum(idx.max(axis=0) + 5, mask.shape)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    affine = mni_affine.copy()
    affine[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
    spacing = (resolution_mm,) * 3
    maps = [resample_to(v[sl], affine, spacing)[0] for v in (gm, wm, csf, vent)]
    new_affine = resample_to(gm[sl], affine, spacing)[1]
    shape = maps[0].shape
    to_vox = np.linalg.inv(new_affine)
    radius_vox = 2.5 / resolution_mm
    cst = np.zeros(shape, dtype=bool)
    choroid = np.zeros(shape, dtype=bool)
    vent_idx = np.argwhere(maps[3] > 0.5)
    for sign in (1.0, -1.0):
        pts = np.asarray([(sign * x, y, z) for x, y, z in CST_MNI])
        cst |= _polyline_mask((to_vox[:3, :3] @ pts.T).T + to_vox[:3, 3], shape)
        c = to_vox[:3, :3] @ np.asarray([sign * CHOROID_MNI[0], *CHOROID_MNI[1:]]) + to_vox[:3, 3]
        nearest = vent_idx[np.argmin(((vent_idx - c) ** 2).sum(axis=1))]
        choroid[tuple(nearest)] = True
    cst_map = ((edt.edt(~cst) <= radius_vox) & (maps[1] > 0.5)).astype(np.float32)
    ball = edt.edt(~choroid, anisotropy=spacing) <= 4.0
    choroid_map = (ball & (maps[3] > 0.5)).astype(np.float32)
    return Template(maps[0], maps[1], maps[2], maps[3], cst_map, choroid_map, new_affine)


def _grade(load: float) -> str:
    return "low" if load < 0.25 else "medium" if load < 0.55 else "high"


class _Painter:
    """Accumulates lesion profiles on the working grid: each voxel keeps the largest profile and its owner."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.profile = np.zeros(shape, dtype=np.float32)
        self.owner = np.full(shape, -1, dtype=np.int32)
        self.lesions: list[Lesion] = []

    def add(self, p: FloatArray, lesion: Lesion, where: tuple[slice, ...] = ()) -> None:
        prof, own = self.profile[where], self.owner[where]
        take = p > prof
        if not take.any():
            return
        prof[take] = p[take]
        own[take] = len(self.lesions)
        self.lesions.append(lesion)


def _visibility(contrast: float, radius_mm: float) -> float:
    """What a rater sees of a lesion: its FLAIR excess, discounted below 2 mm radius (partial volume)."""
    return float(contrast * min(1.0, radius_mm / 2.0) ** 1.5)


def _found(rng: np.random.Generator, contrast: float, radius_mm: float, wmh: bool) -> tuple[bool, ...]:
    """Per rater: whether it labels this object (caps: each rater's own inclusion probability)."""
    if not wmh:
        return tuple(bool(rng.random() < r.cap_p) for r in RATERS)
    v = _visibility(contrast, radius_mm)
    return tuple(bool(rng.random() < 1.0 / (1.0 + np.exp(-(v - r.detect) / r.detect_softness))) for r in RATERS)


def _t1_drop(rng: np.random.Generator, contrast: float) -> float:
    """Peak relative T1 decrease: 60 % of lesions isointense on T1 (< 6 %), the rest darker when brighter."""
    if rng.random() < 0.6:
        return float(rng.uniform(0.0, 0.06))
    return float(np.clip(rng.uniform(0.08, 0.25) + 0.12 * contrast, 0.0, 0.45))


def _ellipsoid(
    rng: np.random.Generator, centre: NDArray[np.int64], radius_mm: float, shape: tuple[int, ...], r_mm: float
) -> tuple[tuple[slice, ...], FloatArray]:
    """A rough ellipsoid's profile in its bounding box: 1 inside 0.6 radii, 0.5 at one radius, 0 at 1.4."""
    axes_mm = radius_mm * rng.uniform(0.7, 1.4, size=3)
    r_vox = int(np.ceil(1.5 * axes_mm.max() / r_mm)) + 1
    lo, hi = np.maximum(centre - r_vox, 0), np.minimum(centre + r_vox + 1, shape)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    local = np.meshgrid(*[(np.arange(a, b) - c) * r_mm for a, b, c in zip(lo, hi, centre, strict=True)], indexing="ij")
    rho = np.sqrt(sum((x / ax) ** 2 for x, ax in zip(local, axes_mm, strict=True)))
    rho = rho + 0.15 * rng.standard_normal(rho.shape).astype(np.float32) * np.clip(rho, 0, 1.4)
    return sl, np.clip((1.4 - rho) / 0.8, 0.0, 1.0).astype(np.float32)


def make_subject(rng: np.random.Generator, resolution_mm: float) -> Subject:
    """A random subject on the working grid (see the module doc)."""
    tpl = template(resolution_mm)
    shape = tpl.gm.shape
    r = resolution_mm
    spacing = (r, r, r)
    load = float(rng.beta(1.2, 2.0))
    enlarge_mm = float(rng.uniform(0.0, 2.0)) + 5.0 * load
    coords = deformation(rng, shape, tpl.ventricles, r, lambda _: enlarge_mm).astype(np.float32)
    warp = functools.partial(ndimage.map_coordinates, coordinates=coords, order=1, mode="constant", cval=0.0)
    gm, wm, csf, vent_f, cst_f, chp_f = (
        np.asarray(warp(v), dtype=np.float32) for v in (tpl.gm, tpl.wm, tpl.csf, tpl.ventricles, tpl.cst, tpl.choroid)
    )
    vent = vent_f > 0.5
    brain = gm + wm + csf
    wm_mask = wm > 0.5
    # distance (mm) from the ventricle surface (half a voxel outside the boundary voxel centres)
    d_vent = np.maximum(edt.edt(~vent, anisotropy=spacing, black_border=False) - 0.5 * r, 0.0).astype(np.float32)
    vy = np.argwhere(vent)[:, 1]
    y = np.arange(shape[1], dtype=np.float32)[None, :, None]
    mid, span = (vy.max() + vy.min()) / 2.0, max(float(vy.max() - vy.min()), 1.0) / 2.0
    # 0 along the central 60% of the ventricles' antero-posterior extent, 1 at and beyond the horns
    cap = np.broadcast_to(np.clip((np.abs(y - mid) / span - 0.6) / 0.4, 0.0, 1.0), shape)
    paint = _Painter(shape)
    x_mid = (shape[0] - 1) / 2.0
    hemi = np.broadcast_to((np.arange(shape[0]) > x_mid)[:, None, None], shape)
    front = np.broadcast_to(y > mid, shape)
    segment = hemi * 3 + np.where(cap > 0, np.where(front, 1, 2), 0)  # hemisphere x (body, frontal, occipital)
    # -- horn caps (FLAIR-bright, usually not WMH: raters disagree on them)
    for seg in (1, 2, 4, 5):
        if rng.random() < 0.8:
            width = rng.uniform(2.0, 4.0)
            p = np.clip(1.0 - d_vent / width, 0.0, 1.0) * cap * (segment == seg) * (wm > 0.3)
            c = float(rng.uniform(0.2, 0.45))
            paint.add(p.astype(np.float32), Lesion("cap", c, 0.0, width, False, _found(rng, c, width, False)))
    # -- periventricular caps and bands growing out from the ventricle surface
    horn_mm = 18.0 * load - 2.0
    if horn_mm > 0:
        body_mm = horn_mm * (0.2 + 0.5 * load)
        spread = 1.0 + 0.5 * smooth_noise(rng, shape, 8.0 / r)
        band_mm = np.maximum((body_mm + (horn_mm - body_mm) * cap) * spread, 1e-3)
        for seg in range(6):
            c = float(np.clip(rng.lognormal(np.log(0.55), 0.35), 0.15, 1.4))
            penumbra_mm = rng.uniform(2.0, 5.0)  # the halo's fade: sharp to smooth
            p_pv = np.clip((band_mm - d_vent) / penumbra_mm + 0.5, 0.0, 1.0) * (wm > 0.3)
            sel = (p_pv * (segment == seg)).astype(np.float32)
            if sel.max() > 0:
                paint.add(sel, Lesion("pv", c, _t1_drop(rng, c), horn_mm, True, _found(rng, c, horn_mm, True)))
    # -- deep and juxtacortical lesions
    wm_depth = edt.edt(wm_mask, anisotropy=spacing, black_border=True)
    gm_dist = edt.edt(gm < 0.5, anisotropy=spacing, black_border=True)
    deep_pool = np.argwhere(wm_mask & (wm_depth > 3.0) & (d_vent > 6.0))
    juxta_pool = np.argwhere(wm_mask & (gm_dist <= 3.0) & (wm_depth <= 3.0))
    near_pv = np.argwhere(wm_mask & (d_vent > 4.0) & (d_vent < max(horn_mm, 0.0) + 8.0))
    n_deep = int(rng.poisson(8.0 + 50.0 * load))
    n_juxta = int(rng.poisson((8.0 + 50.0 * load) / 4.0))
    for kind, n in (("deep", n_deep), ("juxta", n_juxta)):
        for _ in range(n):
            pool = juxta_pool if kind == "juxta" else near_pv if rng.random() < load * 0.6 else deep_pool
            if not len(pool):
                continue
            centre = pool[int(rng.integers(len(pool)))]
            radius = float(np.clip(rng.lognormal(np.log(1.4 + 1.6 * load), 0.5), 0.7, 10.0))
            c = float(np.clip(rng.lognormal(np.log(0.5), 0.5), 0.1, 1.4)) * (0.8 if kind == "juxta" else 1.0)
            sl, p = _ellipsoid(rng, centre, radius, shape, r)
            p = p * (wm[sl] > 0.3)
            paint.add(p, Lesion(kind, c, _t1_drop(rng, c), radius, True, _found(rng, c, radius, True)), sl)
    # -- mimics: ependymal rim (everyone), corticospinal tracts (most), choroid plexus (in the template)
    rim = float(rng.uniform(0.2, 0.4)) * np.exp(-((d_vent / 1.2) ** 2)) * (~vent)
    cst = float(rng.uniform(0.08, 0.3)) * cst_f * (rng.random() < 0.85)
    mimic = np.maximum(rim, ndimage.gaussian_filter(cst, 1.0 / r)).astype(np.float32)
    # -- an old infarct in some subjects: CSF-like core, gliotic rim; other pathology (label 2)
    infarct = np.zeros(shape, dtype=np.float32)
    gliosis = np.zeros(shape, dtype=np.float32)
    if rng.random() < 0.2 and len(deep_pool):
        centre = deep_pool[int(rng.integers(len(deep_pool)))]
        radius = float(rng.uniform(4.0, 9.0))
        sl, p = _ellipsoid(rng, centre, radius, shape, r)
        infarct[sl] = np.clip((p - 0.5) * 4.0, 0.0, 1.0)  # core: rho < ~0.85
        gliosis[sl] = float(rng.uniform(0.5, 1.0)) * np.clip(p * 2.0, 0.0, 1.0) * (1.0 - infarct[sl])
    # -- raters
    masks = []
    for k, rater in enumerate(RATERS):
        jitter = rater.jitter * smooth_noise(rng, shape, rater.jitter_mm / r)
        found = np.asarray([les.found[k] for les in paint.lesions] + [False], dtype=bool)
        masks.append((paint.profile >= rater.boundary + jitter) & found[paint.owner] & (brain > 0.3))
    return Subject(
        gm=gm, wm=wm, csf=csf, choroid=chp_f, ventricles=vent, profile=paint.profile, lesion_id=paint.owner,
        lesions=tuple(paint.lesions), mimic=mimic, infarct=infarct, gliosis=gliosis, raters=tuple(masks),
        affine=tpl.affine, load=load, grade=_grade(load),
    )  # fmt: skip


def scan(subject: Subject, site: Site, rng: np.random.Generator, resolution_mm: float) -> Scan:
    """Image ``subject`` at ``site``: FLAIR and T1, both raters' labels (2 = other pathology), the affine."""
    prof = site.scanner
    sx, sy, sz = (max(s, resolution_mm) for s in prof.spacing_mm)
    spacing = (sx, sy, sz)
    fwhm = (sx, sy, max(min(site.slice_thickness_mm, sz), resolution_mm))
    shape = subject.gm.shape
    owner = subject.lesion_id
    contrast = np.asarray([les.contrast for les in subject.lesions] + [0.0], dtype=np.float32)[owner]
    t1_drop = np.asarray([les.t1_drop for les in subject.lesions] + [0.0], dtype=np.float32)[owner]
    r = resolution_mm
    texture = site.texture * smooth_noise(rng, shape, 1.0 / r)
    lesion_texture = 1.0 + 0.12 * smooth_noise(rng, shape, 1.0 / r)
    excess = np.maximum(site.lesion_contrast * contrast * subject.profile * lesion_texture, subject.mimic)
    excess = np.maximum(excess, site.lesion_contrast * subject.gliosis)
    core = subject.infarct
    csf = subject.csf + core * (subject.gm + subject.wm)
    gm, wm = subject.gm * (1.0 - core), subject.wm * (1.0 - core)
    csf_flair = site.flair[0] * (1.0 + 1.0 * np.maximum(smooth_noise(rng, shape, 6.0 / r), 0.0))  # inflow
    flair = (
        csf * csf_flair * (1.0 - subject.choroid)
        + subject.choroid * subject.csf * site.flair[1] * 1.3
        + gm * site.flair[1] * (1.0 + texture)
        + wm * site.flair[2] * (1.0 + texture + excess)
    )
    t1 = (
        csf * site.t1[0] * (1.0 - subject.choroid)
        + subject.choroid * subject.csf * site.t1[1]
        + gm * site.t1[1] * (1.0 + 0.5 * texture)
        + wm * site.t1[2] * (1.0 + 0.5 * texture - t1_drop * subject.profile - 0.3 * subject.gliosis)
    )
    brain = np.clip(subject.gm + subject.wm + subject.csf, 0.0, 1.0)
    brain_acq, affine = resample_to(brain, subject.affine, spacing, fwhm_mm=fwhm)
    other = resample_to(core + (subject.gliosis > 0.05), subject.affine, spacing, fwhm_mm=fwhm)[0] >= 0.5
    labels = {}
    for rater, mask in zip(RATERS, subject.raters, strict=True):
        # the labelled fraction of a voxel is its lesioned white matter (a rater does not label the CSF or
        # cortex sharing a voxel with a lesion)
        frac = resample_to(mask * subject.wm, subject.affine, spacing, fwhm_mm=fwhm)[0]
        lab = (frac >= 0.5).astype(np.uint8)
        lab[other] = IGNORE_VALUE
        labels[rater.name] = lab
    bias = bias_field(rng, brain_acq.shape, prof.bias_strength)
    images: dict[str, FloatArray] = {}
    for name, signal, wm_rel in (("flair", flair, site.flair[2]), ("t1", t1, site.t1[2])):
        img = resample_to(signal.astype(np.float32), subject.affine, spacing, fwhm_mm=fwhm)[0]
        img = np.clip(img, 0.0, None) ** prof.gamma * bias * prof.scale
        sigma = (wm_rel**prof.gamma) * prof.scale / prof.snr
        n1 = rng.normal(0.0, sigma, img.shape).astype(np.float32)
        n2 = rng.normal(0.0, sigma, img.shape).astype(np.float32)
        img = np.sqrt((img + n1) ** 2 + n2**2)
        images[name] = (img * (brain_acq > 0.05)).astype(np.float32)  # skull-stripped, as released WMH data
    return Scan(images=images, labels=labels, affine=affine)
