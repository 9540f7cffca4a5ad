"""Data sources: each lists the cases of a dataset as :class:`CaseRecord` (loaded lazily, per case).

``SOURCES`` maps the protocol's ``dataset.source`` to a function ``(spec, cache_dir) -> list[CaseRecord]``:
``synthetic`` (the embedded default), ``manifest`` (a CSV), ``msd`` (Medical Segmentation Decathlon /
nnU-Net raw), ``wmh2017`` (the MICCAI-2017 WMH challenge layout) and ``bids`` (a raw BIDS dataset, labels in
a derivatives folder). Listing problems (a missing folder, a manifest without the needed columns) raise
:class:`RobustEvalError`; problems with one case's files raise :class:`CaseError` only when that record is
loaded, so the other cases still run.
"""

from __future__ import annotations

__all__ = [
    "ANNOTATION_PREFIX",
    "BASE_COLUMNS",
    "SOURCES",
    "Source",
    "annotation_columns",
    "list_cases",
    "manifest_source",
    "read_manifest",
    "synthetic_dir",
    "synthetic_records",
    "synthetic_source",
    "synthetic_spec",
]

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from robusteval.data.bids_dataset import bids_source
from robusteval.data.case import Case, CaseRecord
from robusteval.data.loading import load_case
from robusteval.data.metadata import read_table, typed_columns
from robusteval.data.msd import msd_source
from robusteval.data.options import check_params
from robusteval.data.synthetic import SynthSpec, generate
from robusteval.data.synthetic_v2 import IGNORE_VALUE
from robusteval.data.wmh2017 import wmh2017_source
from robusteval.errors import CaseError, RobustEvalError
from robusteval.paths import unsafe_reason
from robusteval.protocol.schema import DatasetSpec
from robusteval.registry import Registry

Source = Callable[[DatasetSpec, Path], list[CaseRecord]]
SOURCES: Registry[Source] = Registry("data source")

BASE_COLUMNS = ("case_id", "subject_id", "site", "scanner", "partition", "label")
ANNOTATION_PREFIX = "label_"
"""A manifest column ``label_<name>`` holds rater ``<name>``'s annotation of the case (e.g. ``label_rater2``)."""


def _fail(reason: str) -> NoReturn:
    raise CaseError(reason)


def _column_for(name: str, header: list[str]) -> str | None:
    """The header column for ``name``: exact, else case-insensitive."""
    if name in header:
        return name
    folded = [h for h in header if h.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def annotation_columns(manifest: Path, header: list[str]) -> dict[str, str]:
    """Rater name -> column, for every column named ``label_<name>`` (prefix matched case-insensitively)."""
    found: dict[str, str] = {}
    for h in header:
        name = h[len(ANNOTATION_PREFIX) :]
        if h.lower().startswith(ANNOTATION_PREFIX) and name:
            if name in found:
                raise RobustEvalError(f"{manifest}: columns {found[name]!r} and {h!r} both name annotation {name!r}")
            found[name] = h
    return found


def read_manifest(
    manifest: Path,
    modalities: list[str],
    partition: str | None,
    *,
    label_values: tuple[int, ...] = (0, 1),
    ignore_value: int | None = None,
) -> list[CaseRecord]:
    """Records from a CSV manifest (paths relative to it); extra columns become typed metadata.

    Rows whose ``partition`` differs from ``partition`` are skipped (no ``partition`` column: every row).
    Modality columns match the protocol's names exactly or case-insensitively. A row with an empty path
    becomes a record that fails with a CaseError when loaded. Each ``label_<name>`` column is rater
    ``<name>``'s annotation (``Case.annotations``; checked like the label when loaded; an empty cell: none for
    that case); these columns are not metadata, and their files are part of the record's fingerprint.
    """
    header, rows = read_table(manifest)
    columns = {m: _column_for(m, header) for m in (*modalities, "case_id", "label")}
    missing = [m for m, c in columns.items() if c is None]
    if missing:
        raise RobustEvalError(f"{manifest}: missing column(s) {missing}; it has {header}")
    used = {c for c in columns.values() if c is not None}
    raters = annotation_columns(manifest, [h for h in header if h not in used])
    used |= set(raters.values())
    extra = [h for h in header if h not in BASE_COLUMNS and h not in used]
    typed = typed_columns([{k: r.get(k) or "" for k in extra} for r in rows])
    records = []
    for row, meta in zip(rows, typed, strict=True):
        if partition is not None and "partition" in header and row.get("partition") != partition:
            continue
        case_id = (row.get(str(columns["case_id"])) or "").strip()
        subject = row.get("subject_id") or case_id
        site, scanner = row.get("site") or "unknown", row.get("scanner") or "unknown"
        paths = {m: (row.get(str(columns[m])) or "").strip() for m in (*modalities, "label")}
        empty = [m for m, p in paths.items() if not p]
        others = {n: cell for n, c in raters.items() if (cell := (row.get(c) or "").strip())}
        loader: Callable[[], Case]
        if not case_id:
            raise RobustEvalError(f"{manifest}: a row has an empty case_id: {row}")
        if empty:
            loader = functools.partial(_fail, f"manifest row {case_id!r} has no path for {empty}")
        else:
            loader = functools.partial(
                load_case,
                case_id=case_id,
                subject_id=subject,
                site=site,
                scanner=scanner,
                images={m: manifest.parent / paths[m] for m in modalities},
                label=manifest.parent / paths["label"],
                label_values=label_values,
                ignore_value=ignore_value,
                metadata=meta,
                annotations={n: manifest.parent / p for n, p in others.items()},
            )
        files = tuple(manifest.parent / p for p in [*paths.values(), *others.values()] if p)
        records.append(CaseRecord(case_id, subject, site, scanner, row.get("partition") or "", loader, meta, files))
    return records


@SOURCES.register("synthetic")
def synthetic_source(spec: DatasetSpec, cache_dir: Path) -> list[CaseRecord]:
    """The embedded default: multi-site synthetic WMH data (``params``: sites, test_subjects, train_subjects,
    resolution_mm, seed, generator), generated once into ``cache_dir/synthetic/<key>``. Generator 2 labels
    other pathology 2 (an ignore mask) and writes rater 2's annotation."""
    return synthetic_records(synthetic_spec(spec), spec.modalities, spec.partition, cache_dir)


def synthetic_spec(spec: DatasetSpec) -> SynthSpec:
    """The :class:`SynthSpec` that a synthetic dataset's ``params`` describe; RobustEvalError for a bad one."""
    keys = {"sites", "test_subjects", "train_subjects", "resolution_mm", "seed", "generator"}
    params = check_params(spec, keys)
    try:
        return SynthSpec(
            sites=tuple(str(s) for s in params.get("sites", SynthSpec.sites)),
            test_subjects=int(params.get("test_subjects", SynthSpec.test_subjects)),
            train_subjects=int(params.get("train_subjects", SynthSpec.train_subjects)),
            resolution_mm=float(params.get("resolution_mm", SynthSpec.resolution_mm)),
            seed=int(params.get("seed", SynthSpec.seed)),
            version=str(int(params.get("generator", SynthSpec.version))),
        )
    except (TypeError, ValueError) as exc:
        raise RobustEvalError(f"dataset.params: {exc}") from None


def synthetic_dir(synth: SynthSpec, cache_dir: Path) -> Path:
    """The folder that holds (or will hold) the generated dataset ``synth``."""
    return cache_dir / "synthetic" / synth.key()


def synthetic_records(
    synth: SynthSpec, modalities: list[str], partition: str | None, cache_dir: Path
) -> list[CaseRecord]:
    """Generate ``synth`` into ``cache_dir/synthetic/<key>`` (or reuse it) and list its cases; generator 2's
    label value 2 (other pathology) becomes the ignore mask."""
    manifest = generate(synth, synthetic_dir(synth, cache_dir))
    if synth.version == "1":
        return read_manifest(manifest, modalities, partition)
    values = (0, 1, IGNORE_VALUE)
    return read_manifest(manifest, modalities, partition, label_values=values, ignore_value=IGNORE_VALUE)


@SOURCES.register("manifest")
def manifest_source(spec: DatasetSpec, cache_dir: Path) -> list[CaseRecord]:
    """A CSV manifest: ``case_id, subject_id, site, scanner, partition, <modality>..., label`` (+ metadata);
    ``path`` is the CSV file, or a folder holding ``manifest.csv``.

    ``params``: ``label_values`` (default [0, 1]) and ``ignore_value`` (a label value that marks voxels
    excluded from every metric, e.g. 2 for WMH-2017 labels; default none).
    """
    params = check_params(spec, {"label_values", "ignore_value"})
    if spec.path is None:
        raise RobustEvalError("dataset.path: a manifest source needs the path of its CSV file")
    path = spec.path / "manifest.csv" if spec.path.is_dir() else spec.path
    ignore = params.get("ignore_value")
    values = tuple(int(v) for v in params.get("label_values", (0, 1) if ignore is None else (0, 1, ignore)))
    return read_manifest(
        path,
        spec.modalities,
        spec.partition,
        label_values=values,
        ignore_value=None if ignore is None else int(ignore),
    )


SOURCES.add("msd", msd_source)
SOURCES.add("wmh2017", wmh2017_source)
SOURCES.add("bids", bids_source)


def _safe_id(record: CaseRecord) -> CaseRecord:
    """``record``, or when its case_id cannot be a file name (``/``, ``..``...) a record that fails with why."""
    reason = unsafe_reason(record.case_id)
    if reason is None:
        return record
    why = f"case_id {record.case_id!r} cannot name files: {reason}; rename the case"
    return dataclasses.replace(record, loader=functools.partial(_fail, why))


def list_cases(spec: DatasetSpec, cache_dir: Path) -> list[CaseRecord]:
    """The records of the protocol's dataset; case ids must be unique.

    Case ids name files (exported test sets, external predictions); a case whose id is not a safe file name
    fails with the reason when loaded, and the other cases run.
    """
    records = [_safe_id(r) for r in SOURCES.get(spec.source)(spec, cache_dir)]
    repeated = sorted(k for k, n in Counter(r.case_id for r in records).items() if n > 1)
    if repeated:
        raise RobustEvalError(f"dataset: case_id(s) {repeated[:5]} appear more than once; ids must be unique")
    return records
