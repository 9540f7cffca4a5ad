"""``knn`` adapter: a BIANCA-style k-nearest-neighbour voxel classifier (Griffanti et al. 2016; scikit-learn).

Features per brain voxel: each modality's normalized intensity, its local mean (Gaussian, ``smoothing_mm``
standard deviation in mm) and the voxel's position relative to the brain's bounding box times
``spatial_weight`` (BIANCA uses MNI coordinates; this needs no registration). The lesion probability is the
fraction of lesion voxels among the ``k`` nearest training samples (Euclidean). With ``flair_floor`` set, voxels
whose normalized FLAIR is below it get probability 0 without a query (a speed-up: WMH are FLAIR-hyperintense).
Training samples live in an ``.npz`` (``features`` float, ``labels`` 0/1) read with ``allow_pickle=False``;
:func:`sample_training_points` draws them as BIANCA does: lesion voxels, and non-lesion voxels away from lesion
borders.
"""

from __future__ import annotations

__all__ = ["KnnClassifier", "knn_features", "sample_training_points"]

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from robusteval.models.base import ADAPTERS, checkpoint_sha256, resolve
from robusteval.models.classical import VoxelSegmenter, brain_mask, relative_coordinates

DEFAULTS: dict[str, Any] = {"k": 40, "smoothing_mm": 2.0, "spatial_weight": 1.0, "flair_floor": None}


def knn_features(
    x: NDArray[np.float32],
    spacing_mm: tuple[float, float, float],
    mask: NDArray[np.bool_],
    *,
    smoothing_mm: float,
    spatial_weight: float,
) -> NDArray[np.float32]:
    """``(N, 2C + 3)`` features of the ``mask`` voxels (C order): intensities, local means, relative position."""
    sigma = [smoothing_mm / s for s in spacing_mm]
    cols = [x[c][mask] for c in range(x.shape[0])]
    cols += [ndimage.gaussian_filter(x[c], sigma)[mask] for c in range(x.shape[0])]
    coords = relative_coordinates(mask) * spatial_weight
    return np.column_stack([*cols, coords]).astype(np.float32)


def sample_training_points(
    x: NDArray[np.float32],
    label: NDArray[np.bool_],
    spacing_mm: tuple[float, float, float],
    rng: np.random.Generator,
    *,
    lesion_points: int,
    nonlesion_points: int,
    exclusion_voxels: int = 2,
    smoothing_mm: float = DEFAULTS["smoothing_mm"],
    spatial_weight: float = DEFAULTS["spatial_weight"],
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """Up to ``lesion_points`` lesion and ``nonlesion_points`` non-lesion brain voxels of one case (features,
    labels); non-lesion voxels within ``exclusion_voxels`` of a lesion are not drawn (BIANCA's rule)."""
    mask = brain_mask(x)
    feats = knn_features(x, spacing_mm, mask, smoothing_mm=smoothing_mm, spatial_weight=spatial_weight)
    lab = label[mask].astype(bool)
    near = ndimage.binary_dilation(label.astype(bool), iterations=exclusion_voxels)[mask]
    lesion = np.flatnonzero(lab)
    background = np.flatnonzero(~near)
    pick = np.concatenate(
        [
            rng.choice(lesion, min(lesion_points, len(lesion)), replace=False),
            rng.choice(background, min(nonlesion_points, len(background)), replace=False),
        ]
    )
    return feats[pick], lab[pick].astype(np.uint8)


class KnnClassifier(VoxelSegmenter):
    doc = "BIANCA-style k-NN voxel classifier (scikit-learn) on intensities, local means and position; .npz samples."
    own_keys: ClassVar[set[str]] = {"samples", *DEFAULTS}

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        from sklearn.neighbors import KNeighborsClassifier

        super().__init__(name, params, base_dir, device)
        self.options = {key: params.get(key, default) for key, default in DEFAULTS.items()}
        with np.load(self.samples_path(), allow_pickle=False) as npz:
            feats, labels = npz["features"].astype(np.float32), npz["labels"].astype(np.uint8)
        self.n_samples = len(labels)
        self.classifier = KNeighborsClassifier(n_neighbors=int(self.options["k"])).fit(feats, labels)

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        super().validate_params(params, base_dir)
        if "samples" not in params:
            raise ValueError("params.samples (an .npz of training features and labels) is required for knn")
        path = resolve(params["samples"], base_dir)
        if not path.is_file():
            raise ValueError(f"params.samples: file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                shapes = npz["features"].shape, npz["labels"].shape
        except Exception as exc:
            raise ValueError(f"params.samples: {path} is not an .npz of features and labels ({exc})") from None
        if len(shapes[0]) != 2 or shapes[0][0] != shapes[1][0]:
            raise ValueError(f"params.samples: features {shapes[0]} and labels {shapes[1]} do not match")

    def samples_path(self) -> Path:
        return resolve(self.params["samples"], self.base_dir)

    def probability(self, x: NDArray[np.float32], spacing_mm: tuple[float, float, float]) -> NDArray[np.float32]:
        brain = brain_mask(x)
        prob = np.zeros(x.shape[1:], dtype=np.float32)
        if brain.any():
            floor = self.options["flair_floor"]
            mask = brain if floor is None else brain & (x[self.channel("flair")] >= float(floor))
            feats = knn_features(
                x,
                spacing_mm,
                brain,
                smoothing_mm=float(self.options["smoothing_mm"]),
                spatial_weight=float(self.options["spatial_weight"]),
            )
            query = mask[brain]
            classes = list(self.classifier.classes_)
            if 1 in classes and query.any():
                prob[mask] = self.classifier.predict_proba(feats[query])[:, classes.index(1)]
        return prob

    def fingerprint(self) -> str:
        return f"{super().fingerprint()[:32]}-{checkpoint_sha256(self.samples_path())[:32]}"

    def describe(self) -> dict[str, Any]:
        return {"training_samples": self.n_samples, **self.options, "settings": self.settings.model_dump(mode="json")}


ADAPTERS.add("knn", KnnClassifier)
