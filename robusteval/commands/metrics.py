"""``robusteval metrics PRED.nii.gz REF.nii.gz``: the metric panel of one prediction against its reference."""

from __future__ import annotations

__all__ = ["register", "run_metrics"]

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the heavy imports wait for the command itself: building the CLI parser stays quick
    import numpy as np
    from numpy.typing import NDArray

CONVENTIONS = ("default", "wmh2017")
"""The ``--convention`` choices: the names of ``robusteval.metrics.METRIC_CONVENTIONS``."""

EXIT_OK = 0
EXIT_INPUT = 2
_AFFINE_ATOL_MM = 1e-3


class _InputError(Exception):
    """A problem with the input files, reported on stderr with exit code 2."""


def _load(path: Path, what: str) -> tuple[NDArray[np.float32], NDArray[np.float64], tuple[float, float, float]]:
    """(3D data, affine, voxel size in mm along the array axes) of a NIfTI file."""
    import nibabel as nib
    import numpy as np

    from robusteval.data.case import spacing_from_affine

    try:
        img = nib.load(path)
    except FileNotFoundError:
        raise _InputError(f"{what} file not found: {path}") from None
    except Exception as exc:  # nibabel raises several types for unreadable files
        raise _InputError(f"cannot read {what} file {path} as NIfTI: {exc}") from None
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise _InputError(f"{what} file {path} is not a NIfTI image")
    data = np.asanyarray(img.dataobj)
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise _InputError(f"{what} image {path} must be 3D, got shape {data.shape}")
    affine = np.asarray(img.affine, dtype=np.float64)
    return np.asarray(data, dtype=np.float32), affine, spacing_from_affine(affine)


def _check_same_grid(
    what: str,
    path: Path,
    shape: tuple[int, ...],
    affine: NDArray[np.float64],
    ref_shape: tuple[int, ...],
    ref_affine: NDArray[np.float64],
) -> None:
    import numpy as np

    if shape != ref_shape:
        raise _InputError(f"{what} {path} has shape {shape} but the reference has shape {ref_shape}")
    if not np.allclose(affine, ref_affine, rtol=0.0, atol=_AFFINE_ATOL_MM):
        raise _InputError(
            f"{what} {path} is not on the reference grid "
            f"(affines differ by more than {_AFFINE_ATOL_MM} mm):\n"
            f"{what} affine:\n{np.array2string(affine, precision=4)}\n"
            f"reference affine:\n{np.array2string(ref_affine, precision=4)}\n"
            "resample it onto the reference grid first"
        )


def run_metrics(args: argparse.Namespace) -> int:
    """Handler of the ``metrics`` command; returns the exit code (2 for unusable inputs)."""
    from rich.console import Console
    from rich.table import Table

    from robusteval.metrics import METRICS, PANEL, MetricConfig, compute_metrics

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if args.metrics is None:  # the panel's display order, then any metric registered beyond it
            names = [*PANEL, *(n for n in METRICS.names() if n not in PANEL)]
        else:
            names = [n.strip() for n in args.metrics.split(",") if n.strip()]
        unknown = [n for n in names if n not in METRICS]
        if unknown:
            raise _InputError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS.names())}")
        ref, ref_affine, spacing = _load(args.ref, "reference")
        pred, affine, _ = _load(args.pred, "prediction")
        _check_same_grid("prediction", args.pred, pred.shape, affine, ref.shape, ref_affine)
        extras: dict[str, NDArray[np.float32] | None] = {}
        for key, what in (
            ("prob", "probability map"),
            ("ignore", "ignore mask"),
            ("uncertainty", "uncertainty map"),
        ):
            path: Path | None = getattr(args, key)
            if path is None:
                extras[key] = None
                continue
            data, aff, _ = _load(path, what)
            _check_same_grid(what, path, data.shape, aff, ref.shape, ref_affine)
            extras[key] = data
        config = MetricConfig(convention=args.convention, nsd_tolerance_mm=args.nsd_tolerance, surface=args.surface)
    except (_InputError, ValueError) as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_INPUT
    pred_mask, ref_mask, excluded = config.rules.labels(pred, ref)  # the convention reads the label values
    ignore = None if extras["ignore"] is None else extras["ignore"] > 0.5
    if excluded is not None:
        ignore = excluded if ignore is None else ignore | excluded
    values, notes = compute_metrics(
        names,
        pred_mask,
        ref_mask,
        spacing,
        ignore=ignore,
        prob=extras["prob"],
        uncertainty=extras["uncertainty"],
        config=config,
    )
    if args.json:
        print(json.dumps({k: (None if math.isnan(v) else v) for k, v in values.items()}, allow_nan=False))
        return EXIT_OK
    size = " x ".join(f"{s:g}" for s in spacing)
    table = Table(title=f"{args.pred.name} vs {args.ref.name}  (voxel {size} mm, convention {args.convention})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("better")
    table.add_column("note")
    for name in names:
        m, v = METRICS.get(name), values[name]
        better = "-" if m.descriptive else ("higher" if m.higher_is_better else "lower")
        table.add_row(name, "NaN" if math.isnan(v) else f"{v:.4f}", m.unit, better, notes.get(name, ""))
    Console(highlight=False).print(table)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``metrics`` subcommand to the CLI."""
    parser = subparsers.add_parser(
        "metrics",
        help="metric panel of one prediction against its reference (NIfTI)",
        description=(
            "Compute the metric panel (docs/metrics.md) of a prediction against a reference on the same "
            "grid. Voxels > 0.5 are foreground (--convention wmh2017: reference label 1 is WMH, label 2 is "
            "excluded, prediction values 0.5 to 1000 are foreground, as the WMH 2017 challenge reads them); "
            "the voxel size comes from the reference's NIfTI affine."
        ),
    )
    parser.add_argument("pred", type=Path, metavar="PRED.nii.gz", help="predicted mask")
    parser.add_argument("ref", type=Path, metavar="REF.nii.gz", help="reference mask")
    parser.add_argument("--prob", type=Path, metavar="P.nii.gz", help="foreground probability map (auc_pr)")
    parser.add_argument("--ignore", type=Path, metavar="M.nii.gz", help="mask of voxels excluded from every metric")
    parser.add_argument(
        "--uncertainty",
        type=Path,
        metavar="U.nii.gz",
        help="voxel uncertainty map, higher = less certain (ndsc_aac)",
    )
    parser.add_argument("--metrics", metavar="A,B,...", help="comma-separated subset (default: all)")
    parser.add_argument("--nsd-tolerance", type=float, default=1.0, metavar="MM", help="nsd tolerance τ (default 1)")
    parser.add_argument("--surface", choices=("voxel", "surfel"), default="voxel", help="boundary convention")
    parser.add_argument(
        "--convention",
        choices=CONVENTIONS,
        default="default",
        help="metric convention: default, or wmh2017 (the WMH 2017 challenge's evaluation.py; docs/metrics.md)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object {metric: value}, NaN as null")
    parser.set_defaults(func=run_metrics)
