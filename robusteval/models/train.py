"""Train a zoo entry on the synthetic site-A train partition and write its weights and model card.

``python -m robusteval.models.train --entry unet [--iterations N]`` (seeded; CPU or GPU). Sparse lesions:
lesion-centred patch sampling (probability ``lesion_patch_p``) and a Dice + cross-entropy loss with batch Dice.
The card's in-distribution DSC is measured on the site-A test partition of the default protocol's data.
"""

from __future__ import annotations

__all__ = ["RECIPES", "Recipe", "main", "train"]

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robusteval.data.case import Case
from robusteval.data.sources import read_manifest
from robusteval.data.synthetic import SynthSpec, generate
from robusteval.metrics import compute_metrics
from robusteval.models.base import InferenceSettings, normalize
from robusteval.models.monai_net import monai_class
from robusteval.models.zoo_entry import ZOO_DIR, ZooModel


@dataclass(frozen=True)
class Recipe:
    """How one zoo entry is built and trained."""

    architecture: str
    kwargs: dict[str, Any]
    family: str
    inference: dict[str, Any]
    iterations: int = 1500
    batch_size: int = 4
    patch: tuple[int, int, int] = (48, 48, 48)
    lr: float = 2e-3
    lesion_patch_p: float = 0.7
    note: str = ""
    train_subjects: int = 16
    resolution_mm: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)


_INFERENCE = {
    "modalities": ["flair", "t1"],
    "normalization": "zscore_brain",
    "spacing_mm": [2.0, 2.0, 2.0],
    "roi_size": [64, 64, 64],
    "overlap": 0.25,
    "sw_batch_size": 2,
    "threshold": 0.5,
    "output": "sigmoid",
}

RECIPES: dict[str, Recipe] = {
    "unet": Recipe(
        architecture="UNet",
        kwargs={
            "spatial_dims": 3,
            "in_channels": 2,
            "out_channels": 1,
            "channels": [16, 32, 64, 128],
            "strides": [2, 2, 2],
            "num_res_units": 1,
        },
        family="cnn",
        inference=_INFERENCE,
    ),
    "unetr": Recipe(
        architecture="UNETR",
        kwargs={
            "in_channels": 2,
            "out_channels": 1,
            "img_size": [48, 48, 48],
            "feature_size": 8,
            "hidden_size": 144,
            "mlp_dim": 576,
            "num_heads": 4,
            "proj_type": "conv",
            "norm_name": "instance",
        },
        family="vit",
        inference={**_INFERENCE, "roi_size": [48, 48, 48], "overlap": 0.5},
        iterations=1200,
        lr=1e-3,
        note="ViT encoder (12 layers, 16^3-voxel patches, 144-d tokens) with UNETR's convolutional decoder.",
    ),
}

DEFAULT_TEST = SynthSpec(sites=("A",), test_subjects=6, train_subjects=0, resolution_mm=2.0, seed=0)


def _patches(
    cases: list[tuple[np.ndarray, np.ndarray]], recipe: Recipe, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    half = np.asarray(recipe.patch) // 2
    for _ in range(recipe.batch_size):
        x, y = cases[int(rng.integers(len(cases)))]
        pool = np.argwhere(y[0] > 0) if rng.random() < recipe.lesion_patch_p and y.any() else np.argwhere(x[0] != 0)
        c = pool[int(rng.integers(len(pool)))]
        lo = np.clip(c - half, 0, np.maximum(np.asarray(x.shape[1:]) - recipe.patch, 0))
        sl = tuple(slice(int(a), int(a) + p) for a, p in zip(lo, recipe.patch, strict=True))
        px, py = x[(slice(None), *sl)], y[(slice(None), *sl)]
        pad = [(0, 0)] + [(0, p - s) for p, s in zip(recipe.patch, px.shape[1:], strict=True)]
        px, py = np.pad(px, pad), np.pad(py, pad)
        if rng.random() < 0.5:  # left-right flip
            px, py = px[:, ::-1], py[:, ::-1]
        px = px * rng.uniform(0.9, 1.1) + rng.uniform(-0.1, 0.1)
        xs.append(np.ascontiguousarray(px))
        ys.append(np.ascontiguousarray(py))
    return torch.from_numpy(np.stack(xs)).float(), torch.from_numpy(np.stack(ys)).float()


def _load(manifest: Path, partition: str) -> list[Case]:
    return [r.load() for r in read_manifest(manifest, ["flair", "t1"], partition)]


def train(entry: str, cache_dir: Path, *, iterations: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Train ``entry``, write ``zoo/<entry>.pt`` (fp16 state dict) and ``zoo/<entry>.json``; return the card."""
    from monai.losses.dice import DiceCELoss

    recipe = RECIPES[entry]
    n_iter = iterations or recipe.iterations
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_spec = SynthSpec(
        sites=("A",), test_subjects=0, train_subjects=recipe.train_subjects, resolution_mm=recipe.resolution_mm, seed=0
    )
    train_cases = _load(generate(train_spec, cache_dir / "synthetic" / train_spec.key()), "train")
    settings = InferenceSettings(**recipe.inference)
    data = [
        (normalize(c.stacked(settings.modalities), settings.normalization), c.label[None].astype(np.float32))
        for c in train_cases
    ]
    net = monai_class(recipe.architecture)(**recipe.kwargs)
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=n_iter, pct_start=0.1)
    loss_fn = DiceCELoss(sigmoid=True, batch=True)
    t0 = time.perf_counter()
    net.train()
    for it in range(n_iter):
        x, y = _patches(data, recipe, rng)
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        sched.step()
        if it % 50 == 0 or it == n_iter - 1:
            print(
                f"[{entry}] iter {it:5d}/{n_iter} loss {loss.item():.4f} {time.perf_counter() - t0:7.1f}s", flush=True
            )
    train_s = time.perf_counter() - t0
    weights = f"{entry}.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}, ZOO_DIR / weights)
    card: dict[str, Any] = {
        "entry": entry,
        "architecture": recipe.architecture,
        "kwargs": recipe.kwargs,
        "family": recipe.family,
        "weights": weights,
        "inference": recipe.inference,
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "training": {
            "data": f"synthetic site A, train partition, {recipe.train_subjects} subjects at {recipe.resolution_mm} mm "
            f"(SynthSpec seed 0, generator version {train_spec.version})",
            "seed": seed,
            "iterations": n_iter,
            "batch_size": recipe.batch_size,
            "patch": list(recipe.patch),
            "loss": "DiceCE (sigmoid, batch Dice)",
            "optimizer": f"AdamW one-cycle lr {recipe.lr}",
            "lesion_patch_p": recipe.lesion_patch_p,
            "train_time_s": round(train_s, 1),
            "device": str(torch.device("cpu")),
            "torch": torch.__version__,
        },
        "note": recipe.note,
        "recipe": asdict(recipe),
    }
    (ZOO_DIR / f"{entry}.json").write_text(json.dumps(card, indent=2) + "\n")
    card["metrics"] = {"id_test_dsc": evaluate_entry(entry, cache_dir), "id_test_set": asdict(DEFAULT_TEST)}
    (ZOO_DIR / f"{entry}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def evaluate_entry(entry: str, cache_dir: Path) -> float:
    """Mean DSC of a zoo entry on the site-A test partition of the default data (the card's number)."""
    cases = _load(generate(DEFAULT_TEST, cache_dir / "synthetic" / DEFAULT_TEST.key()), "test")
    model = ZooModel(entry, {"entry": entry}, None, "cpu")
    dscs = [compute_metrics(["dsc"], model.predict(c).mask, c.label, c.spacing_mm)[0]["dsc"] for c in cases]
    return round(float(np.mean(dscs)), 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", choices=sorted(RECIPES), action="append", help="default: every entry")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=Path("reports/.cache"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for entry in args.entry or sorted(RECIPES):
        card = train(entry, args.cache, iterations=args.iterations, seed=args.seed)
        print(json.dumps({"entry": entry, **card["metrics"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
