"""The MICCAI-2017 WMH segmentation challenge layout (``source: wmh2017``; Kuijf et al., IEEE TMI 2019).

Layout (``path`` is the folder holding the site folders, or one site folder)::

    <site>/<subject>/pre/FLAIR.nii.gz       pre-processed FLAIR
    <site>/<subject>/pre/T1.nii.gz          T1 registered to the FLAIR
    <site>/<subject>/wmh.nii.gz             reference: 0 background, 1 WMH, 2 other pathology
                                            (``pre/wmh.nii.gz`` is accepted too)

Sites may be nested (the test release has ``Amsterdam/GE3T/<subject>``); ``site`` is the folder path below
``path`` (``"Utrecht"``, ``"Amsterdam/GE3T"``), ``case_id`` is ``<site>_<subject>`` with ``/`` and spaces
replaced by ``-`` and ``_``. Protocol modalities map to ``pre/<name>.nii.gz`` case-insensitively
(``flair`` -> ``FLAIR.nii.gz``). Label 2 becomes the case's ignore mask, excluded from every metric as in the
challenge; other values than 0, 1, 2 are a per-case error. ``scanner`` and ``field_strength_t`` come from the
challenge's scanner table for the known site names. ``params``: ``metadata`` (a CSV with ``case_id`` and any
columns, relative to ``path``).
"""

from __future__ import annotations

__all__ = ["WMH2017_SCANNERS", "wmh2017_source"]

import functools
import re
from pathlib import Path

from robusteval.data.case import CaseRecord
from robusteval.data.loading import ImageSource, load_case
from robusteval.data.metadata import MetadataValue, read_metadata_table
from robusteval.data.options import check_params, resolve_under
from robusteval.errors import RobustEvalError
from robusteval.protocol.schema import DatasetSpec

# Site folder name (lower case) -> (scanner, field strength T), from the challenge's description.
WMH2017_SCANNERS: dict[str, tuple[str, float]] = {
    "utrecht": ("Philips Achieva 3T", 3.0),
    "singapore": ("Siemens TrioTim 3T", 3.0),
    "ge3t": ("GE Signa HDxt 3T", 3.0),
    "ge1t5": ("GE Signa HDxt 1.5T", 1.5),
    "philips_vu .petmr_01.": ("Philips Ingenuity 3T (PET/MR)", 3.0),
}
LABEL_FILE = "wmh.nii.gz"


def _case_id(site: str, subject: str) -> str:
    return re.sub(r"\s+", "_", f"{site.replace('/', '-')}_{subject}")


def _modality_file(pre: Path, modality: str) -> Path:
    """``pre/<modality>.nii.gz`` matched case-insensitively (the upper-case name when absent)."""
    wanted = f"{modality}.nii.gz".lower()
    for path in sorted(pre.iterdir()):
        if path.name.lower() == wanted:
            return path
    return pre / f"{modality.upper()}.nii.gz"


def wmh2017_source(spec: DatasetSpec, cache_dir: Path) -> list[CaseRecord]:
    """The subjects of a WMH-2017 challenge folder (see the module doc); ``dataset.partition`` is not used."""
    params = check_params(spec, {"metadata"})
    if spec.path is None or not spec.path.is_dir():
        raise RobustEvalError("dataset.path: a wmh2017 source needs the challenge folder (site/subject/pre/)")
    root = spec.path
    extra = read_metadata_table(resolve_under(params["metadata"], root)) if "metadata" in params else {}
    subject_dirs = sorted({pre.parent for pre in root.rglob("pre") if pre.is_dir()})
    records = []
    present = {m: False for m in spec.modalities}
    for subject_dir in subject_dirs:
        rel = subject_dir.parent.relative_to(root).as_posix()
        site = root.name if rel == "." else rel
        subject = subject_dir.name
        case_id = _case_id(site, subject)
        pre = subject_dir / "pre"
        paths = {m: _modality_file(pre, m) for m in spec.modalities}
        for m, path in paths.items():
            present[m] |= path.is_file()
        sources: dict[str, ImageSource] = dict(paths)
        label = subject_dir / LABEL_FILE
        if not label.is_file() and (pre / LABEL_FILE).is_file():
            label = pre / LABEL_FILE
        scanner, field = WMH2017_SCANNERS.get(site.rsplit("/", 1)[-1].lower(), ("unknown", None))
        meta: dict[str, MetadataValue] = {"field_strength_t": field}
        meta.update(extra.get(case_id, {}))
        site = str(meta.pop("site", None) or site)
        scanner = str(meta.pop("scanner", None) or scanner)
        subject_id = str(meta.pop("subject_id", None) or subject)
        loader = functools.partial(
            load_case,
            case_id=case_id,
            subject_id=subject_id,
            site=site,
            scanner=scanner,
            images=sources,
            label=label,
            label_values=(0, 1, 2),
            ignore_value=2,
            metadata=meta,
        )
        read = (*loader.keywords["images"].values(), loader.keywords["label"])
        records.append(CaseRecord(case_id, subject_id, site, scanner, spec.partition, loader, meta, read))
    if not records:
        raise RobustEvalError(f"dataset.path: no <site>/<subject>/pre/ folder under {root}")
    absent = [m for m, seen in present.items() if not seen]
    if absent:
        raise RobustEvalError(
            f"dataset.modalities: no subject under {root} has pre/<{absent[0]}>.nii.gz; "
            "the challenge provides FLAIR and T1"
        )
    return records
