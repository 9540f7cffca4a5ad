"""What every version of the synthetic WMH generator shares: scanner profiles, resampling, smooth random
fields, the per-subject random stream and the MNI152 tissue maps (shipped inside nilearn's wheel)."""

from __future__ import annotations

__all__ = [
    "DEFORM_MM",
    "FloatArray",
    "ScannerProfile",
    "bias_field",
    "deformation",
    "mni152_maps",
    "resample_to",
    "smooth_noise",
    "subject_rng",
]

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

FloatArray = NDArray[np.float32]
DEFORM_MM = 3.0  # peak amplitude of a subject's smooth random displacement field


@dataclass(frozen=True)
class ScannerProfile:
    """How a site's scanner images the anatomy. ``spacing_mm`` is (x, y, z); z is the slice direction."""

    name: str
    description: str
    field_strength_t: float
    spacing_mm: tuple[float, float, float]
    snr: float  # mean white-matter signal / noise std (Rician)
    bias_strength: float  # peak log-amplitude of the smooth multiplicative bias field
    gamma: float  # contrast mapping: intensity ** gamma on the [0, 1]-normalised image
    scale: float  # scanner intensity units


def resample_to(
    volume: NDArray[np.floating],
    affine: NDArray[np.float64],
    spacing_mm: tuple[float, float, float],
    order: int = 1,
    fwhm_mm: tuple[float, float, float] | None = None,
) -> tuple[FloatArray, NDArray[np.float64]]:
    """Resample a volume to a new voxel size on the same field of view (area-preserving when downsampling).

    The anti-aliasing blur (the slice profile) matches the new voxel, or ``fwhm_mm`` where given: a 2D
    acquisition with a slice gap has a profile thinner than its slice spacing."""
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    factors = np.asarray(spacing_mm, dtype=np.float64) / zooms
    shape = np.maximum(np.round(np.asarray(volume.shape) / factors).astype(int), 1)
    # anti-aliasing / slice profile: Gaussian whose width matches the new voxel (only where coarser)
    widths = factors if fwhm_mm is None else np.asarray(fwhm_mm, dtype=np.float64) / zooms
    sigma = np.sqrt(np.maximum(widths**2 - 1.0, 0.0)) * 0.5
    src = ndimage.gaussian_filter(volume.astype(np.float32), sigma) if np.any(sigma > 0) else volume
    # voxel centres of the new grid expressed in the old grid's index space
    coords = [(np.arange(n) + 0.5) * f - 0.5 for n, f in zip(shape, factors, strict=True)]
    grid = np.meshgrid(*coords, indexing="ij")
    out = ndimage.map_coordinates(src, grid, order=order, mode="nearest").astype(np.float32)
    new_affine = affine.copy()
    new_affine[:3, :3] = affine[:3, :3] @ np.diag(factors)
    new_affine[:3, 3] = affine[:3, :3] @ (0.5 * factors - 0.5) + affine[:3, 3]
    return out, new_affine


@functools.lru_cache(maxsize=1)
def mni152_maps() -> tuple[NDArray[np.bool_], FloatArray, FloatArray, FloatArray, NDArray[np.float64]]:
    """The MNI152 2009 brain mask and GM, WM, CSF fractions at 1 mm (CSF = mask - GM - WM), and the affine."""
    from nilearn import datasets

    mask_img = datasets.load_mni152_brain_mask(resolution=1)
    mask = np.asarray(mask_img.get_fdata(), dtype=np.float32) > 0.5
    gm = np.asarray(datasets.load_mni152_gm_template(resolution=1).get_fdata(), dtype=np.float32)
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=1).get_fdata(), dtype=np.float32)
    gm, wm = gm * mask, wm * mask
    csf = np.clip(mask.astype(np.float32) - gm - wm, 0.0, 1.0)
    return mask, gm, wm, csf, np.asarray(mask_img.affine, dtype=np.float64).copy()


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: float) -> FloatArray:
    """Gaussian-smoothed white noise rescaled to peak absolute value 1."""
    n: FloatArray = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_vox)
    return (n / max(float(np.abs(n).max()), 1e-6)).astype(np.float32)


def bias_field(rng: np.random.Generator, shape: tuple[int, ...], strength: float) -> FloatArray:
    """exp of a random 2nd-order polynomial over [-1, 1]^3 with peak |log| equal to ``strength``."""
    axes = np.meshgrid(*[np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape], indexing="ij")
    x, y, z = axes
    terms = [x, y, z, x * y, x * z, y * z, x * x, y * y, z * z]
    coeffs = rng.uniform(-1.0, 1.0, size=len(terms))
    log_field = sum((c * t for c, t in zip(coeffs, terms, strict=True)), np.zeros(shape, dtype=np.float32))
    log_field *= strength / max(float(np.abs(log_field).max()), 1e-6)
    return np.exp(log_field).astype(np.float32)


def subject_rng(seed: int, *parts: str) -> np.random.Generator:
    """The random stream of one subject (or one of its steps): a pure function of the seed and the names."""
    digest = hashlib.sha256(json.dumps([seed, *parts]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def deformation(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    ventricles: NDArray[np.floating],
    resolution_mm: float,
    enlarge_mm: Callable[[np.random.Generator], float],
) -> NDArray[np.float64]:
    """Sampling coordinates (3, X, Y, Z) of a subject's warp of the template grid: a global anisotropic scaling
    (0.93-1.07 per axis), a smooth random displacement field (peak ``DEFORM_MM``, correlation 12 mm) and a
    radial enlargement of the ventricles by ``enlarge_mm(rng)`` mm (drawn after the field), fading over 30 mm,
    centred on the ``ventricles`` mask's centroid (voxel indices)."""
    centre = (np.asarray(shape, dtype=np.float64) - 1) / 2
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij"))
    scale = rng.uniform(0.93, 1.07, size=3)
    coords = centre[:, None, None, None] + (grid - centre[:, None, None, None]) / scale[:, None, None, None]
    sigma = 12.0 / resolution_mm
    for axis in range(3):
        coords[axis] += DEFORM_MM / resolution_mm * smooth_noise(rng, shape, sigma)
    enlarge = enlarge_mm(rng)
    vent_centre = np.argwhere(ventricles > 0.5).mean(axis=0)
    rel = grid - vent_centre[:, None, None, None]
    dist = np.sqrt((rel**2).sum(axis=0)) + 1e-3
    falloff = np.exp(-(((dist * resolution_mm) / 30.0) ** 2))
    coords -= (enlarge / resolution_mm) * falloff * rel / dist  # sample inward = ventricles grow outward
    return coords
