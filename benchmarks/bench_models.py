"""Adapter overhead on a 2 mm brain-sized case (96x112x96, two modalities).

Rows: the shared TorchSegmenter inference (normalization, sliding window, probability, mask on the case grid)
of a small MONAI UNet against bare MONAI ``sliding_window_inference`` of the same network on the same,
already normalized tensor; and the ``predictions`` adapter (read, grid and range checks, threshold) against a
bare nibabel read of the same probability map.
"""

from __future__ import annotations

__all__ = ["run"]

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import BenchRow, best_of

SHAPE = (96, 112, 96)
KWARGS: dict[str, Any] = {
    "spatial_dims": 3,
    "in_channels": 2,
    "out_channels": 1,
    "channels": [8, 16, 32],
    "strides": [2, 2],
}


def run() -> list[BenchRow]:
    import nibabel as nib
    import torch
    from monai.inferers.utils import sliding_window_inference
    from monai.networks.nets.unet import UNet

    from robusteval.data.case import Case
    from robusteval.models import ADAPTERS
    from robusteval.models.base import normalize

    rng = np.random.default_rng(0)
    img = rng.uniform(1.0, 2.0, SHAPE).astype(np.float32)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    case = Case(
        "b",
        "b",
        "A",
        "x",
        {"flair": img, "t1": img * 0.5},
        np.zeros(SHAPE, bool),
        affine,
        metadata={"condition": "clean"},
    )
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch.manual_seed(0)
        net = UNet(**KWARGS).eval()
        torch.save(net.state_dict(), root / "w.pt")
        params = {"architecture": "UNet", "kwargs": KWARGS, "checkpoint": str(root / "w.pt"), "amp": False}
        model = ADAPTERS.get("monai")("bench", params, None, "cpu")
        x = torch.from_numpy(normalize(case.stacked(["flair", "t1"]), "zscore_brain"))[None]

        def bare() -> None:
            with torch.inference_mode():
                out = sliding_window_inference(x, (64, 64, 64), 2, net, overlap=0.25, mode="gaussian")
                assert isinstance(out, torch.Tensor)
                torch.sigmoid(out)

        bare()  # warm-up of both: oneDNN primitives, MONAI's Gaussian map cache
        model.predict(case)
        ours_s = best_of(lambda: model.predict(case))
        peer_s = best_of(bare)
        rows.append(
            BenchRow(
                "TorchSegmenter.predict (UNet, 96x112x96)",
                ours_s,
                "monai sliding_window_inference",
                peer_s,
                "≥ 0.8x (overhead ≤ 25%)",
            )
        )
        prob = rng.uniform(0.0, 1.0, SHAPE).astype(np.float32)
        nib.save(nib.Nifti1Image(prob, affine), str(root / "b_prob.nii.gz"))  # type: ignore[no-untyped-call]
        pred = ADAPTERS.get("predictions")("ext", {"prob": "{case_id}_prob.nii.gz"}, root, "cpu")

        def nib_read() -> None:
            np.asarray(nib.load(str(root / "b_prob.nii.gz")).dataobj, dtype=np.float32)  # type: ignore[attr-defined]

        ours_s, peer_s = best_of(lambda: pred.predict(case)), best_of(nib_read)
        rows.append(BenchRow("predictions adapter (prob map)", ours_s, "nibabel load", peer_s, "≥ 0.5x"))
    return rows
