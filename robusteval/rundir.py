"""The run folder: what a run writes, under which names, and the one reader and writer of each file.

A run folder (``run --out DIR``) is the contract between producing a run and reading it: the run writes every
file below; the report (:mod:`robusteval.report`) reads them and nothing else. Later versions add columns,
keys and files, never rename them.

======================  ===================================================================================
``.robusteval``         marker: the folder is robusteval's (:data:`robusteval.paths.MARKER`)
``cases.csv``           one row per (model, case, condition): :data:`RESULT_COLUMNS` then one column per metric
``items.jsonl``         finished work units, for resuming (:class:`robusteval.engine.store.ItemStore`)
``summary.json``        protocol as run, provenance, counts, ``metrics`` (unit and direction of each), the
                        statistics' records, efficiency profiles, search results
``data_preview.png``    one case per site (drawn by the run: the folder keeps no volumes)
``gallery.png``         each shift condition at each severity on one ID case
``examples/``           ``worst_case.png``, ``median_case.png``, ``search_worst_<i>.png``
``search/``             Ray Tune experiments of a ``search:`` block (resumed by a rerun)
``index.html``          the report, rendered from the files above
``.report-figures/``    the report's charts as PNG, keyed by a hash of their inputs and drawing code: a re-render
                        with unchanged records and code embeds them (removing the folder only costs time)
======================  ===================================================================================

pandas is imported by the functions that read or write tables, so that importing the names stays cheap.
"""

from __future__ import annotations

__all__ = [
    "CASES",
    "DATA_PREVIEW",
    "EXAMPLES_DIR",
    "FIGURE_CACHE",
    "GALLERY",
    "HUMAN_FAMILY",
    "IMAGE_ORIENTATION",
    "INDEX",
    "ITEMS",
    "MAX_IMAGE_WIDTH_PX",
    "NUMERIC_COLUMNS",
    "PNG_SIGNATURE",
    "REQUIRED_COLUMNS",
    "RESULT_COLUMNS",
    "SEARCH_DIR",
    "STRING_COLUMNS",
    "SUMMARY",
    "TIMING_COLUMNS",
    "CheckRecord",
    "MetricFacts",
    "example_png",
    "read_cases",
    "read_run",
    "read_summary",
    "search_example_png",
    "write_cases",
    "write_summary",
]

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from robusteval.errors import RobustEvalError
from robusteval.serialize import json_safe
from robusteval.status import STATUSES, status_counts

if TYPE_CHECKING:
    import pandas as pd

CASES = "cases.csv"
SUMMARY = "summary.json"
ITEMS = "items.jsonl"
INDEX = "index.html"
DATA_PREVIEW = "data_preview.png"
GALLERY = "gallery.png"
EXAMPLES_DIR = "examples"
SEARCH_DIR = "search"
FIGURE_CACHE = ".report-figures"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_ORIENTATION = "axial slices, RAS by the header, radiological view (R on the left, anterior up)"
"""How every image of a volume in the folder is drawn (:mod:`robusteval.viz`); its title and caption say so."""
MAX_IMAGE_WIDTH_PX = 1132
"""The widest image the report shows at its own size (100 %): the page's column. The run's images and the
report's charts are drawn no wider, so that their labels keep the size they were drawn at."""

HUMAN_FAMILY = "human"
"""The model family of the human baseline (a second rater scored as a model): shown, never ranked."""

RESULT_COLUMNS = (
    "model",
    "family",
    "case_id",
    "subject_id",
    "site",
    "scanner",
    "split",
    "shift",
    "shift_family",
    "severity",
    "seed",
    "status",
    "error",
    "shift_params",
    "metric_notes",
    "fov_diagonal_mm",
)
"""The columns of ``cases.csv`` before the metric columns (the protocol's ``metrics.panel``, in order)."""

TIMING_COLUMNS = ("inference_s", "shift_s", "worker")
"""Measured, not computed: kept in ``items.jsonl`` and summarized in ``summary.json``, never in ``cases.csv``,
so that ``cases.csv`` is identical between engines and between an interrupted-and-resumed and a whole run."""

NUMERIC_COLUMNS = ("severity", "seed", "fov_diagonal_mm")
STRING_COLUMNS = tuple(c for c in RESULT_COLUMNS if c not in NUMERIC_COLUMNS)
"""Identifier and text columns: read as written (a case named ``NA`` stays ``NA``), empty as ``""``."""

REQUIRED_COLUMNS = ("model", "family", "case_id", "site", "split", "shift", "shift_family", "severity", "status")
"""What a ``cases.csv`` must have to be read as one."""


class MetricFacts(TypedDict):
    """summary.json ``metrics[<name>]``: what the report needs to know of a metric, without its registry."""

    unit: str  # "mm", "ml" or "" (unitless)
    higher_is_better: bool | None  # None: descriptive (a volume), no better or worse
    descriptive: bool
    doc: str


class CheckRecord(TypedDict):
    """summary.json ``checks[]``: one check of one model (``status``: a :class:`robusteval.status.CheckStatus`)."""

    check: str  # the check as one line, e.g. ``ood_drop(metric=dsc, max=0.05)``
    kind: str
    metric: str
    model: str | None
    status: str
    value: float | None
    threshold: float | None
    ci_low: float | None
    ci_high: float | None
    message: str  # a sentence with the numbers, or why the check could not be computed
    n_units: NotRequired[int]  # independent units behind an interval (ood_drop)
    clustered: NotRequired[bool]  # whether subjects, not cases, were the units


_AS_READ = {*STRING_COLUMNS, "severity", "seed", *TIMING_COLUMNS}


def example_png(kind: str) -> str:
    """``examples/<kind>_case.png`` (``worst``, ``median``), relative to the run folder."""
    return f"{EXAMPLES_DIR}/{kind}_case.png"


def search_example_png(index: int) -> str:
    """``examples/search_worst_<index>.png``: the worst-case search's finding for its ``index``-th model."""
    return f"{EXAMPLES_DIR}/search_worst_{index}.png"


def write_cases(out_dir: Path, rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> pd.DataFrame:
    """Write ``cases.csv``: :data:`RESULT_COLUMNS` then ``metrics``, in ``rows``' order; returns the table."""
    import pandas as pd

    cases = pd.DataFrame(list(rows), columns=[*RESULT_COLUMNS, *metrics])
    cases.to_csv(out_dir / CASES, index=False)
    return cases


def read_cases(path: Path) -> pd.DataFrame:
    """``cases.csv`` with identifier columns kept as written (``"NA"`` stays a name) and metrics as floats."""
    import pandas as pd

    header = pd.read_csv(path, nrows=0).columns
    dtypes = {c: str for c in STRING_COLUMNS if c in header}
    cases = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    for c in dtypes:
        cases[c] = cases[c].fillna("")
    for c in cases.columns:
        if c not in _AS_READ:
            cases[c] = pd.to_numeric(cases[c], errors="coerce")
    if "severity" in cases:
        cases["severity"] = pd.to_numeric(cases["severity"], errors="coerce")
    return cases


def write_summary(out_dir: Path, summary: Mapping[str, Any]) -> None:
    """Write ``summary.json`` (NaN and infinities as null, indented, one trailing newline)."""
    (out_dir / SUMMARY).write_text(json.dumps(json_safe(dict(summary)), indent=2) + "\n", encoding="utf-8")


def _unreadable(path: Path, exc: Exception) -> RobustEvalError:
    reason = " ".join(str(exc).split())
    return RobustEvalError(f"{path}: unreadable ({reason}); it is truncated or corrupt, rerun the protocol")


def read_summary(run_dir: Path) -> dict[str, Any]:
    """``summary.json`` as a dict; a RobustEvalError naming the file when it is unreadable or not an object."""
    path = run_dir / SUMMARY
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _unreadable(path, exc) from None
    if not isinstance(summary, dict):
        raise RobustEvalError(f"{path}: not a robusteval summary (a JSON {type(summary).__name__}, not an object)")
    return summary


def read_run(run_dir: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """summary.json and cases.csv, checked against each other: a RobustEvalError naming the file when either
    is unreadable, or when cases.csv's rows are not the ones summary.json counted (truncated, cut or edited)."""
    import pandas as pd

    summary = read_summary(run_dir)
    path = run_dir / CASES
    try:
        cases = read_cases(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _unreadable(path, exc) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in cases.columns]
    if missing:
        raise RobustEvalError(f"{path}: no column(s) {', '.join(missing)}; is this a robusteval cases.csv?")
    counts = summary.get("counts") or {}
    recorded = counts.get("rows")
    if isinstance(recorded, int) and recorded != len(cases):
        raise RobustEvalError(
            f"{path} has {len(cases)} rows but {run_dir / SUMMARY} counted {recorded}: one of them is "
            "truncated or from another run; rerun the protocol into this folder to rewrite both"
        )
    bad = cases.index[~cases["status"].isin(STATUSES)]
    if len(bad):
        raise RobustEvalError(
            f"{path}: line {int(bad[0]) + 2} has status {cases.loc[bad[0], 'status']!r}, not one of "
            f"{', '.join(STATUSES)}; the file is cut or corrupt, rerun the protocol"
        )
    counted = status_counts(cases["status"])
    for status in STATUSES:  # summary.json's counts of each status (older runs have only some) = cases.csv's
        recorded = counts.get(status)
        if isinstance(recorded, int) and recorded != counted[status]:
            raise RobustEvalError(
                f"{path} has {counted[status]} {status} rows but {run_dir / SUMMARY} counted {recorded}: "
                "one of them was edited or is from another run; rerun the protocol into this folder to rewrite both"
            )
    return summary, cases
