"""A raw BIDS dataset with reference labels in a derivatives folder (``source: bids``).

Layout (``path`` is the dataset root, the folder holding ``dataset_description.json``)::

    dataset_description.json                      required (Name, BIDSVersion)
    participants.tsv                              optional: participant_id, site, any columns
    sub-<s>/[ses-<t>/]anat/sub-<s>[_ses-<t>]_FLAIR.nii.gz   (+ a .json sidecar; inheritance applies)
    sub-<s>/[ses-<t>/]anat/sub-<s>[_ses-<t>]_T1w.nii.gz
    derivatives/labels/sub-<s>/[ses-<t>/]anat/sub-<s>[_ses-<t>]_label-WMH_mask.nii.gz   (``params.label``)

The dataset is indexed with pybids (the BIDS maintainers' reference library): its validation of
``dataset_description.json`` and of file names, its entity parsing, and its sidecar metadata with the BIDS
inheritance principle (a top-level ``FLAIR.json`` applies to every FLAIR below it, nearer files win).

One case per subject and session that has an ``anat`` image of a protocol modality: ``case_id`` is
``sub-<s>`` or ``sub-<s>_ses-<t>``, ``subject_id`` is ``sub-<s>``. Protocol modalities map to BIDS suffixes
(``params.suffixes``; default ``flair`` -> ``FLAIR``, ``t1`` -> ``T1w``, ``t2`` -> ``T2w``, ``pd`` -> ``PDw``,
``t2star`` -> ``T2starw``, matched case-insensitively). ``params.label`` is the reference's path relative to
the root, a pybids path pattern filled with the entities of the case's first-modality image: ``{subject}``,
``{session}``, ``{acquisition}``, ``{run}``...; ``[...]`` is left out when an entity in it is absent.

Metadata (usable in ``dataset.split``): ``session``; every ``participants.tsv`` column (``n/a`` and empty
cells are None); the sidecar fields ``params.sidecar_fields`` of the first-modality image (default
``Manufacturer``, ``ManufacturersModelName``, ``MagneticFieldStrength``; absent: None). ``site`` is the
value of ``params.site_column`` (default ``site``) in ``participants.tsv``, else in the sidecar (e.g.
``site_column: InstitutionName``), else ``unknown``; ``scanner`` is the ``participants.tsv`` column
``scanner``, else ``<Manufacturer> <ManufacturersModelName> <MagneticFieldStrength>T`` from the sidecar.

Errors: a missing or malformed ``dataset_description.json``, an unreadable sidecar, a malformed
``participants.tsv`` (its line), a modality or a label that no case has, stop the listing naming the file.
A case without an image of a modality, with several (choose with ``params.entities``, e.g.
``{flair: {acquisition: 3D}}``: pybids entity filters per modality),
or without its label file, is a bad case: it fails with the reason (naming the file) and the others run.
``params``: ``label``, ``suffixes``, ``entities``, ``site_column``, ``sidecar_fields``, ``label_values``
(default [0, 1]) and ``ignore_value`` (as for a manifest).
"""

from __future__ import annotations

__all__ = ["DEFAULT_LABEL_PATTERN", "DEFAULT_SIDECAR_FIELDS", "DEFAULT_SUFFIXES", "bids_source", "read_participants"]

import csv
import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from robusteval.data.case import Case, CaseRecord
from robusteval.data.loading import load_case
from robusteval.data.metadata import MetadataValue, typed_columns
from robusteval.data.options import check_params, resolve_under
from robusteval.errors import CaseError, FieldError, RobustEvalError
from robusteval.protocol.schema import DatasetSpec

DEFAULT_LABEL_PATTERN = (
    "derivatives/labels/sub-{subject}[/ses-{session}]/anat/sub-{subject}[_ses-{session}]_label-WMH_mask.nii.gz"
)
DEFAULT_SUFFIXES = {"flair": "FLAIR", "t1": "T1w", "t2": "T2w", "pd": "PDw", "t2star": "T2starw"}
DEFAULT_SIDECAR_FIELDS = ("Manufacturer", "ManufacturersModelName", "MagneticFieldStrength")
_PARAMS = {"label", "suffixes", "entities", "site_column", "sidecar_fields", "label_values", "ignore_value"}
_MISSING = ("", "n/a")  # BIDS writes a missing TSV value as n/a
_EXTENSIONS = [".nii.gz", ".nii"]

CaseKey = tuple[str, str | None]  # (subject label, session label or None)


def _fail(reason: str) -> NoReturn:
    raise CaseError(reason)


def read_participants(path: Path) -> dict[str, dict[str, MetadataValue]]:
    """``participants.tsv``: participant_id (``sub-<label>``) -> {column: typed value}; ``n/a`` and empty cells
    are None. A malformed file (no participant_id column, a row with another number of fields than the
    header, an id without ``sub-``, an id twice) is a RobustEvalError naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RobustEvalError(f"{path}: cannot read: {exc}") from None
    lines = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not lines or not any(lines[0]):
        raise RobustEvalError(f"{path}: empty file (expected a header line starting with participant_id)")
    header = [h.strip() for h in lines[0]]
    if "participant_id" not in header:
        raise RobustEvalError(f"{path}:1: no participant_id column; the header is {header} (tab-separated?)")
    if len(set(header)) != len(header):
        raise RobustEvalError(f"{path}:1: repeated column names in the header {header}")
    rows: list[dict[str, str]] = []
    ids: dict[str, int] = {}
    for number, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise RobustEvalError(
                f"{path}:{number}: {len(cells)} tab-separated fields, the header has {len(header)}; "
                "write n/a for a missing value"
            )
        row = {h: ("" if c.strip() in _MISSING else c.strip()) for h, c in zip(header, cells, strict=True)}
        pid = row["participant_id"]
        if not pid.startswith("sub-") or len(pid) == 4:
            raise RobustEvalError(f"{path}:{number}: participant_id {pid!r} is not sub-<label>")
        if pid in ids:
            raise RobustEvalError(f"{path}:{number}: participant_id {pid!r} also on line {ids[pid]}")
        ids[pid] = number
        rows.append(row)
    table: dict[str, dict[str, MetadataValue]] = {}
    for typed in typed_columns(rows, keep_text={"participant_id", "site", "scanner"}):
        pid = str(typed.pop("participant_id"))
        table[pid] = {k: (None if v == "" else v) for k, v in typed.items()}
    return table


def _suffixes(params: Mapping[str, Any], modalities: list[str]) -> dict[str, str]:
    """Protocol modality -> BIDS suffix: ``params.suffixes``, else the default names (case-insensitively)."""
    given = params.get("suffixes", {})
    if not isinstance(given, Mapping) or not all(isinstance(v, str) for v in given.values()):
        raise FieldError(("dataset", "params", "suffixes"), f"expected {{modality: BIDS suffix}}, got {given!r}")
    out: dict[str, str] = {}
    for m in modalities:
        suffix = given.get(m) or DEFAULT_SUFFIXES.get(m.lower())
        if suffix is None:
            raise FieldError(
                ("dataset", "modalities"),
                f"no BIDS suffix known for modality {m!r}; give dataset.params.suffixes: {{{m}: <suffix>}}",
            )
        out[m] = suffix
    return out


def _layout(root: Path) -> Any:
    """The pybids layout of the raw dataset (derivatives not indexed); errors name the file."""
    try:
        from bids import BIDSLayout
        from bids.exceptions import BIDSValidationError
    except ImportError:
        raise RobustEvalError("dataset.source: the bids source needs pybids: pip install 'robusteval[bids]'") from None
    if not (root / "dataset_description.json").is_file():
        raise RobustEvalError(
            f"dataset.path: {root / 'dataset_description.json'} not found: the root of a BIDS dataset has one "
            '(e.g. {"Name": "my study", "BIDSVersion": "1.9.0"})'
        )
    try:
        return BIDSLayout(root, validate=True, derivatives=False)
    except BIDSValidationError as exc:
        raise RobustEvalError(f"dataset.path: {' '.join(str(exc).split())}") from None
    except (OSError, ValueError) as exc:  # e.g. a sidecar that is not JSON (pybids names the file)
        cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
        raise RobustEvalError(f"dataset.path: cannot index the BIDS dataset {root}: {exc}{cause}") from None


def _scalar(value: Any) -> MetadataValue:
    if value is None or isinstance(value, str | int | float):
        return value
    return json.dumps(value)


def _scanner(sidecar: Mapping[str, Any]) -> str:
    field = sidecar.get("MagneticFieldStrength")
    parts = [str(sidecar[k]) for k in ("Manufacturer", "ManufacturersModelName") if sidecar.get(k)]
    if isinstance(field, int | float):
        parts.append(f"{field:g}T")
    return " ".join(parts) or "unknown"


def _label_path(root: Path, pattern: str, entities: Mapping[str, Any]) -> Path | None:
    from bids.layout.writing import build_path

    built = build_path({k: v for k, v in entities.items() if k not in ("suffix", "extension")}, pattern)
    return None if built is None else resolve_under(built, root)


def bids_source(spec: DatasetSpec, cache_dir: Path) -> list[CaseRecord]:
    """The subjects (and sessions) of a raw BIDS dataset with labels in a derivatives folder (module doc)."""
    params = check_params(spec, _PARAMS)
    if spec.path is None or not spec.path.is_dir():
        raise RobustEvalError("dataset.path: a bids source needs the dataset's root folder (dataset_description.json)")
    root = spec.path
    pattern = params.get("label", DEFAULT_LABEL_PATTERN)
    if not isinstance(pattern, str) or "{subject}" not in pattern:
        raise FieldError(
            ("dataset", "params", "label"), f"{pattern!r} has no {{subject}}: every case would read the same file"
        )
    suffixes = _suffixes(params, spec.modalities)
    filters = params.get("entities", {})
    if not isinstance(filters, Mapping) or not all(isinstance(f, Mapping) for f in filters.values()):
        raise FieldError(
            ("dataset", "params", "entities"), f"expected {{modality: {{entity: value}}}}, got {filters!r}"
        )
    unknown = sorted(set(filters) - set(suffixes))
    if unknown:
        raise FieldError(
            ("dataset", "params", "entities"), f"{unknown} are not among dataset.modalities {list(suffixes)}"
        )
    fields = params.get("sidecar_fields", list(DEFAULT_SIDECAR_FIELDS))
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise FieldError(("dataset", "params", "sidecar_fields"), f"expected a list of field names, got {fields!r}")
    site_column = str(params.get("site_column", "site"))
    ignore = params.get("ignore_value")
    try:
        values = tuple(int(v) for v in params.get("label_values", (0, 1) if ignore is None else (0, 1, ignore)))
        ignore = None if ignore is None else int(ignore)
    except (TypeError, ValueError):
        raise FieldError(
            ("dataset", "params"), f"label_values and ignore_value must be integers, got {params}"
        ) from None

    layout = _layout(root)
    participants_tsv = root / "participants.tsv"
    participants = read_participants(participants_tsv) if participants_tsv.is_file() else {}
    found: dict[CaseKey, dict[str, list[Any]]] = {}
    for m, suffix in suffixes.items():
        try:
            images_found = layout.get(datatype="anat", suffix=suffix, extension=_EXTENSIONS, **filters.get(m, {}))
        except ValueError as exc:  # an entity pybids does not know
            raise FieldError(("dataset", "params", "entities", m), str(exc)) from None
        for f in images_found:
            ents = f.get_entities()
            key = (str(ents["subject"]), None if ents.get("session") is None else str(ents["session"]))
            found.setdefault(key, {n: [] for n in suffixes})[m].append(f)
    if not found:
        wanted = ", ".join(f"*_{s}.nii[.gz]" for s in suffixes.values())
        raise RobustEvalError(f"dataset.path: no sub-*/[ses-*/]anat/ image ({wanted}) under {root}")
    for m, suffix in suffixes.items():
        if not any(files[m] for files in found.values()):
            raise FieldError(
                ("dataset", "modalities"),
                f"no case under {root} has an anat *_{suffix}.nii[.gz] image for modality {m!r}"
                + (f" matching {dict(filters[m])}" if filters.get(m) else "")
                + "; give dataset.params.suffixes (and entities) to name its files",
            )

    records = []
    labels: list[Path] = []
    for (subject, session), files in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        case_id = f"sub-{subject}" + (f"_ses-{session}" if session is not None else "")
        subject_id = f"sub-{subject}"
        folder = root / subject_id / (f"ses-{session}" if session is not None else "") / "anat"
        problems = []
        for m, suffix in suffixes.items():
            if not files[m]:
                problems.append(f"{m}: no {case_id}_*{suffix}.nii[.gz] in {folder}")
            elif len(files[m]) > 1:
                names = sorted(Path(f.path).name for f in files[m])
                problems.append(f"{m}: {len(names)} images {names}; choose one with dataset.params.entities")
        # the first modality's image (else another's: a case is listed because it has one) names the label
        primary = next(fs for fs in (files[spec.modalities[0]], *files.values()) if fs)[0]
        sidecar: dict[str, Any] = dict(layout.get_metadata(primary.path))
        label = _label_path(root, pattern, primary.get_entities())
        if label is None:
            problems.append(f"label: the pattern {pattern!r} needs an entity that {case_id} does not have")
        else:
            labels.append(label)
        meta: dict[str, MetadataValue] = {"session": session}
        meta.update(participants.get(subject_id, {}))
        meta.update({f: _scalar(sidecar.get(f)) for f in fields})
        site_cell, scanner_value = meta.pop("site", None), meta.pop("scanner", None)  # fields, not metadata
        site_value = site_cell if site_column == "site" else meta.get(site_column)
        if site_value is None:
            site_value = sidecar.get(site_column)
        site = "unknown" if site_value is None else str(site_value)
        scanner = _scanner(sidecar) if scanner_value is None else str(scanner_value)
        images = {m: Path(fs[0].path) for m, fs in files.items() if len(fs) == 1}
        loader: Callable[[], Case]
        if problems:
            loader = functools.partial(_fail, "; ".join(problems))
        else:
            assert label is not None
            loader = functools.partial(
                load_case,
                case_id=case_id,
                subject_id=subject_id,
                site=site,
                scanner=scanner,
                images=images,
                label=label,
                label_values=values,
                ignore_value=ignore,
                metadata=meta,
            )
        read = (*images.values(), *([label] if label is not None else []))
        records.append(CaseRecord(case_id, subject_id, site, scanner, spec.partition, loader, meta, read))
    if labels and not any(p.is_file() for p in labels):
        raise FieldError(
            ("dataset", "params", "label"),
            f"no case has a label: the pattern {pattern!r} names files such as {labels[0]}, which do not exist",
        )
    return records
