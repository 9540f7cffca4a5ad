"""``lesion_growing`` adapter: an LST-LGA-style FLAIR-hyperintensity detector (Schmidt et al. 2012).

1. Tissue classes from T1: a 3-class Gaussian mixture on the brain's T1 intensities (scikit-learn, seeded);
   white matter is the brightest class, CSF the darkest.
2. FLAIR hyperintensity as a robust z-score against normal-appearing white matter:
   ``z = (FLAIR - median_WM) / (1.4826 MAD_WM)``.
3. Candidates: non-CSF brain voxels within ``wm_margin_mm`` of white matter (lesions darken T1, so they
   leave the WM class; the margin keeps them, as LST grows lesions into GM). Seeds: candidates with
   ``z > seed_z``; they grow (26-connected) through candidates with ``z > grow_z`` (hysteresis thresholding).
4. Probability ``sigmoid((z - grow_z) / scale)``, kept at >= 0.5 inside grown lesions and < 0.5 outside, so
   ``prob >= 0.5`` is exactly the grown mask and the z-ordering is kept for ``auc_pr``.
"""

from __future__ import annotations

__all__ = ["LesionGrowing", "lesion_z"]

from pathlib import Path
from typing import Any, ClassVar

import cc3d
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, special

from robusteval.models.base import ADAPTERS
from robusteval.models.classical import VoxelSegmenter, brain_mask

DEFAULTS: dict[str, Any] = {"seed_z": 4.0, "grow_z": 2.0, "wm_margin_mm": 4.0, "scale": 0.5, "min_lesion_voxels": 1}


def _tissues(t1: NDArray[np.float32], brain: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(white matter, CSF) masks from a seeded 3-class Gaussian mixture on the brain's T1 intensities."""
    from sklearn.mixture import GaussianMixture

    vals = t1[brain]
    rng = np.random.default_rng(0)
    fit_on = vals[rng.choice(len(vals), min(len(vals), 50_000), replace=False)][:, None]
    gmm = GaussianMixture(3, random_state=0).fit(fit_on)
    order = np.argsort(gmm.means_[:, 0])
    cls = np.full(t1.shape, -1, dtype=np.int8)
    cls[brain] = np.argsort(order)[gmm.predict(vals[:, None])]  # 0 darkest (CSF) .. 2 brightest (WM)
    return cls == 2, cls == 0


def lesion_z(flair: NDArray[np.float32], wm: NDArray[np.bool_]) -> NDArray[np.float32]:
    """FLAIR robust z-score against white matter (median and 1.4826 x MAD of the WM voxels)."""
    ref = flair[wm]
    med = float(np.median(ref))
    mad = 1.4826 * float(np.median(np.abs(ref - med)))
    return ((flair - med) / max(mad, 1e-6)).astype(np.float32)


class LesionGrowing(VoxelSegmenter):
    doc = "LST-LGA-style lesion growing: FLAIR z-score against T1-derived white matter, seeds grown in the brain."
    own_keys: ClassVar[set[str]] = set(DEFAULTS)

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        super().__init__(name, params, base_dir, device)
        self.options = {key: float(params.get(key, default)) for key, default in DEFAULTS.items()}

    def probability(self, x: NDArray[np.float32], spacing_mm: tuple[float, float, float]) -> NDArray[np.float32]:
        o = self.options
        flair, t1 = x[self.channel("flair")], x[self.channel("t1")]
        brain = brain_mask(x)
        prob = np.zeros(flair.shape, dtype=np.float32)
        if brain.sum() < 100:
            return prob
        wm, csf = _tissues(t1, brain)
        if not wm.any():
            return prob
        z = lesion_z(flair, wm)
        margin = ndimage.distance_transform_edt(~wm, sampling=spacing_mm) <= o["wm_margin_mm"]
        allowed = brain & ~csf & margin & (z > o["grow_z"])
        seeds = allowed & (z > o["seed_z"])
        grown = ndimage.binary_propagation(seeds, structure=np.ones((3, 3, 3), bool), mask=allowed)
        if o["min_lesion_voxels"] > 1:
            grown = cc3d.dust(grown, threshold=int(o["min_lesion_voxels"]), connectivity=26)
        p = special.expit((z - o["grow_z"]) / o["scale"])
        prob[brain] = np.where(grown, np.maximum(p, 0.5), np.minimum(p, 0.499))[brain]
        return prob

    def describe(self) -> dict[str, Any]:
        return {**self.options, "settings": self.settings.model_dump(mode="json")}


ADAPTERS.add("lesion_growing", LesionGrowing)
