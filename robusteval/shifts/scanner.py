"""Re-acquisition of any case under another scanner profile of :data:`robusteval.data.synthetic.SITES`."""

from __future__ import annotations

__all__ = ["Scanner", "polynomial_bias"]

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.data.synthetic import SITES, resample_to
from robusteval.shifts._common import (
    FloatArray,
    check_choice,
    foreground,
    modality_rng,
    new_seed,
    reject_unknown,
)
from robusteval.shifts._gamma import min_max_gamma
from robusteval.shifts.base import SHIFTS, Shift, Touches

REFERENCE_SCALE = 1000.0  # intensity units of profile A, the reference of ``intensity_scale``
N_BIAS_TERMS = 9


def polynomial_bias(shape: tuple[int, ...], coefficients: list[float], strength: float) -> FloatArray:
    """exp of a 2nd-order polynomial over [-1, 1]^3 (terms x, y, z, xy, xz, yz, x2, y2, z2) whose peak
    |log| is ``strength`` (the synthetic generator's bias field, with its coefficients given)."""
    x, y, z = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    terms = (x, y, z, x * y, x * z, y * z, x * x, y * y, z * z)
    log_field = sum((c * t for c, t in zip(coefficients, terms, strict=True)), np.zeros(shape))
    peak = float(np.abs(log_field).max())
    if peak > 0:
        log_field *= strength / peak
    return np.exp(log_field).astype(np.float32)


class Scanner(Shift):
    """Move a case a fraction ``weight = severity / 5`` of the way toward scanner ``profile``.

    Applied to images, label, ignore mask and annotations, in the synthetic generator's order:

    1. grid: voxel size ``s + weight x (max(p, s) - s)`` per array axis (``s`` the case's, ``p`` the profile's
       ``spacing_mm``, whose z, the slice direction, goes to array axis 2; never finer than the case's).
       Images: Gaussian slice profile + linear interpolation; label, ignore, annotations: the same on their 0/1 map,
       then a partial-volume threshold of 0.5. Shape and affine change (same field of view);
    2. contrast: power law ``gamma = 1 + weight x (profile.gamma - 1)`` on each image's [min, max] range;
    3. bias: exp of a random 2nd-order polynomial with peak |log| ``weight x profile.bias_strength``;
    4. intensity units: x ``(profile.scale / 1000) ** weight`` (relative to profile A's units);
    5. Rician noise with ``sigma = noise_std_rel x median(foreground)``, ``noise_std_rel = weight /
       profile.snr``, added on top of the case's own noise (so the result is at most as clean as the profile);
       where the input is skull-stripped (zeros outside the brain), the background stays zero.

    Options: ``profile`` (``A``, ``B`` or ``C``; default ``C``).
    """

    name = "scanner"
    doc = "Re-acquire under scanner profile A|B|C (voxel size, contrast, bias, units, SNR), severity/5 of the way."
    family = "scanner"
    touches = Touches.IMAGE_AND_LABEL
    doc_variants: ClassVar[tuple[dict[str, Any], ...]] = tuple({"profile": p} for p in sorted(SITES))

    def __init__(self, *, profile: str = "C", **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["profile"])
        self.profile = check_choice(self.name, "profile", profile, sorted(SITES))

    def _level(self, severity: int) -> dict[str, Any]:
        p = SITES[self.profile]
        w = severity / self.max_severity
        return {
            "profile": self.profile,
            "weight": round(w, 6),
            "profile_spacing_mm": [float(v) for v in p.spacing_mm],
            "gamma": round(1.0 + w * (p.gamma - 1.0), 6),
            "bias_strength": round(w * p.bias_strength, 6),
            "intensity_scale": round((p.scale / REFERENCE_SCALE) ** w, 6),
            "snr": p.snr,
            "noise_std_rel": round(w / p.snr, 6),
        }

    def severity_table(self) -> list[dict[str, Any]]:
        return [{"severity": s, **self._level(s)} for s in range(1, self.max_severity + 1)]

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        self.check_severity(severity)
        coefficients = rng.uniform(-1.0, 1.0, size=N_BIAS_TERMS).round(6)
        return {**self._level(severity), "bias_coefficients": coefficients.tolist(), "seed": new_seed(rng)}

    @staticmethod
    def target_spacing(case: Case, params: dict[str, Any]) -> tuple[float, float, float]:
        """The voxel size (mm) a case is resampled to."""
        w = float(params["weight"])
        s = case.spacing_mm
        out = [a + w * (max(p, a) - a) for a, p in zip(s, params["profile_spacing_mm"], strict=True)]
        return (out[0], out[1], out[2])

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        w = float(params["weight"])
        if w == 0.0:
            return case
        spacing = self.target_spacing(case, params)
        affine = np.asarray(case.affine, dtype=np.float64)

        def regrid(volume: NDArray[Any]) -> FloatArray:
            return resample_to(volume.astype(np.float32), affine, spacing)[0]

        new_affine = resample_to(case.label.astype(np.float32), affine, spacing)[1]
        label = regrid(case.label) >= 0.5
        ignore = None if case.ignore is None else regrid(case.ignore) >= 0.5
        annotations = {rater: regrid(mask) >= 0.5 for rater, mask in case.annotations.items()}
        bias = polynomial_bias(
            label.shape, [float(c) for c in params["bias_coefficients"]], float(params["bias_strength"])
        )
        gamma, scale, noise = float(params["gamma"]), float(params["intensity_scale"]), float(params["noise_std_rel"])
        images: dict[str, FloatArray] = {}
        for m, img in case.images.items():
            out = regrid(img)
            if gamma != 1.0:
                out = min_max_gamma(out, gamma)
            out = out * bias * np.float32(scale)
            sigma = noise * float(np.median(out[foreground(out)]))
            rng = modality_rng(int(params["seed"]), m)
            n1 = rng.normal(0.0, sigma, out.shape)
            n2 = rng.normal(0.0, sigma, out.shape)
            noisy = np.sqrt((out + n1) ** 2 + n2**2).astype(np.float32)
            # a skull-stripped input (zero background) stays skull-stripped, as released data are
            images[m] = np.where(out > 0, noisy, np.float32(0.0)) if bool((img == 0).any()) else noisy
        return case.with_(images=images, label=label, ignore=ignore, annotations=annotations, affine=new_affine)


SHIFTS.add(Scanner.name, Scanner)
