"""``python -m robusteval data ...``: generate, preview, describe and check datasets.

- ``data synth --out DIR [--sites A B C] [--subjects N] [--train-subjects N] [--resolution MM] [--seed S]``:
  the synthetic multi-site WMH dataset (same arguments, byte-identical files);
- ``data preview DIR --out FILE.png``: one subject per site, FLAIR and T1 with lesion outlines;
- ``data realism [--resolution MM]``: the realism card of generator 2 (docs/data.md);
- ``data sites``: the synthetic scanner profiles;
- ``data check --source S --path P [--modalities ...] [--partition ...]``: load every case of a dataset and
  print the counts (listed, loaded, failed with reasons, empty references). Exit code 1 when a case failed.
"""

from __future__ import annotations

__all__ = ["register"]

import argparse
import sys
from pathlib import Path

from robusteval.data.synthetic import SITES, SynthSpec
from robusteval.data.synthetic_v2 import SITES_V2


def _synth(args: argparse.Namespace) -> int:
    from robusteval.data.synthetic import generate

    spec = SynthSpec(
        sites=tuple(args.sites),
        test_subjects=args.subjects,
        train_subjects=args.train_subjects,
        resolution_mm=args.resolution,
        seed=args.seed,
        version=str(args.generator),
    )
    manifest = generate(spec, Path(args.out))
    n = len(spec.sites) * (spec.test_subjects + spec.train_subjects)
    where = f"{', '.join(spec.sites)}; {spec.resolution_mm:g} mm; seed {spec.seed}; generator {spec.version}"
    print(f"cases: {n} ({where}) -> {manifest}")
    return 0


def _realism(args: argparse.Namespace) -> int:
    from robusteval.data.realism import card_rows, measure

    facts = measure(tuple(args.sites), args.subjects, args.train_subjects, args.resolution, args.seed)
    rows = card_rows(facts)
    sites = list(dict.fromkeys(r["site"] for r in rows))
    by = {(r["measure"], r["site"]): r for r in rows}
    measures = list(dict.fromkeys(r["measure"] for r in rows))
    if args.markdown:
        print("| measure | " + " | ".join(f"site {s}" for s in sites) + " | aims at | source |")
        print("|---" * (len(sites) + 3) + "|")
    for m in measures:
        first = by[(m, sites[0])]
        values = [by[(m, s)]["value"] for s in sites]
        if args.markdown:
            print(f"| {m} | " + " | ".join(values) + f" | {first['target']} | {first['source']} |")
        else:
            print(f"{m:36} " + "  ".join(f"{s}: {v}" for s, v in zip(sites, values, strict=True)))
            print(f"{'':36} aims at {first['target']} ({first['source']})")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from robusteval.viz.preview import preview_manifest

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = preview_manifest(Path(args.dataset))
    fig.savefig(out, dpi=args.dpi)
    print(f"preview -> {out}")
    return 0


def _sites(args: argparse.Namespace) -> int:
    profiles = SITES if args.generator == 1 else {k: v.scanner for k, v in SITES_V2.items()}
    print("site  field       voxel (mm)   SNR  bias  gamma  scale  scanner")
    for p in profiles.values():
        voxel = "x".join(f"{v:g}" for v in p.spacing_mm)
        print(
            f"{p.name:4} {p.field_strength_t:5.1f}T {voxel:>16} {p.snr:5.0f} {p.bias_strength:5.2f} "
            f"{p.gamma:6.2f} {p.scale:6.0f}  {p.description}"
        )
    if args.generator == 2:
        print("\nsite  slice (mm)  FLAIR csf/gm/wm   T1 csf/gm/wm     lesion contrast  texture")
        for name, site in SITES_V2.items():
            flair = "/".join(f"{v:.2f}" for v in site.flair)
            t1 = "/".join(f"{v:.2f}" for v in site.t1)
            print(
                f"{name:4} {site.slice_thickness_mm:10.1f}  {flair:16} {t1:16} {site.lesion_contrast:15.2f}"
                f"  {site.texture:7.2f}"
            )
    return 0


def _check(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from robusteval.data.checks import summarize_loading
    from robusteval.data.sources import list_cases
    from robusteval.errors import RobustEvalError
    from robusteval.paths import default_cache_dir
    from robusteval.protocol.schema import DatasetSpec

    try:
        spec = DatasetSpec.model_validate(
            {
                "source": args.source,
                "path": args.path,
                "modalities": args.modalities,
                "partition": args.partition,
            },
            context={"base_dir": Path.cwd()},
        )
    except ValidationError as exc:
        raise RobustEvalError(f"data check: {exc}") from None
    cache_dir = Path(args.cache) if args.cache else default_cache_dir()
    summary = summarize_loading(list_cases(spec, cache_dir.resolve()))
    print("\n".join(summary.lines()))
    return 1 if summary.failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``data`` command and its sub-commands to the CLI."""
    data = subparsers.add_parser(
        "data",
        help="generate, preview and check datasets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = data.add_subparsers(dest="data_command", metavar="{synth,realism,preview,sites,check}", required=True)

    synth = sub.add_parser("synth", help="generate the synthetic multi-site WMH dataset")
    synth.add_argument("--out", required=True, help="output folder (new, or made with the same arguments)")
    synth.add_argument(
        "--sites",
        nargs="+",
        default=list(SynthSpec.sites),
        choices=sorted(SITES),
        metavar="SITE",
        help=f"sites to scan at (default: all: {' '.join(SITES)})",
    )
    synth.add_argument("--subjects", type=int, default=SynthSpec.test_subjects, help="test subjects per site")
    synth.add_argument(
        "--train-subjects",
        type=int,
        default=SynthSpec.train_subjects,
        help="training subjects per site (disjoint from the test subjects)",
    )
    synth.add_argument(
        "--resolution",
        type=float,
        default=SynthSpec.resolution_mm,
        metavar="MM",
        help="working resolution in mm (1 on a GPU machine, 2 on CPU; default %(default)s)",
    )
    synth.add_argument("--seed", type=int, default=SynthSpec.seed, help="random seed (default %(default)s)")
    synth.add_argument(
        "--generator",
        type=int,
        choices=(1, 2),
        default=int(SynthSpec.version),
        help="generator version (2: realistic lesions, mimics and two raters; default %(default)s)",
    )
    synth.set_defaults(func=_synth)

    realism = sub.add_parser("realism", help="measure the realism card of the synthetic data (generator 2)")
    realism.add_argument("--sites", nargs="+", default=list(SynthSpec.sites), choices=sorted(SITES), metavar="SITE")
    realism.add_argument("--subjects", type=int, default=10, help="test subjects per site (default %(default)s)")
    realism.add_argument("--train-subjects", type=int, default=5, help="threshold-tuning subjects of the first site")
    realism.add_argument("--resolution", type=float, default=2.0, metavar="MM")
    realism.add_argument("--seed", type=int, default=0)
    realism.add_argument("--markdown", action="store_true", help="print a Markdown table (docs/data.md)")
    realism.set_defaults(func=_realism)

    preview = sub.add_parser("preview", help="draw one subject per site with lesion outlines")
    preview.add_argument("dataset", help="dataset folder (with manifest.csv) or a manifest CSV")
    preview.add_argument("--out", required=True, help="image file to write (.png, .pdf, .svg)")
    preview.add_argument("--dpi", type=int, default=120)
    preview.set_defaults(func=_preview)

    sites = sub.add_parser("sites", help="print the synthetic sites' scanner profiles")
    sites.add_argument("--generator", type=int, choices=(1, 2), default=int(SynthSpec.version))
    sites.set_defaults(func=_sites)

    check = sub.add_parser("check", help="load every case of a dataset and report failures")
    check.add_argument("--source", required=True, help="data source: synthetic, manifest, msd, wmh2017, bids")
    check.add_argument("--path", help="the dataset's file or folder")
    check.add_argument("--modalities", nargs="+", default=["flair", "t1"])
    check.add_argument("--partition", default="test")
    check.add_argument("--cache", help="cache for generated data (default $ROBUSTEVAL_CACHE or ~/.cache/robusteval)")
    check.set_defaults(func=_check)


if __name__ == "__main__":  # pragma: no cover - for use before the main CLI exists
    parser = argparse.ArgumentParser(prog="robusteval")
    register(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args()
    sys.exit(ns.func(ns))
