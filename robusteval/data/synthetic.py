"""Synthetic multi-site white-matter-hyperintensity (WMH) data on real anatomy.

Built on the MNI152 2009 template tissue maps that nilearn ships inside its wheel (no download):

1. **Anatomy** (per subject, deterministic from ``(seed, site, partition, index)``): the template's
   grey-matter, white-matter and CSF probability maps, warped by a smooth random non-linear displacement field
   (Gaussian-smoothed noise, ``DEFORM_MM`` peak amplitude), a global anisotropic scaling (0.93-1.07 per axis)
   and a radial ventricle enlargement (0-4 mm, the atrophy proxy), on an isotropic grid of ``resolution_mm``.
2. **Lesions** (WMH), only inside white matter (WM probability > 0.5):

   - a Fazekas-like load grade per subject: low (p=0.4), medium (p=0.4), high (p=0.2);
   - *periventricular* caps and bands: white matter within a smoothly varying distance of the ventricles,
     thicker at the frontal and occipital horns (caps); band width none / 2-4 / 4-8 mm at the horns by grade
     (caps only for medium; for high also bands along the ventricle bodies at 35% of that width);
   - *deep punctate* lesions: Poisson count (mean 6 / 12 / 22 by grade) at random deep-WM voxels, each an
     ellipsoid whose radius is log-normal (median 2 mm, sigma 0.6, clipped to 1-12 mm: many lesions of a few
     voxels, a few large confluent ones), roughened by smooth noise.

   The lesion map is blurred slightly to a partial-volume fraction; the reference label is fraction >= 0.5.

   Resulting lesion load on the working grid (= site A's grid at 2 mm), measured on the test subjects of
   sites A, B, C with seed 0 (102 subjects at 2 mm, 300 at 4 mm), as
   min / 5th percentile / median / 95th percentile / max; volume in mL, count = 26-connected components:

   ========  =====  ===================================  =====================
   grade     res    volume (mL)                          count
   ========  =====  ===================================  =====================
   low       2 mm   0.016 / 0.06 / 0.48 / 2.1 / 3.3      2 / 3 / 6 / 9 / 12
   medium    2 mm   4.1 / 4.7 / 6.6 / 10.6 / 11.6        16 / 16 / 20 / 27 / 32
   high      2 mm   17.8 / 18.6 / 32.2 / 40.5 / 41.8     20 / 22 / 30 / 41 / 42
   low       4 mm   0 / 0.13 / 0.64 / 2.5 / 7.7          0 / 2 / 5 / 10 / 13
   medium    4 mm   1.9 / 2.5 / 3.5 / 6.7 / 11.8         6 / 9 / 15 / 21 / 23
   high      4 mm   7.2 / 8.1 / 12.0 / 16.8 / 23.0       14 / 19 / 24 / 30 / 31
   ========  =====  ===================================  =====================

   The load depends on the working resolution (thin periventricular bands are lost on a 4 mm grid) and on the
   site: on 3 mm slices (sites B, C) the partial-volume threshold removes thin lesions, so volumes there are
   0.5-0.75x site A's at 2 mm (medians by grade) and some low-grade subjects have an empty reference label.

3. **Acquisition** at a site (:class:`ScannerProfile`): the anatomy is imaged as FLAIR (CSF dark, GM > WM,
   lesions bright) and T1 (CSF dark, WM > GM, lesions dark) by partial-volume mixing of tissue intensities,
   resampled to the site's voxel grid (slice profile: Gaussian blur across thick slices; the label resampled
   with a partial-volume threshold of 0.5), multiplied by a smooth bias field, given a contrast mapping
   (power law) and scanner intensity scale, and Rician noise at the site's SNR (noise std = mean WM signal /
   SNR). Voxel sizes are the profile's, but never finer than the working resolution.

Everything is a pure function of its arguments: same arguments, byte-identical NIfTI files.
"""

from __future__ import annotations

__all__ = [
    "GENERATOR_REVISIONS",
    "GENERATOR_VERSION",
    "SITES",
    "Anatomy",
    "ScannerProfile",
    "SynthSpec",
    "acquire",
    "generate",
    "make_anatomy",
    "resample_to",
    "template_maps",
]

import csv
import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import edt
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from robusteval.data import synthetic_v2
from robusteval.data.loading import save_nifti
from robusteval.data.synth_common import (
    FloatArray,
    ScannerProfile,
    deformation,
    mni152_maps,
    resample_to,
)
from robusteval.data.synth_common import bias_field as _bias_field
from robusteval.data.synth_common import smooth_noise as _smooth_noise
from robusteval.data.synth_common import subject_rng as _subject_rng
from robusteval.errors import RobustEvalError

GENERATOR_VERSION = "2"  # the default data: the realistic generator (synthetic_v2); "1" = the easy one
# Revision of each generator's output, part of the cache key: bump it with any change to what a generator
# writes for the same parameters (a site's knobs, a rater), so caches made before are not reused.
# Generator 2, revision 2: sites B and C eased (issue 16; docs/data.md).
GENERATOR_REVISIONS = {"1": 1, "2": 2}


# Modelled on the MICCAI-2017 WMH challenge scanners (Kuijf et al. 2019).
SITES: dict[str, ScannerProfile] = {
    "A": ScannerProfile(
        "A",
        "3T 3D FLAIR, near-isotropic (GE Discovery MR750-like)",
        3.0,
        (1.0, 1.0, 1.2),
        snr=40.0,
        bias_strength=0.15,
        gamma=1.0,
        scale=1000.0,
    ),
    "B": ScannerProfile(
        "B",
        "3T 2D FLAIR, 3 mm slices (Philips Achieva-like)",
        3.0,
        (1.0, 1.0, 3.0),
        snr=28.0,
        bias_strength=0.30,
        gamma=0.8,
        scale=600.0,
    ),
    "C": ScannerProfile(
        "C",
        "1.5T 2D FLAIR, 3 mm slices, low SNR (GE Signa HDxt-like)",
        1.5,
        (1.2, 1.2, 3.0),
        snr=14.0,
        bias_strength=0.45,
        gamma=1.25,
        scale=250.0,
    ),
}

# Relative tissue intensities before the scanner mapping: (csf, gm, wm, lesion).
FLAIR_CONTRAST = (0.12, 0.72, 0.52, 1.25)
T1_CONTRAST = (0.22, 0.55, 0.85, 0.45)
# (grade, probability, band width at the horns min/max mm, band fraction along the bodies, mean deep count)
LESION_GRADES = (
    ("low", 0.4, 0.0, 0.0, 0.0, 6.0),
    ("medium", 0.4, 2.0, 4.0, 0.0, 12.0),
    ("high", 0.2, 4.0, 8.0, 0.35, 22.0),
)


@dataclass(frozen=True)
class Anatomy:
    """One subject on the isotropic working grid: tissue fractions (sum <= 1) and the lesion fraction."""

    gm: FloatArray
    wm: FloatArray
    csf: FloatArray
    lesion: FloatArray  # partial-volume lesion fraction in [0, 1] (a part of the white matter)
    affine: NDArray[np.float64]
    grade: str


@functools.lru_cache(maxsize=4)
def template_maps(
    resolution_mm: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.float64]]:
    """MNI152 2009 GM, WM, CSF fractions and a ventricle mask, cropped to the brain, at ``resolution_mm``."""
    mask, gm, wm, csf, mni_affine = mni152_maps()
    idx = np.argwhere(mask)
    lo, hi = np.maximum(idx.min(axis=0) - 4, 0), np.minimum(idx.max(axis=0) + 5, mask.shape)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    affine = mni_affine.copy()
    affine[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
    # ventricles: the large CSF component deep inside the brain (far from the brain surface)
    depth = edt.edt(mask[sl], black_border=True)
    deep_csf = (csf[sl] > 0.5) & (depth > 18.0)
    labels, n = ndimage.label(deep_csf)
    sizes = ndimage.sum(deep_csf, labels, range(1, n + 1))
    vent = np.isin(labels, 1 + np.flatnonzero(sizes >= 0.05 * sizes.max())).astype(np.float32)
    spacing = (resolution_mm,) * 3
    out = [resample_to(v[sl], affine, spacing)[0] for v in (gm, wm, csf, vent)]
    new_affine = resample_to(gm[sl], affine, spacing)[1]
    return out[0], out[1], out[2], out[3], new_affine


def make_anatomy(rng: np.random.Generator, resolution_mm: float) -> Anatomy:
    """A random subject: deformed template tissue maps plus WMH lesions (see the module doc)."""
    gm0, wm0, csf0, vent0, affine = template_maps(resolution_mm)
    shape = gm0.shape
    coords = deformation(rng, shape, vent0, resolution_mm, lambda r: float(r.uniform(0.0, 4.0)))
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij"))
    sigma = 12.0 / resolution_mm
    warp = functools.partial(ndimage.map_coordinates, coordinates=coords, order=1, mode="constant", cval=0.0)
    gm, wm, csf, vent_frac = (np.asarray(warp(v), dtype=np.float32) for v in (gm0, wm0, csf0, vent0))
    vent = vent_frac > 0.5
    # --- lesions
    names, probs = [g[0] for g in LESION_GRADES], [g[1] for g in LESION_GRADES]
    k = int(rng.choice(len(names), p=probs))
    grade, _, band_lo, band_hi, body, deep_mean = LESION_GRADES[k]
    wm_mask = wm > 0.5
    lesion = np.zeros(shape, dtype=bool)
    spacing = (resolution_mm,) * 3
    if band_hi > 0:
        d_vent = edt.edt(~vent, anisotropy=spacing, black_border=False)
        # caps: thicker at the anterior and posterior ends of the ventricles (y axis is anterior-posterior)
        vy = np.argwhere(vent)[:, 1]
        y = grid[1]
        span = max(float(vy.max() - vy.min()), 1.0)
        # 0 along the central 60% of the ventricles' extent, rising to 1 at (and beyond) the horns
        cap = np.clip((np.abs(y - (vy.max() + vy.min()) / 2) / (span / 2) - 0.6) / 0.4, 0.0, 1.0)
        horn_mm = rng.uniform(band_lo, band_hi)
        width = horn_mm * (body + (1 - body) * cap) * (1 + 0.35 * _smooth_noise(rng, shape, sigma))
        lesion |= wm_mask & (d_vent < width)
    n_deep = int(rng.poisson(deep_mean))
    depth = edt.edt(wm_mask, anisotropy=spacing, black_border=True)
    candidates = np.argwhere(depth > 2.0)
    if n_deep and len(candidates):
        rough = _smooth_noise(rng, shape, 2.0 / resolution_mm)
        for _ in range(n_deep):
            c = candidates[int(rng.integers(len(candidates)))]
            radius_mm = float(np.clip(rng.lognormal(np.log(2.0), 0.6), 1.0, 12.0))
            axes_mm = radius_mm * rng.uniform(0.7, 1.3, size=3)
            r_vox = np.ceil(axes_mm.max() / resolution_mm).astype(int) + 1
            lo = np.maximum(c - r_vox, 0)
            hi = np.minimum(c + r_vox + 1, shape)
            sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
            local = grid[(slice(None), *sl)] - c[:, None, None, None]
            q = (((local * resolution_mm) / axes_mm[:, None, None, None]) ** 2).sum(axis=0)
            lesion[sl] |= (q + 0.4 * rough[sl]) <= 1.0
    lesion &= wm_mask
    frac = np.clip(ndimage.gaussian_filter(lesion.astype(np.float32), 0.6), 0.0, 1.0) * np.clip(wm, 0, 1)
    frac = np.where(lesion, np.maximum(frac, 0.5), np.minimum(frac, 0.49)).astype(np.float32)
    return Anatomy(gm=gm, wm=wm, csf=csf, lesion=frac, affine=affine, grade=grade)


def acquire(
    anatomy: Anatomy, profile: ScannerProfile, rng: np.random.Generator, resolution_mm: float
) -> tuple[dict[str, FloatArray], NDArray[np.uint8], NDArray[np.float64]]:
    """Image ``anatomy`` with ``profile``: ({"flair", "t1"} images, binary label, affine) on the site grid."""
    spacing = tuple(max(s, resolution_mm) for s in profile.spacing_mm)
    les = anatomy.lesion
    wm_clean = np.clip(anatomy.wm - les, 0.0, 1.0)
    tissues = (anatomy.csf, anatomy.gm, wm_clean, les)
    brain = np.clip(anatomy.csf + anatomy.gm + anatomy.wm, 0.0, 1.0)
    label_frac, affine = resample_to(les, anatomy.affine, spacing)  # type: ignore[arg-type]
    label = (label_frac >= 0.5).astype(np.uint8)
    brain_acq = resample_to(brain, anatomy.affine, spacing)[0]  # type: ignore[arg-type]
    images: dict[str, FloatArray] = {}
    bias = _bias_field(rng, label.shape, profile.bias_strength)
    texture = 1.0 + 0.04 * _smooth_noise(rng, anatomy.gm.shape, 1.5)
    for name, contrast in (("flair", FLAIR_CONTRAST), ("t1", T1_CONTRAST)):
        signal = sum((c * t for c, t in zip(contrast, tissues, strict=True)), np.zeros_like(les)) * texture
        img = resample_to(signal, anatomy.affine, spacing)[0]  # type: ignore[arg-type]
        img = np.clip(img, 0.0, None) ** profile.gamma * bias
        wm_level = (contrast[2] ** profile.gamma) * profile.scale
        img = img * profile.scale
        sigma = wm_level / profile.snr
        n1 = rng.normal(0.0, sigma, img.shape).astype(np.float32)
        n2 = rng.normal(0.0, sigma, img.shape).astype(np.float32)
        img = np.sqrt((img + n1) ** 2 + n2**2)
        images[name] = (img * (brain_acq > 0.05)).astype(np.float32)  # skull-stripped, as released WMH data
    return images, label, affine


@dataclass(frozen=True)
class SynthSpec:
    """Parameters of one generated dataset (the cache key)."""

    sites: tuple[str, ...] = ("A", "B", "C")
    test_subjects: int = 4  # per site
    train_subjects: int = 0  # per site
    resolution_mm: float = 2.0
    seed: int = 0
    version: str = field(default=GENERATOR_VERSION)  # the generator: "1" or "2" (synthetic_v2)

    def key(self) -> str:
        """The cache folder name: a hash of the parameters and of the generator's revision."""
        fields = {**asdict(self), "revision": GENERATOR_REVISIONS.get(self.version)}
        blob = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


MANIFEST_COLUMNS = (
    "case_id", "subject_id", "site", "scanner", "field_strength_t", "spacing_mm", "partition",
    "flair", "t1", "label", "lesion_volume_ml", "lesion_count", "lesion_grade",
)  # fmt: skip


def _spec_json(spec: SynthSpec) -> str:
    return json.dumps(asdict(spec), indent=2, sort_keys=True) + "\n"


def _check_spec(spec: SynthSpec) -> None:
    if spec.version not in _SCANNERS:
        raise RobustEvalError(f"generator {spec.version!r}: use one of {sorted(_SCANNERS)}")
    unknown = [s for s in spec.sites if s not in SITES]
    if unknown:
        raise RobustEvalError(f"unknown site(s) {unknown}; known: {sorted(SITES)}")
    if not spec.sites or len(set(spec.sites)) != len(spec.sites):
        raise RobustEvalError(f"sites {list(spec.sites)}: give at least one site, each once")
    if spec.test_subjects < 0 or spec.train_subjects < 0 or spec.test_subjects + spec.train_subjects == 0:
        raise RobustEvalError("subjects per site: give non-negative test and train numbers, not both 0")
    if not 0.5 <= spec.resolution_mm <= 6.0:
        raise RobustEvalError(f"resolution_mm {spec.resolution_mm}: use 0.5 to 6 mm (1 on a GPU, 2 on CPU)")


def _existing(spec: SynthSpec, out_dir: Path) -> Path:
    """The manifest of a dataset already in ``out_dir``; an error when it was made with other parameters."""
    found = out_dir / "spec.json"
    have = json.loads(found.read_text()) if found.is_file() else None
    if have != json.loads(_spec_json(spec)):
        message = f"{out_dir} holds a dataset made with other parameters ({have}); use another folder"
        raise RobustEvalError(message)
    return out_dir / "manifest.csv"


def generate(spec: SynthSpec, out_dir: Path) -> Path:
    """Write the dataset under ``out_dir`` (NIfTIs, ``manifest.csv``, ``spec.json``); returns the manifest.

    Files are written to a temporary folder and renamed, so an interrupted run leaves no half dataset. An
    existing dataset with the same parameters is reused; one with other parameters, or a non-empty folder
    that is not a dataset, is an error. Concurrent calls for the same folder are safe.
    """
    _check_spec(spec)
    manifest = out_dir / "manifest.csv"
    if manifest.exists():
        return _existing(spec, out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise RobustEvalError(f"{out_dir} exists and is not a dataset (no manifest.csv); use a new folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out_dir.name}.tmp", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp's 0o700 would make a shared cache private
    try:
        _write(spec, tmp)
        try:
            os.replace(tmp, out_dir)
        except OSError:
            if manifest.exists():  # another process finished the same dataset first
                return _existing(spec, out_dir)
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


@dataclass(frozen=True)
class _Scanned:
    """One subject imaged at its site, as the dataset writer needs it."""

    images: dict[str, FloatArray]
    labels: dict[str, NDArray[np.uint8]]  # manifest column -> label (``label`` = the reference)
    affine: NDArray[np.float64]
    profile: ScannerProfile
    grade: str


def _scan_v1(spec: SynthSpec, site: str, subject: str) -> _Scanned:
    anatomy = make_anatomy(_subject_rng(spec.seed, subject), spec.resolution_mm)
    rng = _subject_rng(spec.seed, subject, "scan", site)
    images, label, affine = acquire(anatomy, SITES[site], rng, spec.resolution_mm)
    return _Scanned(images, {"label": label}, affine, SITES[site], anatomy.grade)


def _scan_v2(spec: SynthSpec, site: str, subject: str) -> _Scanned:
    person = synthetic_v2.make_subject(_subject_rng(spec.seed, subject), spec.resolution_mm)
    rng = _subject_rng(spec.seed, subject, "scan", site)
    out = synthetic_v2.scan(person, synthetic_v2.SITES_V2[site], rng, spec.resolution_mm)
    labels = {"label": out.labels["rater1"], "label_rater2": out.labels["rater2"]}
    return _Scanned(out.images, labels, out.affine, synthetic_v2.SITES_V2[site].scanner, person.grade)


_SCANNERS = {"1": _scan_v1, "2": _scan_v2}
MANIFEST_COLUMNS_V2 = (*MANIFEST_COLUMNS[:10], "label_rater2", *MANIFEST_COLUMNS[10:])


def _write(spec: SynthSpec, tmp: Path) -> None:
    """Generate every subject of ``spec`` into the folder ``tmp``."""
    from cc3d import connected_components

    (tmp / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for site in spec.sites:
        for partition, n in (("train", spec.train_subjects), ("test", spec.test_subjects)):
            for i in range(n):
                subject = f"{site}-{partition}-{i:03d}"
                scanned = _SCANNERS[spec.version](spec, site, subject)
                files = {}
                arrays: list[tuple[str, NDArray[np.generic]]] = [*scanned.images.items(), *scanned.labels.items()]
                for name, arr in arrays:
                    rel = f"images/{subject}_{name}.nii.gz"
                    save_nifti(arr, scanned.affine, tmp / rel)
                    files[name] = rel
                zooms = np.sqrt((scanned.affine[:3, :3] ** 2).sum(axis=0))
                lesion = (scanned.labels["label"] == 1).astype(np.uint8)
                count = int(connected_components(lesion, connectivity=26, return_N=True)[1])
                rows.append({
                    "case_id": subject, "subject_id": subject, "site": site, "scanner": scanned.profile.description,
                    "field_strength_t": scanned.profile.field_strength_t,
                    "spacing_mm": "x".join(f"{z:.2f}" for z in zooms), "partition": partition,
                    "flair": files["flair"], "t1": files["t1"],
                    **{column: files[column] for column in scanned.labels},
                    "lesion_volume_ml": round(float(lesion.sum() * np.prod(zooms) / 1000.0), 4),
                    "lesion_count": count, "lesion_grade": scanned.grade,
                })  # fmt: skip
    columns = MANIFEST_COLUMNS if spec.version == "1" else MANIFEST_COLUMNS_V2
    with (tmp / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (tmp / "spec.json").write_text(_spec_json(spec))
