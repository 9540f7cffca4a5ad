"""Train a zoo entry on the synthetic site-A train partition and write its weights and model card.

``python -m robusteval.models.train --entry unet [--iterations N]`` (seeded; CPU or GPU). Sparse lesions:
lesion-centred patch sampling (probability ``lesion_patch_p``) and a Dice + cross-entropy loss with batch Dice.
The card's in-distribution DSC is measured on the site-A test partition of the default protocol's data.
"""

from __future__ import annotations

__all__ = ["RECIPES", "ClassicalRecipe", "Recipe", "main", "train"]

import argparse
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robusteval.data.case import Case
from robusteval.data.sources import synthetic_records
from robusteval.data.synthetic import SynthSpec
from robusteval.metrics import compute_metrics
from robusteval.models.base import ADAPTERS, InferenceSettings, ModelAdapter, normalize
from robusteval.models.knn import sample_training_points
from robusteval.models.monai_net import network_class
from robusteval.models.zoo_entry import ZOO_DIR
from robusteval.paths import default_cache_dir


@dataclass(frozen=True)
class Recipe:
    """How one zoo entry is built and trained."""

    architecture: str
    kwargs: dict[str, Any]
    family: str
    inference: dict[str, Any]
    iterations: int = 3000
    batch_size: int = 4
    patch: tuple[int, int, int] = (48, 48, 48)
    lr: float = 2e-3
    lesion_patch_p: float = 0.7
    note: str = ""
    train_subjects: int = 16
    resolution_mm: float = 2.0
    calibrate_subjects: int = 4  # held-out site-A subjects the probability threshold is chosen on
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassicalRecipe:
    """How a classical (non-network) zoo entry is fitted: optional preparation, then a tuning grid search."""

    adapter: str
    params: dict[str, Any]
    grid: dict[str, list[Any]]
    prepare: Callable[[str, list[Case], np.random.Generator, Path], dict[str, Any]] | None = None
    fit_subjects: int = 0
    family: str = "classical"
    note: str = ""
    train_subjects: int = 16
    resolution_mm: float = 2.0


def _knn_samples(entry: str, cases: list[Case], rng: np.random.Generator, zoo_dir: Path) -> dict[str, Any]:
    """Draw BIANCA-style training points from ``cases``; write ``zoo/<entry>.npz``; return the ``samples`` param."""
    feats, labels = [], []
    for c in cases:
        x = normalize(c.stacked(["flair", "t1"]), "zscore_brain")
        f, y = sample_training_points(x, c.label, c.spacing_mm, rng, lesion_points=400, nonlesion_points=800)
        feats.append(f)
        labels.append(y)
    name = f"{entry}.npz"
    np.savez_compressed(
        zoo_dir / name, features=np.concatenate(feats).astype(np.float16), labels=np.concatenate(labels)
    )
    return {"samples": name}


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

RECIPES: dict[str, Recipe | ClassicalRecipe] = {
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
        iterations=3000,
        lr=1e-3,
        note="ViT encoder (12 layers, 16^3-voxel patches, 144-d tokens) with UNETR's convolutional decoder.",
    ),
    "segresnet": Recipe(
        architecture="SegResNet",
        kwargs={
            "spatial_dims": 3,
            "in_channels": 2,
            "out_channels": 1,
            "init_filters": 8,
            "blocks_down": [1, 2, 2, 4],
            "blocks_up": [1, 1, 1],
        },
        family="cnn",
        inference=_INFERENCE,
        iterations=1500,
    ),
    "unetpp": Recipe(
        architecture="BasicUNetPlusPlus",
        kwargs={"spatial_dims": 3, "in_channels": 2, "out_channels": 1, "features": [8, 16, 32, 64, 128, 8]},
        family="cnn",
        inference=_INFERENCE,
        iterations=1000,
        batch_size=2,
        note="U-Net++ (nested dense skip connections), the 'UNET+' row of the WMH comparison; no deep supervision.",
    ),
    "truenet": Recipe(
        architecture="TriplanarUNet",
        kwargs={"in_channels": 2, "out_channels": 1, "channels": [16, 32, 64, 128], "strides": [2, 2, 2]},
        family="cnn",
        inference={**_INFERENCE, "roi_size": [96, 112, 96], "sw_batch_size": 1},
        iterations=1600,
        note="TrUENet-style triplanar ensemble: three 2D U-Nets (sagittal, coronal, axial slices; each trained with "
        "its own loss on the slices of the 3D patches) whose probabilities are averaged; inference on whole "
        "slices (one window covers the 2 mm brain).",
    ),
    "swinunetr": Recipe(
        architecture="SwinUNETR",
        kwargs={
            "in_channels": 2,
            "out_channels": 1,
            "feature_size": 12,
            "depths": [1, 1, 1, 1],
            "num_heads": [3, 6, 12, 24],
        },
        family="hybrid",
        inference=_INFERENCE,
        iterations=1000,
        batch_size=2,
        patch=(64, 64, 64),
        lr=1e-3,
        note="Swin-transformer encoder with a convolutional decoder (hybrid), standing in for the VoSHT of the "
        "WMH comparison, which is not published. Small (feature size 12, one block per stage) to train on CPU.",
    ),
    "bianca": ClassicalRecipe(
        adapter="knn",
        params={"k": 20, "smoothing_mm": 2.0, "spatial_weight": 1.0, "flair_floor": 0.5},
        grid={"threshold": [0.5, 0.7, 0.9]},
        prepare=_knn_samples,
        fit_subjects=12,
        note="BIANCA-style k-NN (k = 20) on FLAIR and T1 intensities, their 2 mm local means and the position in "
        "the brain's bounding box (no MNI registration); 400 lesion + 800 non-lesion points from each of 12 "
        "subjects; the threshold tuned on 4 more. Voxels with z-scored FLAIR < 0.5 are not queried (speed).",
    ),
    "lst": ClassicalRecipe(
        adapter="lesion_growing",
        params={},
        grid={"seed_z": [5.0, 6.0, 8.0], "grow_z": [3.0, 3.5, 4.0, 5.0], "wm_margin_mm": [6.0, 10.0]},
        train_subjects=8,
        note="LST-LGA-style lesion growing: FLAIR robust z-score against the T1-derived white matter (3-class "
        "Gaussian mixture), seeds grown through non-CSF brain near white matter; thresholds tuned on 8 subjects.",
    ),
}

DEFAULT_TEST = SynthSpec(sites=("A",), test_subjects=6, train_subjects=0, resolution_mm=2.0, seed=0)
OTHER_SITES = ("B", "C")  # the out-of-distribution sites of a card's ``site_dsc``


def default_test(generator: str) -> SynthSpec:
    """The card's in-distribution test set: site A's test partition of the default data of ``generator``."""
    return replace(DEFAULT_TEST, version=generator)


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


def _outputs(net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The outputs that each get the loss: an ensemble's members (``member_logits``, trained independently as
    TrUENet's three planes are), every output of a network returning a list (U-Net++), or the one output."""
    members = getattr(net, "member_logits", None)
    out = members(x) if callable(members) else net(x)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _load(spec: SynthSpec, cache_dir: Path, partition: str) -> list[Case]:
    return [r.load() for r in synthetic_records(spec, ["flair", "t1"], partition, cache_dir)]


def _train_cases(
    train_subjects: int, resolution_mm: float, cache_dir: Path, generator: str
) -> tuple[SynthSpec, list[Case]]:
    spec = SynthSpec(
        sites=("A",), test_subjects=0, train_subjects=train_subjects, resolution_mm=resolution_mm, seed=0,
        version=generator,
    )  # fmt: skip
    return spec, _load(spec, cache_dir, "train")


def train_network(
    recipe: Recipe, entry: str, cases: list[Case], n_iter: int, seed: int, zoo_dir: Path = ZOO_DIR
) -> dict[str, Any]:
    """Train ``recipe``'s network; write ``zoo/<entry>.pt`` (:func:`compact_state`); return the card's fields."""
    from monai.losses.dice import DiceCELoss

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    settings = InferenceSettings(**recipe.inference)
    data = [
        (normalize(c.stacked(settings.modalities), settings.normalization), c.label[None].astype(np.float32))
        for c in cases
    ]
    net = network_class(recipe.architecture)(**recipe.kwargs)
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=n_iter, pct_start=0.1)
    loss_fn = DiceCELoss(sigmoid=True, batch=True)
    t0 = time.perf_counter()
    net.train()
    for it in range(n_iter):
        x, y = _patches(data, recipe, rng)
        opt.zero_grad()
        outs = _outputs(net, x)
        loss = sum((loss_fn(o, y) for o in outs), torch.zeros(())) / len(outs)
        loss.backward()
        opt.step()
        sched.step()
        if it % 50 == 0 or it == n_iter - 1:
            print(
                f"[{entry}] iter {it:5d}/{n_iter} loss {loss.item():.4f} {time.perf_counter() - t0:7.1f}s", flush=True
            )
    train_s = time.perf_counter() - t0
    weights = f"{entry}.pt"
    torch.save(compact_state(net.state_dict()), zoo_dir / weights)
    return {
        "architecture": recipe.architecture,
        "kwargs": recipe.kwargs,
        "weights": weights,
        "adapter": "monai",
        "params": network_params(recipe, weights),
        "inference": recipe.inference,
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "training": {
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
    }


def compact_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict as committed: floats in fp16, integer buffers (e.g. Swin's relative position index)
    in int16 when their values fit; ``load_state_dict`` casts both back to the network's dtypes."""
    info = torch.iinfo(torch.int16)

    def small(v: torch.Tensor) -> torch.Tensor:
        if v.is_floating_point():
            return v.half()
        if v.dtype in (torch.int32, torch.int64) and v.numel() and info.min <= int(v.min()) <= int(v.max()) <= info.max:
            return v.to(torch.int16)
        return v

    return {k: small(v) for k, v in state.items()}


def network_params(recipe: Recipe, weights: str) -> dict[str, Any]:
    """The ``monai`` adapter params of a trained network entry (``checkpoint`` relative to the zoo folder)."""
    return {"architecture": recipe.architecture, "kwargs": recipe.kwargs, "checkpoint": weights, **recipe.inference}


def _mean_dsc(model: ModelAdapter, cases: list[Case]) -> float:
    """Mean DSC over ``cases`` (each case's ignore mask excluded)."""
    return float(
        np.mean([
            compute_metrics(["dsc"], model.predict(c).mask, c.label, c.spacing_mm, ignore=c.ignore)[0]["dsc"]
            for c in cases
        ])
    )  # fmt: skip


def fit_classical(
    recipe: ClassicalRecipe, entry: str, cases: list[Case], seed: int, zoo_dir: Path = ZOO_DIR
) -> dict[str, Any]:
    """Fit a classical entry: ``recipe.prepare`` on the first ``fit_subjects`` cases (e.g. k-NN training samples),
    then a grid search of ``recipe.grid`` for the best mean DSC on the remaining (tuning) cases."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    fit, tune = cases[: recipe.fit_subjects], cases[recipe.fit_subjects :]
    params = {**recipe.params, **(recipe.prepare(entry, fit, rng, zoo_dir) if recipe.prepare else {})}
    adapter = ADAPTERS.get(recipe.adapter)
    keys = sorted(recipe.grid)
    results = []
    for values in itertools.product(*(recipe.grid[k] for k in keys)):
        trial = {**params, **dict(zip(keys, values, strict=True))}
        score = _mean_dsc(adapter(entry, trial, zoo_dir, "cpu"), tune)
        results.append({**dict(zip(keys, values, strict=True)), "tuning_dsc": round(score, 4)})
        print(f"[{entry}] {results[-1]}", flush=True)
    best = max(results, key=lambda r: r["tuning_dsc"])
    params.update({k: best[k] for k in keys})
    return {
        "architecture": recipe.adapter,
        "adapter": recipe.adapter,
        "params": params,
        "weights": params.get("samples"),
        "parameters": None,
        "training": {
            "seed": seed,
            "fit_subjects": len(fit),
            "tuning_subjects": len(tune),
            "grid_search": results,
            "selected": {k: best[k] for k in keys},
            "train_time_s": round(time.perf_counter() - t0, 1),
        },
    }


def train(
    entry: str,
    cache_dir: Path,
    *,
    iterations: int | None = None,
    seed: int = 0,
    generator: str = SynthSpec.version,
    zoo_dir: Path = ZOO_DIR,
    calibrate: int | None = None,
) -> dict[str, Any]:
    """Train or fit ``entry`` on the data of ``generator``, write its files and ``<zoo_dir>/<entry>.json`` (the
    model card); return the card. A network's probability threshold is then chosen for the best mean DSC on
    ``calibrate`` (default: the recipe's ``calibrate_subjects``; 0: none) further site-A training subjects it
    never saw (:func:`calibrate_threshold`)."""
    recipe = RECIPES[entry]
    if calibrate is None:
        calibrate = recipe.calibrate_subjects if isinstance(recipe, Recipe) else 0
    zoo_dir.mkdir(parents=True, exist_ok=True)
    spec, cases = _train_cases(recipe.train_subjects, recipe.resolution_mm, cache_dir, generator)
    if isinstance(recipe, Recipe):
        fields = train_network(recipe, entry, cases, iterations or recipe.iterations, seed, zoo_dir)
    else:
        fields = fit_classical(recipe, entry, cases, seed, zoo_dir)
    card: dict[str, Any] = {"entry": entry, "family": recipe.family, **fields}
    card["training"]["data"] = (
        f"synthetic site A, train partition, {recipe.train_subjects} subjects at {recipe.resolution_mm} mm "
        f"(SynthSpec seed 0, generator version {spec.version})"
    )
    card["training"]["generator"] = spec.version
    card.update({"note": recipe.note, "recipe": _jsonable(asdict(recipe))})
    (zoo_dir / f"{entry}.json").write_text(json.dumps(card, indent=2) + "\n")
    if calibrate and isinstance(recipe, Recipe):
        more = replace(spec, train_subjects=recipe.train_subjects + calibrate)
        records = synthetic_records(more, ["flair", "t1"], "train", cache_dir)[recipe.train_subjects :]
        held = [r.load() for r in records]  # the subjects after the training ones: never trained on
        threshold, scores = calibrate_threshold(card, held, zoo_dir)
        card["inference"] = {**card["inference"], "threshold": threshold}
        card["params"] = {**card["params"], "threshold": threshold}
        card["training"]["threshold_calibration"] = {
            "subjects": [c.case_id for c in held],
            "mean_dsc": scores,
            "selected": threshold,
        }
        (zoo_dir / f"{entry}.json").write_text(json.dumps(card, indent=2) + "\n")
    return refresh_metrics(entry, cache_dir, zoo_dir)


def refresh_metrics(entry: str, cache_dir: Path, zoo_dir: Path = ZOO_DIR) -> dict[str, Any]:
    """(Re)compute a card's metrics, write the card and return it: the in-distribution test DSC (site A) and
    the mean DSC on the same-sized test partitions of the other sites (``site_dsc``), whose difference to site
    A's is the cost of a new scanner and site."""
    path = zoo_dir / f"{entry}.json"
    card: dict[str, Any] = json.loads(path.read_text())
    test = default_test(str(card["training"].get("generator", "1")))
    card["metrics"] = {
        "id_test_dsc": evaluate_entry(entry, cache_dir, zoo_dir),
        "id_test_set": asdict(test),
        "site_dsc": {site: evaluate_entry(entry, cache_dir, zoo_dir, site=site) for site in OTHER_SITES},
    }
    path.write_text(json.dumps(card, indent=2) + "\n")
    return card


CALIBRATION_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def calibrate_threshold(card: dict[str, Any], cases: list[Case], zoo_dir: Path) -> tuple[float, dict[str, float]]:
    """The probability threshold (of ``CALIBRATION_THRESHOLDS``) with the best mean DSC over ``cases`` (held out
    from training), and every threshold's mean DSC. Lesion-centred patch sampling and a batch Dice loss make a
    network over-confident on lesions, so 0.5 is rarely its best operating point."""
    model = ADAPTERS.get(card["adapter"])(card["entry"], card["params"], zoo_dir, "cpu")
    probs = [model.predict(c).prob for c in cases]
    scores = {
        str(t): round(
            float(np.mean([
                compute_metrics(["dsc"], p >= t, c.label, c.spacing_mm, ignore=c.ignore)[0]["dsc"]
                for p, c in zip(probs, cases, strict=True)
            ])),
            4,
        )
        for t in CALIBRATION_THRESHOLDS
    }  # fmt: skip
    best = max(CALIBRATION_THRESHOLDS, key=lambda t: scores[str(t)])
    return best, scores


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.__name__ if callable(v) else v) for k, v in d.items()}


def evaluate_entry(entry: str, cache_dir: Path, zoo_dir: Path = ZOO_DIR, site: str = "A") -> float:
    """Mean DSC of a zoo entry on the test partition of ``site`` (default A: the card's in-distribution number)
    in the default data of the generator it was trained on (other pathology, label 2, excluded)."""
    card = json.loads((zoo_dir / f"{entry}.json").read_text())
    test = default_test(str(card["training"].get("generator", "1")))  # cards before generator 2 have none
    test = replace(test, sites=(site,))
    cases = _load(test, cache_dir, "test")
    model = ADAPTERS.get(card["adapter"])(entry, card["params"], zoo_dir, "cpu")
    return round(_mean_dsc(model, cases), 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", choices=sorted(RECIPES), action="append", help="default: every entry")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="data cache (default: the runs' cache)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generator", choices=("1", "2"), default=SynthSpec.version, help="training data version")
    parser.add_argument("--zoo-dir", type=Path, default=ZOO_DIR, help="where weights and cards go")
    parser.add_argument(
        "--calibrate",
        type=int,
        default=None,
        help="held-out training subjects to choose a network's threshold on (default: the recipe's; 0: none)",
    )
    parser.add_argument(
        "--evaluate-only", action="store_true", help="recompute the cards' metrics of trained entries; no training"
    )
    args = parser.parse_args(argv)
    args.cache = args.cache or default_cache_dir()
    for entry in args.entry or sorted(RECIPES):
        if args.evaluate_only:
            card = refresh_metrics(entry, args.cache, args.zoo_dir)
        else:
            card = train(
                entry, args.cache, iterations=args.iterations, seed=args.seed, generator=args.generator,
                zoo_dir=args.zoo_dir, calibrate=args.calibrate,
            )  # fmt: skip
        print(json.dumps({"entry": entry, **card["metrics"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
