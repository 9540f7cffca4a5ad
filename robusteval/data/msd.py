"""Medical Segmentation Decathlon / nnU-Net raw datasets (``source: msd``).

Layout (``path`` is the folder holding ``dataset.json``)::

    dataset.json            channel_names (nnU-Net v2) or modality (MSD, nnU-Net v1): {"0": "FLAIR", ...}
                            labels: {"background": 0, "wmh": 1[, "ignore": 2]} (v2)
                                    or {"0": "background", "1": "wmh"} (MSD, v1)
                            file_ending (v2, default ".nii.gz")
    imagesTs/<case>_0000.nii.gz, <case>_0001.nii.gz, ...    one file per channel (nnU-Net), or
    imagesTs/<case>.nii.gz                                  one 4D file, channels on the last axis (MSD)
    labelsTs/<case>.nii.gz

``partition: test`` reads ``imagesTs``/``labelsTs``, ``partition: train`` reads ``imagesTr``/``labelsTr``.
Channel ``i`` maps to the protocol modality whose name equals the channel name case-insensitively; when no
channel name matches a modality and there are as many channels as modalities, they map by order. Label: the
one foreground class (or ``params.foreground``) is the reference; an nnU-Net ``ignore`` label becomes the
ignore mask. Cases are the union of the case names in the image and label folders, so a case with a missing
file is listed and fails alone.

``params``: ``channels`` ({modality: index}, overrides the names), ``foreground`` (label value(s) of the
reference), ``site``, ``scanner`` (for every case; default "unknown"), ``metadata`` (a CSV with ``case_id``
and any columns, relative to ``path``; rows of other cases are ignored; its ``site``, ``scanner`` and
``subject_id`` columns set those fields).
"""

from __future__ import annotations

__all__ = ["channel_map", "msd_source", "read_dataset_json"]

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from robusteval.data.case import CaseRecord
from robusteval.data.loading import ImageSource, load_case
from robusteval.data.metadata import MetadataValue, read_metadata_table
from robusteval.data.options import check_params, resolve_under
from robusteval.errors import RobustEvalError
from robusteval.protocol.schema import DatasetSpec

_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")
_FOLDERS = {"test": ("imagesTs", "labelsTs"), "train": ("imagesTr", "labelsTr")}


def read_dataset_json(root: Path) -> dict[str, Any]:
    """The parsed ``dataset.json`` of an MSD / nnU-Net dataset folder."""
    path = root / "dataset.json"
    if not path.is_file():
        raise RobustEvalError(f"dataset.path: {root} has no dataset.json (expected an MSD / nnU-Net dataset)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RobustEvalError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise RobustEvalError(f"{path}: expected a JSON object")
    return data


def channel_map(
    channel_names: Mapping[int, str], modalities: list[str], explicit: Mapping[str, int] | None
) -> dict[str, int]:
    """Protocol modality -> channel index: ``explicit``, else by name (case-insensitive), else by order."""
    if explicit:
        missing = [m for m in modalities if m not in explicit]
        bad = {m: i for m, i in explicit.items() if int(i) not in channel_names}
        if missing or bad:
            raise RobustEvalError(
                f"dataset.params.channels: no channel for {missing} or unknown index {bad}; "
                f"channels: {dict(channel_names)}"
            )
        return {m: int(explicit[m]) for m in modalities}
    by_name = {name.lower(): i for i, name in channel_names.items()}
    matched = {m: by_name[m.lower()] for m in modalities if m.lower() in by_name}
    if len(matched) == len(modalities):
        return matched
    if not matched and len(channel_names) == len(modalities):
        return {m: i for m, i in zip(modalities, sorted(channel_names), strict=True)}
    raise RobustEvalError(
        f"dataset.modalities {modalities} do not match the channel names {dict(channel_names)}; "
        "rename the modalities or give dataset.params.channels: {modality: index}"
    )


def _labels(info: dict[str, Any], foreground: Any) -> tuple[tuple[int, ...], int | None, tuple[int, ...]]:
    """(allowed label values, ignore value, foreground values) from dataset.json's ``labels``."""
    labels = info.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise RobustEvalError("dataset.json: no 'labels' mapping")
    named: dict[str, int] = {}
    for k, v in labels.items():
        if isinstance(v, int | str) and str(v).lstrip("-").isdigit() and not str(k).lstrip("-").isdigit():
            named[str(k)] = int(v)  # nnU-Net v2: {"name": value}
        elif str(k).lstrip("-").isdigit() and isinstance(v, str):
            named[v] = int(k)  # MSD / v1: {"value": "name"}
        else:
            raise RobustEvalError(f"dataset.json: label {k!r}: {v!r} is not supported (region labels?)")
    ignore = named.pop("ignore", None)
    background = {v for n, v in named.items() if n.lower() == "background" or v == 0}
    classes = sorted(set(named.values()) - background)
    if foreground is None:
        if len(classes) != 1:
            raise RobustEvalError(
                f"dataset.json declares {len(classes)} foreground classes {named}; "
                "give dataset.params.foreground: the label value(s) of the reference"
            )
        fg: tuple[int, ...] = (classes[0],)
    else:
        fg = tuple(int(v) for v in (foreground if isinstance(foreground, list | tuple) else [foreground]))
    allowed = tuple(sorted({*named.values(), *([] if ignore is None else [ignore])}))
    return allowed, ignore, fg


def _case_files(folder: Path, ending: str) -> dict[str, dict[int | None, Path]]:
    """case name -> {channel index (None: one unsuffixed file): path} for the files in ``folder``."""
    cases: dict[str, dict[int | None, Path]] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not path.name.endswith(ending) or path.name.startswith("."):
            continue
        stem = path.name[: -len(ending)]
        m = _CHANNEL.match(stem)
        case, channel = (m["case"], int(m["channel"])) if m else (stem, None)
        cases.setdefault(case, {})[channel] = path
    return cases


def msd_source(spec: DatasetSpec, cache_dir: Path) -> list[CaseRecord]:
    """The cases of an MSD / nnU-Net raw dataset folder (see the module doc)."""
    params = check_params(spec, {"channels", "foreground", "site", "scanner", "metadata"})
    if spec.path is None:
        raise RobustEvalError("dataset.path: an msd source needs the dataset folder (with dataset.json)")
    root = spec.path.parent if spec.path.name == "dataset.json" else spec.path
    info = read_dataset_json(root)
    names = info.get("channel_names") or info.get("modality")
    if not isinstance(names, dict) or not names:
        raise RobustEvalError(f"{root / 'dataset.json'}: no 'channel_names' (or 'modality') mapping")
    channel_names = {int(k): str(v) for k, v in names.items()}
    channels = channel_map(channel_names, spec.modalities, params.get("channels"))
    label_values, ignore, foreground = _labels(info, params.get("foreground"))
    ending = str(info.get("file_ending", ".nii.gz"))
    if ending not in (".nii.gz", ".nii"):
        raise RobustEvalError(f"dataset.json: file_ending {ending!r} is not supported (use .nii.gz or .nii)")
    if spec.partition not in _FOLDERS:
        raise RobustEvalError(f"dataset.partition: {spec.partition!r}; an msd dataset has 'test' or 'train'")
    images_dir, labels_dir = (root / f for f in _FOLDERS[spec.partition])
    if not labels_dir.is_dir():
        raise RobustEvalError(
            f"{labels_dir} not found: evaluation needs reference labels (the Decathlon withholds its test "
            "labels; use partition: train, or add the labels)"
        )
    images = _case_files(images_dir, ending)
    labels = {case: files[None] for case, files in _case_files(labels_dir, ending).items() if None in files}
    extra = read_metadata_table(resolve_under(params["metadata"], root)) if "metadata" in params else {}
    n_channels = len(names)
    records = []
    for case in sorted(set(images) | set(labels)):
        files = images.get(case, {})
        sources: dict[str, ImageSource]
        if None in files and not any(k is not None for k in files):  # MSD: one (4D) file per case
            single = files[None]
            sources = {m: single if n_channels == 1 else (single, i) for m, i in channels.items()}
        else:
            sources = {m: files.get(i, images_dir / f"{case}_{i:04d}{ending}") for m, i in channels.items()}
        meta: dict[str, MetadataValue] = {"dataset": str(info.get("name", root.name))}
        meta.update(extra.get(case, {}))
        site = str(meta.pop("site", None) or params.get("site", "unknown"))
        scanner = str(meta.pop("scanner", None) or params.get("scanner", "unknown"))
        subject = str(meta.pop("subject_id", None) or case)
        loader = functools.partial(
            load_case,
            case_id=case,
            subject_id=subject,
            site=site,
            scanner=scanner,
            images=sources,
            label=labels.get(case, labels_dir / f"{case}{ending}"),
            label_values=label_values,
            ignore_value=ignore,
            foreground=foreground,
            metadata=meta,
        )
        read = (*loader.keywords["images"].values(), loader.keywords["label"])
        records.append(CaseRecord(case, subject, site, scanner, spec.partition, loader, meta, read))
    if not records:
        raise RobustEvalError(f"{images_dir}: no *{ending} case found")
    return records
