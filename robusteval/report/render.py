"""Render ``index.html`` from a run dir's ``summary.json`` and ``cases.csv`` (no recomputation).

jinja2 with autoescape on: every user-supplied string (model, case, site, shift names) is escaped. Figures are
embedded as PNG data URIs, so the report is one file that needs no network. Each section is built by one
``_section_*`` function from the run's records; a section whose inputs are absent carries a one-line
``missing`` reason instead of vanishing. Optional run-dir files are embedded when present: ``examples/*.png``,
``gallery.png`` (shift x severity gallery) and ``data_preview.png`` (dataset preview).

The human baseline (models of family ``human``: a second rater scored against the reference) is shown in every
table and figure beside the models, named ``human baseline (<name>)`` in comparisons and drawn grey / dashed,
but it is never ranked among them: the verdict's best-model and best-family statements concern the models.
"""

from __future__ import annotations

__all__ = [
    "DATA_PREVIEW",
    "GALLERY",
    "SECTIONS",
    "build_context",
    "fmt_ci",
    "fmt_count",
    "fmt_num",
    "fmt_p",
    "render_report",
]

import base64
import json
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from matplotlib.figure import Figure

from robusteval.errors import RobustEvalError
from robusteval.protocol.schema import HUMAN_FAMILY
from robusteval.report import figures as F
from robusteval.status import FAILED, OK, STATUSES, UNAVAILABLE, status_counts

TEMPLATES = Path(__file__).parent / "templates"
SECTIONS = (
    ("verdict", "Verdict"),
    ("id-vs-ood", "In distribution vs out of distribution"),
    ("degradation", "Degradation under shifts"),
    ("differences", "Paired differences"),
    ("distributions", "Distributions, significance and rank stability"),
    ("lesion-size", "Small vs large lesions"),
    ("label-noise", "Label noise"),
    ("efficiency", "Efficiency"),
    ("examples", "Examples"),
    ("data", "Data"),
    ("provenance", "Provenance"),
)
"""(anchor, title) of the report's sections, in order."""

SIZE_BINS = {"lesion_recall_small": "small", "lesion_recall_medium": "medium", "lesion_recall_large": "large"}
STRING_COLUMNS = (
    "model",
    "family",
    "case_id",
    "subject_id",
    "site",
    "scanner",
    "split",
    "shift",
    "shift_family",
    "status",
    "error",
    "shift_params",
    "metric_notes",
)
NON_METRIC_COLUMNS = {*STRING_COLUMNS, "severity", "seed", "inference_s"}
MAX_EMBED_BYTES = 3 * 2**20
MAX_FAILED_LISTED = 300
MAX_FOREST_ROWS = 48
MAX_EXTRA_DEGRADATION_METRICS = 3
DATA_PREVIEW = "data_preview.png"
GALLERY = "gallery.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EFFICIENCY_FIELDS = (
    ("parameters", "parameters", "count"),
    ("flops", "FLOPs / forward", "count"),
    ("flops_per_case", "FLOPs / case", "count"),
    ("latency_s", "latency (s)", "num"),
    ("peak_memory_mib", "peak memory (MiB)", "num"),
    ("peak_memory_mb", "peak memory (MB)", "num"),
    ("energy_j", "energy (J)", "num"),
    ("energy_kwh", "energy (kWh)", "num"),
    ("co2_g", "CO2-eq (g)", "num"),
)


# --- formatting -------------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    """None or a float NaN (how pandas and JSON spell an absent site)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _finite(value: Any) -> bool:
    """A real number (numpy scalars included, booleans not) that is finite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def fmt_num(value: Any) -> str:
    """A metric value: 3 decimals below 10, fewer above; ``n/a`` for missing or non-finite values."""
    if not _finite(value):
        return "n/a" if value is None or isinstance(value, float) else str(value)
    v = float(value)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    if abs(v) >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_p(value: Any) -> str:
    """A p-value: ``<0.001`` or three decimals; ``n/a`` when not tested."""
    if not _finite(value):
        return "n/a"
    return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def fmt_ci(low: Any, high: Any) -> str:
    """``[low, high]``, or ``no CI`` when either bound is missing."""
    return f"[{fmt_num(low)}, {fmt_num(high)}]" if _finite(low) and _finite(high) else "no CI"


def fmt_count(value: Any) -> str:
    """Large counts with an SI suffix (``31.0 M``, ``1.20 G``)."""
    if not _finite(value):
        return "n/a"
    v = float(value)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g} {suffix}"
    return f"{v:g}"


def _fmt_rank(value: Any) -> str:
    return f"{float(value):g}" if _finite(value) else "n/a"


def _fmt_any(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return fmt_num(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


# --- the run ----------------------------------------------------------------------------------------------


def _hashable(value: Any) -> Any:
    """A dict key for a record field value (lists become tuples)."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True)
class _Run:
    """A run dir's contents, plus the orderings every section shares."""

    dir: Path
    summary: dict[str, Any]
    cases: pd.DataFrame
    cells: pd.DataFrame
    headline: str
    metrics: list[str]
    models: list[str]  # best in distribution first
    families: dict[str, str]
    ood_sites: list[str]
    level: float
    correction: str
    noise_shifts: frozenset[str]
    human: dict[str, str] = field(default_factory=dict)  # human baseline model -> its annotation's name

    _index: dict[Any, dict[Any, list[dict[str, Any]]]] = field(default_factory=dict, compare=False, repr=False)

    def records(self, key: str, kind: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """The ``summary[key]`` records of ``kind`` whose fields equal ``match``.

        Sections ask thousands of times, so the records are grouped once per (key, kind, matched fields).
        """
        names = tuple(sorted(match))
        index_key = (key, kind, names)
        if index_key not in self._index:
            groups: dict[Any, list[dict[str, Any]]] = {}
            for r in self.summary.get(key) or []:
                if isinstance(r, dict) and (kind is None or r.get("kind") == kind):
                    groups.setdefault(tuple(_hashable(r.get(n)) for n in names), []).append(r)
            self._index[index_key] = groups
        return list(self._index[index_key].get(tuple(_hashable(match[n]) for n in names), []))

    def hib(self, metric: str) -> bool:
        """Whether higher is better for ``metric`` (the data record, else the registry, else True)."""
        for r in self.records("data", "summary"):
            if r.get(f"higher_is_better:{metric}") is not None:
                return bool(r[f"higher_is_better:{metric}"])
        from robusteval.metrics import METRICS

        return bool(METRICS.get(metric).higher_is_better) if metric in METRICS else True

    def descriptive(self, metric: str) -> bool:
        """Whether ``metric`` describes a case (a volume) rather than scores it: no better or worse."""
        for r in self.records("data", "summary"):
            if f"descriptive:{metric}" in r:
                return bool(r[f"descriptive:{metric}"])
        return _descriptive(metric)

    def sign(self, metric: str) -> float:
        return 1.0 if self.hib(metric) else -1.0

    def name(self, model: str) -> str:
        """A model as comparisons name it: ``human baseline (rater2)`` for the human baseline."""
        return F.model_label(model, self.human)

    def family_of(self, model: str) -> str:
        """A model's family for tables: ``human baseline`` for family ``human``."""
        family = self.families.get(model, "?")
        return "human baseline" if family == HUMAN_FAMILY else family

    def direction(self, metric: str) -> str:
        if self.descriptive(metric):
            return "descriptive: no better or worse"
        return "higher is better" if self.hib(metric) else "lower is better"

    def label(self, shift: Any, severity: Any, split: Any = "ood", site: Any = None) -> str:
        """Display label of a condition: ``ID clean``, ``site B``, ``OOD sites (pooled)``, ``motion@2``."""
        if shift == "clean":
            if split == "id":
                return "ID clean"
            if not _missing(site):
                return f"site {site}"
            return f"site {self.ood_sites[0]}" if len(self.ood_sites) == 1 else "OOD sites (pooled)"
        sev = float(severity) if _finite(severity) else math.nan
        return f"{shift}@{int(sev) if sev.is_integer() else sev:g}" if math.isfinite(sev) else str(shift)

    def label_of(self, rec: Mapping[str, Any]) -> str:
        return self.label(rec.get("shift"), rec.get("severity"), rec.get("split", "ood"), rec.get("site"))

    def order_key(self, rec: Mapping[str, Any]) -> tuple[int, str, float]:
        """ID clean, pooled sites, single sites, simulated shifts, then label noise."""
        shift = rec.get("shift")
        if shift == "clean":
            if rec.get("split", "ood") == "id":
                return (0, "", 0.0)
            site = rec.get("site")
            return (1, "", 0.0) if _missing(site) else (2, str(site), 0.0)
        noise = rec.get("shift_family") == "label_noise" or str(shift) in self.noise_shifts
        sev = float(rec["severity"]) if _finite(rec.get("severity")) else 0.0
        return (4 if noise else 3, str(shift), sev)

    def key_conditions(self, recs: Iterable[Mapping[str, Any]]) -> list[str]:
        """Labels of ID clean, the OOD sites (pooled) and each simulated shift at its highest severity."""
        keep: dict[str, tuple[int, str, float]] = {}
        top: dict[str, float] = {}
        for r in recs:
            key = self.order_key(r)
            if key[0] == 4 or key[0] == 2:
                continue
            if key[0] == 3:
                if key[2] < top.get(key[1], -math.inf):
                    continue
                top[key[1]] = key[2]
                keep = {k: v for k, v in keep.items() if not (v[0] == 3 and v[1] == key[1])}
            keep[self.label_of(r)] = key
        return sorted(keep, key=lambda k: keep[k])


def _read_cases(path: Path) -> pd.DataFrame:
    """cases.csv with identifier columns kept as written (``"NA"`` stays a name) and metrics as floats."""
    header = pd.read_csv(path, nrows=0).columns
    dtypes = {c: str for c in STRING_COLUMNS if c in header}
    cases = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    for c in dtypes:
        cases[c] = cases[c].fillna("")
    for c in cases.columns:
        if c not in NON_METRIC_COLUMNS:
            cases[c] = pd.to_numeric(cases[c], errors="coerce")
    if "severity" in cases:
        cases["severity"] = pd.to_numeric(cases["severity"], errors="coerce")
    return cases


REQUIRED_COLUMNS = ("model", "family", "case_id", "site", "split", "shift", "shift_family", "severity", "status")


def _read_run(run_dir: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """summary.json and cases.csv, checked against each other: a RobustEvalError naming the file when either
    is unreadable, or when cases.csv's rows are not the ones summary.json counted (truncated, cut or edited)."""

    def unreadable(path: Path, exc: Exception) -> RobustEvalError:
        reason = " ".join(str(exc).split())
        return RobustEvalError(f"{path}: unreadable ({reason}); it is truncated or corrupt, rerun the protocol")

    path = run_dir / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise unreadable(path, exc) from None
    if not isinstance(summary, dict):
        raise RobustEvalError(f"{path}: not a robusteval summary (a JSON {type(summary).__name__}, not an object)")
    path = run_dir / "cases.csv"
    try:
        cases = _read_cases(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise unreadable(path, exc) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in cases.columns]
    if missing:
        raise RobustEvalError(f"{path}: no column(s) {', '.join(missing)}; is this a robusteval cases.csv?")
    recorded = (summary.get("counts") or {}).get("rows")
    if isinstance(recorded, int) and recorded != len(cases):
        raise RobustEvalError(
            f"{path} has {len(cases)} rows but {run_dir / 'summary.json'} counted {recorded}: one of them is "
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
        recorded = (summary.get("counts") or {}).get(status)
        if isinstance(recorded, int) and recorded != counted[status]:
            raise RobustEvalError(
                f"{path} has {counted[status]} {status} rows but {run_dir / 'summary.json'} counted {recorded}: "
                "one of them was edited or is from another run; rerun the protocol into this folder to rewrite both"
            )
    return summary, cases


def _load(run_dir: Path) -> _Run:
    summary, cases = _read_run(run_dir)
    cells = pd.DataFrame(summary.get("cells") or [])
    protocol = summary.get("protocol") or {}
    settings = (summary.get("settings") or [{}])[0]
    report = protocol.get("report") or {}
    headline = str(report.get("headline_metric") or settings.get("headline_metric", "dsc"))
    panel = list((protocol.get("metrics") or {}).get("panel") or settings.get("metrics") or [])
    metrics = [headline, *[m for m in panel if m != headline]] if headline in panel else panel
    families: dict[str, str] = {}
    if len(cases):
        families = {str(m): str(f) for m, f in cases.groupby("model")["family"].first().items()}
    for r in summary.get("cells") or []:
        families.setdefault(str(r.get("model")), str(r.get("family")))
    site_split = (cases["shift"] == "clean") & (cases["split"] != "id")
    ood_sites = sorted({str(s) for s in cases.loc[site_split, "site"]})
    statistics = protocol.get("statistics") or {}
    level = float(settings.get("confidence_level") or statistics.get("confidence_level", 0.95))
    human = {m: _annotation_of(protocol, m) for m, f in families.items() if f == HUMAN_FAMILY}
    run = _Run(
        run_dir,
        summary,
        cases,
        cells,
        headline,
        metrics,
        sorted(families),
        families,
        ood_sites,
        level,
        str(settings.get("multiple_testing") or "holm"),
        frozenset(cases.loc[cases["shift_family"] == "label_noise", "shift"]),
        human,
    )
    id_means = _id_means(run, headline)
    sign = run.sign(headline)
    ordered = sorted(run.models, key=lambda m: (m in human, *_rank_key(m, id_means, sign)))
    return replace(run, models=ordered)


def _annotation_of(protocol: Mapping[str, Any], model: str) -> str:
    """The rater a human-baseline model stands for: its ``rater`` adapter's annotation, else its own name."""
    spec = next((m for m in protocol.get("models") or [] if isinstance(m, dict) and m.get("name") == model), {})
    if spec.get("adapter") == "rater":
        return str((spec.get("params") or {}).get("annotation", "rater2"))
    return model


def _rank_key(model: str, means: Mapping[str, Mapping[str, Any]], sign: float) -> tuple[float, str]:
    """Sort key: best mean first (by direction), models without a mean last, then by name."""
    return (-sign * float(means[model]["mean"]) if model in means else math.inf, model)


def _id_means(run: _Run, metric: str) -> dict[str, dict[str, Any]]:
    """model -> the ID clean cell record of ``metric`` (finite means only)."""
    return {
        str(r["model"]): r
        for r in run.records("cells", metric=metric, shift="clean", split="id", site=None)
        if _finite(r.get("mean"))
    }


def _figure(fig: Figure | None, title: str, alt: str | None = None) -> dict[str, str] | None:
    return None if fig is None else {"uri": F.figure_to_data_uri(fig), "title": title, "alt": alt or title}


def _embed(path: Path, title: str | None = None) -> tuple[dict[str, str] | None, str | None]:
    """A PNG file as a figure dict (captioned ``title``, else its name), or the reason it is not embedded."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"{path.name}: not readable ({exc.strerror})"
    if not data.startswith(PNG_SIGNATURE):
        return None, f"{path.name}: not a PNG file"
    if len(data) > MAX_EMBED_BYTES:
        limit = MAX_EMBED_BYTES // 2**20
        return None, f"{path.name}: {len(data) / 2**20:.1f} MiB, over the {limit} MiB limit"
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return {"uri": uri, "title": title or path.stem, "alt": title or path.stem}, None


def _neg(value: Any) -> Any:
    return -float(value) if _finite(value) else value


def _pair(run: _Run, metric: str, rec_filter: Mapping[str, Any], a: str, b: str) -> dict[str, Any] | None:
    """The pairwise record of ``a`` vs ``b`` oriented as ``a - b`` (None when there is none)."""
    return _oriented(run.records("model_vs_model", "pairwise", metric=metric, **rec_filter), a, b)


def _oriented(records: Iterable[Mapping[str, Any]], a: str, b: str) -> dict[str, Any] | None:
    """The first record comparing ``model_a`` and ``model_b`` = {a, b}, its difference oriented as ``a - b``."""
    for r in records:
        if {r.get("model_a"), r.get("model_b")} != {a, b}:
            continue
        flip = r.get("model_a") != a
        diff, lo, hi = r.get("diff"), r.get("ci_low"), r.get("ci_high")
        alo, ahi = r.get("ci_adjusted_low"), r.get("ci_adjusted_high")
        if flip:
            diff, lo, hi, alo, ahi = _neg(diff), _neg(hi), _neg(lo), _neg(ahi), _neg(alo)
        out = {**r, "a": a, "b": b, "diff": diff, "ci_low": lo, "ci_high": hi}
        if "ci_adjusted_low" in r:
            out.update(ci_adjusted_low=alo, ci_adjusted_high=ahi)
        return out
    return None


def _comparison(run: _Run, pair: dict[str, Any] | None, metric: str) -> dict[str, Any] | None:
    if pair is None:
        return None
    better = _finite(pair.get("diff")) and run.sign(metric) * float(pair["diff"]) > 0
    low, high = _adjusted_ci(pair)
    return {
        "other": run.name(str(pair["b"])),
        "diff": fmt_num(pair.get("diff")),
        "ci": fmt_ci(low, high),
        "p": fmt_p(pair.get("p_adjusted")),
        "significant": pair.get("significant"),
        "better": better,
        "correction": pair.get("correction") or run.correction,
        "family_size": pair.get("family_size"),
        "n": pair.get("n"),
        "where": None,
    }


def _adjusted_ci(rec: Mapping[str, Any]) -> tuple[Any, Any]:
    """The interval adjusted as the record's p-value was (it excludes 0 exactly when ``significant``); the
    unadjusted one for records without an adjusted interval (older runs, untested records)."""
    if "ci_adjusted_low" in rec and rec.get("p_adjusted") is not None:
        return rec.get("ci_adjusted_low"), rec.get("ci_adjusted_high")
    return rec.get("ci_low"), rec.get("ci_high")


def _status(run: _Run, metric: str, diff: Any, significant: Any) -> str:
    """CSS class of a difference: better/worse when significant, ns-better/ns-worse when not, nt untested;
    descriptive metrics (volumes) have no better or worse: ``changed`` when significant, else ``ns``."""
    if not _finite(diff) or float(diff) == 0:
        return "nt" if significant is None else "ns"
    if run.descriptive(metric):
        return "changed" if significant is True else ("nt" if significant is None else "ns")
    direction = "better" if run.sign(metric) * float(diff) > 0 else "worse"
    if significant is True:
        return direction
    return "nt" if significant is None else f"ns-{direction}"


# --- sections ---------------------------------------------------------------------------------------------


def _item(label: str, model: str, run: _Run, **fields: Any) -> dict[str, Any]:
    """A verdict card: every key the template reads, with defaults."""
    base: dict[str, Any] = {
        "label": label,
        "model": model,
        "family": run.family_of(model),
        "human": model in run.human,
        "value": "n/a",
        "ci": None,
        "basis": "",
        "comparisons": [],
        "tally": None,
        "details": [],
    }
    return {**base, **fields}


def _section_verdict(run: _Run) -> dict[str, Any]:
    h = run.headline
    sign = run.sign(h)
    out: dict[str, Any] = {"metric": h, "direction": run.direction(h), "items": [], "missing": None}
    out["primary"] = _primary_verdict(run)
    id_cells = _id_means(run, h)
    if not id_cells:
        out["missing"] = f"No successful in-distribution results for {h}: no verdict."
    ranked = [m for m in run.models if m in id_cells and m not in run.human]
    if ranked:
        best = ranked[0]
        c = id_cells[best]
        id_clean = {"condition": "clean", "split": "id"}
        others = ranked[1:2] + [m for m in run.models if m in run.human and m in id_cells]
        comps = [_comparison(run, _pair(run, h, id_clean, best, other), h) for other in others]
        out["items"].append(
            _item(
                "Best in distribution",
                best,
                run,
                value=fmt_num(c["mean"]),
                ci=fmt_ci(c.get("ci_low"), c.get("ci_high")),
                basis=f"mean {h} on the ID clean test cases (n = {c.get('n')})",
                comparisons=[x for x in comps if x],
                details=[] if len(ranked) > 1 else ["Only one model: no other model to compare."],
            )
        )
    out["items"].extend(_human_verdict(run, id_cells))
    ood = _ood_verdict(run)
    if ood is not None:
        out["items"].append(ood)
    robust = _robust_verdict(run)
    if robust is not None:
        out["items"].append(robust)
    out["family"] = _family_verdict(run, id_cells, sign)
    out["checks"] = [
        {
            "status": str(r.get("status", "ERROR")),
            "check": r.get("check", ""),
            "model": r.get("model") or "all",
            "message": r.get("message", ""),
        }
        for r in run.records("checks")
    ]
    out["checks_missing"] = None if out["checks"] else "This protocol declares no checks."
    counts = {s: sum(c["status"] == s for c in out["checks"]) for s in ("PASS", "WARN", "FAIL", "ERROR")}
    out["check_counts"] = {k: v for k, v in counts.items() if v}
    return out


def _fraction(p: float) -> str:
    """A p-value floor as a fraction when it is one (``1/32``), else its number."""
    inv = 1.0 / p if p > 0 else math.inf
    return f"1/{round(inv)}" if math.isfinite(inv) and abs(inv - round(inv)) < 1e-9 else fmt_p(p)


def _question_cls(run: _Run, r: Mapping[str, Any]) -> str:
    """CSS class of a primary question: drops and degradations (+ = worse) are red when significantly
    positive; an ID-score difference of families A - B is green when A is significantly better."""
    raw, sig = r.get("estimate"), r.get("significant")
    est = float(raw or 0.0) if _finite(raw) else 0.0
    if sig is None or est == 0:
        return "nt" if sig is None else "ns"
    good = run.sign(str(r.get("metric", run.headline))) * est > 0 if r.get("question") == "id_score" else est < 0
    direction = "better" if good else "worse"
    return direction if sig is True else f"ns-{direction}"


def _primary_verdict(run: _Run) -> dict[str, Any]:
    """The primary questions (first in the verdict): estimates with the intervals adjusted as their p-values,
    the power line and warnings, and the notes on small samples, clustering and failed fits."""
    out: dict[str, Any] = {"rows": [], "power": [], "warnings": [], "notes": [], "missing": None, "intro": ""}
    out["metric"] = None
    questions = run.records("primary", "question")
    family = next(iter(run.records("primary", "family")), None)
    if not questions:
        skipped = next(iter(run.records("primary", "skipped")), None)
        out["missing"] = (
            f"No primary questions: {skipped.get('note', '')}."
            if skipped
            else "No primary questions in this run's summary (written by an older robusteval)."
        )
    else:
        metric = str(questions[0].get("metric", run.headline))
        level = f"{run.level:.0%}"
        m = family.get("family_size") if family else None
        correction = (family or {}).get("correction") or "holm"
        out["metric"] = metric
        out["intro"] = (
            f"{m} test(s) in one family, {correction}-adjusted; each interval is adjusted the same way as its "
            f"p-value (it excludes 0 exactly when the adjusted p is below {1 - run.level:.2g}). ID scores are "
            f"estimates with their {level} interval, not tests. Drops and degradations: + = worse OOD. Family "
            "differences are A - B of each case's mean over the family's models."
        )
        not_asked: dict[str, list[str]] = {}
        for r in questions:
            if r.get("estimate") is None and str(r.get("note", "")).startswith("not asked: "):
                not_asked.setdefault(str(r["note"]).removeprefix("not asked: "), []).append(str(r.get("label", "")))
                continue
            tested = r.get("p_adjusted") is not None
            low, high = (
                (r.get("ci_adjusted_low"), r.get("ci_adjusted_high")) if tested else (r.get("ci_low"), r.get("ci_high"))
            )
            flags = []
            if r.get("small_sample"):
                flags.append("small n")
            if r.get("clustered"):
                flags.append("clustered")
            level_r = r.get("adjusted_level") if tested else run.level
            out["rows"].append(
                {
                    "label": r.get("label", ""),
                    "estimate": fmt_num(r.get("estimate")),
                    "ci": fmt_ci(low, high),
                    "level": f"{float(level_r or 0):.1%}" if _finite(level_r) else "",
                    "p": fmt_p(r.get("p_adjusted")) if tested else "estimate",
                    "significant": r.get("significant") if tested else None,
                    "tested": tested,
                    "cls": _question_cls(run, r),
                    "n": r.get("n_units") if r.get("n_units") is not None else r.get("n"),
                    "mdd": fmt_num(r.get("mdd")),
                    "flags": ", ".join(flags),
                    "note": r.get("note", ""),
                }
            )
        for why, labels in not_asked.items():
            out["notes"].append(f"Not asked ({why}): {'; '.join(labels)}.")
        if family is not None:
            out["power"].extend(_power_lines(family, questions, metric))
            out["warnings"].extend(_power_warnings(family, questions, metric))
    out["notes"].extend(_reliability_notes(run))
    return out


def _power_lines(family: Mapping[str, Any], questions: list[dict[str, Any]], metric: str) -> list[str]:
    tested = [q for q in questions if _finite(q.get("mdd"))]
    if not tested:
        return []
    mdds = sorted(float(q["mdd"]) for q in tested)
    a, m = float(family.get("alpha_per_test") or 0.05), family.get("family_size")
    power = float(family.get("power") or 0.8)
    span = fmt_num(mdds[0]) if len(mdds) == 1 else f"{fmt_num(mdds[0])} to {fmt_num(mdds[-1])}"
    lines = [
        f"Power: at the run's n ({family.get('n_id_cases')} ID case(s), {family.get('n_ood_site_cases')} OOD-site "
        f"case(s)) and alpha = {float(family.get('alpha') or 0.05):g}/{m} = {a:.2g} (the level the smallest p must "
        f"reach), the primary tests detect with {power:.0%} power differences of {span} {metric} (minimum "
        "detectable difference, given the spread observed)."
    ]
    floors = [float(q["p_floor_rank"]) for q in tested if _finite(q.get("p_floor_rank"))]
    if floors and max(floors) >= a:
        worst = max(floors)
        lines.append(
            f"An exact rank test (Wilcoxon signed-rank, Mann-Whitney) could not go below p = {_fraction(worst)} "
            f"at these n: with {m} tests it could never reach {a:.2g}. The t tests used here have no such floor."
        )
    return lines


def _power_warnings(family: Mapping[str, Any], questions: list[dict[str, Any]], metric: str) -> list[str]:
    target = family.get("target_difference")
    if not _finite(target):
        return []
    weak = [
        q
        for q in questions
        if _finite(q.get("power_at_target")) and float(q["power_at_target"]) < float(family.get("power") or 0.8)
    ]
    if not weak:
        return []
    needed = [int(q["n_needed"]) for q in weak if _finite(q.get("n_needed"))]
    need = ""
    if needed:
        lo, hi = min(needed), max(needed)
        need = f"; they would need about {lo if lo == hi else f'{lo} to {hi}'} subjects (or cases) per group"
    return [
        f"This run cannot detect a {fmt_num(target)} {metric} difference with {float(family.get('power') or 0.8):.0%} "
        f"power in {len(weak)} of {len(questions) - sum(1 for q in questions if q.get('p_value') is None)} primary "
        f"test(s) (n = {family.get('n_id_units')} ID subject(s)){need}."
    ]


def _reliability_notes(run: _Run) -> list[str]:
    """Small samples, clustering and failed fits, counted over the run's intervals and tests."""
    notes: list[str] = []
    keys = ("primary", "cells", "id_vs_ood", "model_vs_model")
    recs = [r for k in keys for r in run.records(k) if isinstance(r, dict)]
    small = sum(1 for r in recs if r.get("small_sample") is True)
    if small:
        notes.append(
            f"Small samples: {small} interval(s) or test(s) rest on fewer than 10 independent units (flagged "
            "small n); their coverage can fall below the nominal level (docs/statistics.md), and cells of fewer "
            "than 3 units have no interval."
        )
    clustered = sum(1 for r in recs if r.get("clustered") is True)
    if clustered:
        notes.append(
            f"Clustering: in {clustered} interval(s) or test(s) a subject contributed several rows (repeated cases "
            "or pooled conditions); subjects, not cases, were resampled and tested as the units."
        )
    for fit in run.records("mixed_effects", "fit"):
        if fit.get("accepted") is False:
            reasons = "; ".join(f"{a.get('formula')}: {a.get('reason')}" for a in fit.get("attempts") or [])
            notes.append(
                f"The mixed model of {fit.get('metric')} failed: no model the data support could be fitted "
                f"({reasons}). Its family effects are estimates only, with no interval or test."
            )
        elif fit.get("simplified"):
            notes.append(
                f"The mixed model of {fit.get('metric')} was simplified to {fit.get('formula')}: "
                f"{fit.get('full_formula')} could not be fitted reliably ({fit.get('note', '')})."
            )
    return notes


def _human_verdict(run: _Run, id_cells: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One card per human baseline: its ID clean mean, the ceiling the models are read against."""
    h = run.headline
    cards = []
    for model in (m for m in run.models if m in run.human and m in id_cells):
        c = id_cells[model]
        details = [
            "The ceiling a network cannot meaningfully beat: two human raters agree this well. It is shown "
            "beside the models, not ranked among them."
        ]
        for r in run.records("cells", metric=h, model=model, shift="clean", split="ood", site=None):
            if _finite(r.get("mean")):
                details.append(
                    f"{run.label('clean', 0, 'ood')}: {fmt_num(r['mean'])} {fmt_ci(r.get('ci_low'), r.get('ci_high'))} "
                    f"(n = {r.get('n')})."
                )
        cards.append(
            _item(
                "Human baseline (ceiling)",
                model,
                run,
                value=fmt_num(c["mean"]),
                ci=fmt_ci(c.get("ci_low"), c.get("ci_high")),
                basis=f"mean {h} of annotation {run.human[model]!r} against the reference label on the ID clean "
                f"test cases (n = {c.get('n')}): rater 2 vs rater 1, scored as a model is",
                details=details,
            )
        )
    return cards


def _ood_cells(run: _Run, metric: str) -> pd.DataFrame:
    c = run.cells
    if c.empty:
        return c
    m = c[(c["metric"] == metric) & c["site"].isna() & c["mean"].notna()]
    return m[~((m["shift"] == "clean") & (m["split"] == "id")) & (m["shift_family"] != "label_noise")]


def _ood_verdict(run: _Run) -> dict[str, Any] | None:
    h = run.headline
    sign = run.sign(h)
    ood = _ood_cells(run, h)
    ood = ood[~ood["model"].isin(list(run.human))] if not ood.empty else ood  # the models' verdict
    if ood.empty:
        return None
    ood = ood.assign(_label=[run.label(r["shift"], r["severity"], r["split"]) for _, r in ood.iterrows()])
    per_model = {str(m): set(g["_label"]) for m, g in ood.groupby("model")}
    common = set.intersection(*per_model.values()) if per_model else set()
    conds = sorted(common, key=lambda lab: run.order_key(_first(ood[ood["_label"] == lab])))
    if not conds:
        return None
    part = ood[ood["_label"].isin(common)]
    means = part.groupby("model")["mean"].mean()
    ranked = sorted(means.index.astype(str), key=lambda m: (-sign * float(means[m]), m))
    best = ranked[0]
    details = []
    if len(common) < max(len(v) for v in per_model.values()):
        details.append("Only the OOD conditions every model has are averaged.")
    best_cells = part[part["model"] == best]
    worst = best_cells.loc[(sign * best_cells["mean"]).idxmin()]
    details.append(
        f"Worst OOD condition for {best}: {run.label(worst['shift'], worst['severity'], worst['split'])} "
        f"{fmt_num(worst['mean'])} {fmt_ci(worst['ci_low'], worst['ci_high'])}."
    )
    site_cell = part[(part["model"] == best) & (part["shift"] == "clean")]
    if not site_cell.empty and worst["shift"] != "clean":
        s = site_cell.iloc[0]
        details.append(
            f"Natural site shift ({run.label('clean', 0, 'ood')}): {fmt_num(s['mean'])} "
            f"{fmt_ci(s['ci_low'], s['ci_high'])}."
        )
    comp = None
    tally = None
    if len(ranked) == 1:
        details.insert(0, "Only one model: nothing to compare.")
    else:
        other = ranked[1]
        n_better = n_sig = n_worse_sig = n_tested = 0
        for lab in conds:
            rec = _first(part[part["_label"] == lab])
            pair = _pair(run, h, {"condition": rec["condition"], "split": rec["split"]}, best, other)
            if pair is None or not _finite(pair.get("diff")):
                continue
            n_tested += 1
            better = sign * float(pair["diff"]) > 0
            n_better += better
            n_sig += bool(better and pair.get("significant") is True)
            n_worse_sig += bool(not better and pair.get("significant") is True)
        tally = {
            "other": other,
            "n": n_tested,
            "better": n_better,
            "significant": n_sig,
            "worse_significant": n_worse_sig,
            "diff": fmt_num(float(means[best]) - float(means[other])),
        }
        if site_cell.shape[0]:
            comp = _comparison(run, _pair(run, h, {"condition": "clean", "split": "ood"}, best, other), h)
            if comp is not None:
                comp["where"] = run.label("clean", 0, "ood")
    comparisons = [comp] if comp else []
    value, ci = fmt_num(means[best]), None
    pooled = _pooled(run, "ood_mean")
    if best in pooled:
        p = pooled[best]
        ci = fmt_ci(p.get("ci_low"), p.get("ci_high"))
        details.append(
            f"Interval: case bootstrap of each ID case's mean {h} over the {p.get('n_conditions')} simulated "
            f"shift condition(s) (n = {p.get('n')} cases with all of them): {fmt_num(p['estimate'])} {ci}."
        )
        if len(ranked) > 1:
            pc = _pooled_comparison(run, "ood_mean", best, ranked[1], lower_is_better=False)
            if pc is not None:
                comparisons.insert(0, pc)
    return _item(
        "Best out of distribution",
        best,
        run,
        value=value,
        ci=ci if best in pooled and abs(float(pooled[best]["estimate"]) - float(means[best])) < 1e-9 else None,
        basis=f"mean {h} over {len(conds)} OOD condition(s), each weighted equally "
        f"({', '.join(conds[:6])}{', ...' if len(conds) > 6 else ''})",
        comparisons=comparisons,
        tally=tally,
        details=details,
    )


def _pooled(run: _Run, quantity: str) -> dict[str, dict[str, Any]]:
    """The ``pooled`` robustness records of the headline metric for ``quantity``, by model."""
    recs = run.records("robustness", "pooled", metric=run.headline, quantity=quantity)
    return {str(r["model"]): r for r in recs if _finite(r.get("estimate"))}


def _pooled_comparison(run: _Run, quantity: str, a: str, b: str, lower_is_better: bool) -> dict[str, Any] | None:
    """The ``pooled_vs`` record of ``a`` vs ``b`` oriented as ``a - b``, as a card comparison."""
    pair = _oriented(run.records("robustness", "pooled_vs", metric=run.headline, quantity=quantity), a, b)
    comp = _comparison(run, pair, run.headline)
    if pair is not None and comp is not None:
        diff = pair["diff"]
        d = float(diff) if diff is not None and _finite(diff) else math.nan
        comp["better"] = d < 0 if lower_is_better else run.sign(run.headline) * d > 0
        comp["where"] = "the per-case " + ("degradation" if quantity == "degradation" else "OOD mean") + " (paired)"
    return comp


def _first(frame: pd.DataFrame) -> dict[str, Any]:
    return {str(k): v for k, v in frame.iloc[0].to_dict().items()}


def _robust_verdict(run: _Run) -> dict[str, Any] | None:
    h = run.headline
    rood = run.records("robustness", "rood", metric=h, shift="mean")
    rood = [r for r in rood if _finite(r.get("degradation")) and r.get("model") not in run.human]
    ivo = [r for r in run.records("id_vs_ood", metric=h) if r.get("model") not in run.human]
    comparisons: list[dict[str, Any]] = []
    interval_note = ""
    pooled = _pooled(run, "degradation")
    if rood:
        ranked = sorted(rood, key=lambda r: (float(r["degradation"]), str(r["model"])))
        best = ranked[0]
        basis = (
            f"ROOD-MRI degradation of {h} (severity-weighted mean of clean - shifted, over "
            f"{best.get('n_shifts', '?')} simulated shift(s); + = worse)"
        )
        value, ci = fmt_num(best["degradation"]), None
        others = [f"{r['model']} {fmt_num(r['degradation'])}" for r in ranked[1:]]
        p = pooled.get(str(best["model"]))
        if p is not None:
            same = abs(float(p["estimate"]) - float(best["degradation"])) < 1e-9
            ci = fmt_ci(p.get("ci_low"), p.get("ci_high")) if same else None
            interval_note = (
                f"Interval: case bootstrap of each ID case's own degradation (n = {p.get('n')} cases with every "
                f"shift): {fmt_num(p['estimate'])} {fmt_ci(p.get('ci_low'), p.get('ci_high'))}."
            )
            if len(ranked) > 1:
                pc = _pooled_comparison(run, "degradation", str(best["model"]), str(ranked[1]["model"]), True)
                if pc is not None:
                    comparisons.append(pc)
    else:
        site = [r for r in ivo if r.get("kind") == "site" and _finite(r.get("degradation"))]
        site_pooled = [r for r in site if r.get("site") is None] or site
        if not site_pooled:
            return None
        ranked = sorted(site_pooled, key=lambda r: (float(r["degradation"]), str(r["model"])))
        best = ranked[0]
        basis = f"drop of mean {h} from ID clean to {run.label_of(best)} (+ = worse)"
        value = fmt_num(best["degradation"])
        ci = None
        if _finite(best.get("ci_low")) and _finite(best.get("ci_high")):
            bounds = sorted((-run.sign(h) * float(best["ci_high"]), -run.sign(h) * float(best["ci_low"])))
            ci = fmt_ci(bounds[0], bounds[1])
        others = [f"{r['model']} {fmt_num(r['degradation'])}" for r in ranked[1:]]
    model = str(best["model"])
    details = [] if others else ["Only one model: nothing to compare."]
    if interval_note:
        details.append(interval_note)
    if others:
        details.append(
            "Others: "
            + ", ".join(others)
            + "."
            + ("" if comparisons else " Differences in degradation are not tested (no per-case degradation).")
        )
    for r in ranked[:2]:
        recs = [x for x in ivo if x.get("model") == r["model"] and x.get("p_adjusted") is not None]
        n_sig = sum(
            1
            for x in recs
            if x.get("significant") is True and _finite(x.get("degradation")) and float(x["degradation"]) > 0
        )
        if recs:
            details.append(
                f"{r['model']}: significant drop in {n_sig} of {len(recs)} ID-vs-OOD comparison(s) "
                f"({recs[0].get('correction') or run.correction}-adjusted)."
            )
    label = "Most robust (smallest degradation)"
    return _item(label, model, run, value=value, ci=ci, basis=basis, details=details, comparisons=comparisons)


def _family_verdict(run: _Run, id_cells: dict[str, dict[str, Any]], sign: float) -> dict[str, Any]:
    """The best member of each model family ID and OOD, the mixed model's family effects, and the human
    baseline as the last row (its ID mean: the ceiling; it is no model family)."""
    fams = sorted(set(run.families.values()) - {HUMAN_FAMILY})
    out: dict[str, Any] = {"families": fams, "rows": [], "terms": [], "note": None, "fit": None}
    if len(fams) < 2:
        out["note"] = (
            f"Only one model family ({', '.join(fams) or 'none'}) in this run: it cannot answer "
            "\u201cViT or CNN?\u201d."
        )
    ood = _ood_cells(run, run.headline)
    ood_means = ood.groupby("model")["mean"].mean() if not ood.empty else pd.Series(dtype=float)
    for fam in fams:
        members = [m for m in run.models if run.families.get(m) == fam]
        best_id = next((m for m in members if m in id_cells), None)
        ood_members = [m for m in members if m in ood_means.index]
        best_ood = min(ood_members, key=lambda m: -sign * float(ood_means[m])) if ood_members else None
        out["rows"].append(
            {
                "family": fam,
                "models": ", ".join(members),
                "best_id": best_id,
                "best_id_value": fmt_num(id_cells[best_id]["mean"]) if best_id else "n/a",
                "best_ood": best_ood,
                "best_ood_value": fmt_num(ood_means[best_ood]) if best_ood else "n/a",
                "human": False,
            }
        )
    for model in (m for m in run.models if m in run.human):
        out["rows"].append(
            {
                "family": f"human baseline ({run.human[model]} vs the reference)",
                "models": model,
                "best_id": model if model in id_cells else None,
                "best_id_value": fmt_num(id_cells[model]["mean"]) if model in id_cells else "n/a",
                "best_ood": None,
                "best_ood_value": "n/a",
                "human": True,
            }
        )
    mixed = run.records("mixed_effects", metric=run.headline)
    fit = next((r for r in mixed if r.get("kind") == "fit"), None)
    skipped = next((r for r in mixed if r.get("kind") == "skipped"), None)
    if fit is not None and fit.get("accepted") is False:
        out["note"] = (
            f"Mixed model failed: no model the data support could be fitted ({fit.get('note', '')}); its family "
            "effects are not reported."
        )
    elif fit is not None:
        out["fit"] = {
            "formula": fit.get("formula", ""),
            "converged": fit.get("converged"),
            "note": fit.get("note", ""),
        }
        for r in mixed:
            term = str(r.get("term", ""))
            if r.get("kind") == "coefficient" and term.startswith("family[") and ":" not in term:
                out["terms"].append(_term_row(run, r))
        named = {str(t["term"]) for t in out["terms"]}
        refs = [f for f in fams if f"family[T.{f}]" not in named]
        out["fit"]["reference"] = refs[0] if len(refs) == 1 else "the reference family"
    elif skipped is not None and len(fams) >= 2:
        out["note"] = f"Mixed model not fitted: {skipped.get('note', '')}"
    return out


def _term_row(run: _Run, r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "term": r.get("term", ""),
        "estimate": fmt_num(r.get("estimate")),
        "ci": fmt_ci(r.get("ci_low"), r.get("ci_high")),
        "p": fmt_p(r.get("p_adjusted")),
        "significant": r.get("significant"),
        "cls": _status(run, run.headline, r.get("estimate"), r.get("significant")),
        "note": r.get("note", ""),
    }


def _section_id_vs_ood(run: _Run) -> dict[str, Any]:
    out: dict[str, Any] = {"metrics": [], "missing": None}
    if run.cells.empty:
        out["missing"] = "No metric cells: every work item failed."
        return out
    for metric in run.metrics:
        id_cells = _id_means(run, metric)
        blocks = []
        for model in run.models:
            c = id_cells.get(model)
            rows = []
            recs = sorted(run.records("id_vs_ood", metric=metric, model=model), key=run.order_key)
            for r in recs:
                cell = _ood_cell(run, metric, r)
                rows.append(
                    {
                        "condition": run.label_of(r),
                        "n": r.get("n_ood"),
                        "mean": fmt_num(cell.get("mean") if cell else r.get("mean_ood")),
                        "ci": fmt_ci(cell.get("ci_low"), cell.get("ci_high")) if cell else "no CI",
                        "diff": fmt_num(r.get("diff")),
                        "diff_ci": fmt_ci(*_adjusted_ci(r)),
                        "p": fmt_p(r.get("p_adjusted")),
                        "significant": r.get("significant"),
                        "cls": _status(run, metric, r.get("diff"), r.get("significant")),
                        "kind": ("paired t (same cases)" if r.get("kind") == "paired" else "Welch t (two-sample)")
                        + (", subjects clustered" if r.get("clustered") else ""),
                        "note": r.get("note", ""),
                    }
                )
            if c is None and not rows:
                continue
            blocks.append(
                {
                    "model": model,
                    "family": run.family_of(model),
                    "id_mean": fmt_num(c["mean"]) if c else "n/a",
                    "id_ci": fmt_ci(c.get("ci_low"), c.get("ci_high")) if c else "no CI",
                    "id_n": c.get("n") if c else 0,
                    "id_note": c.get("note", "") if c else "",
                    "rows": rows,
                }
            )
        worst = [
            {
                "model": r.get("model"),
                "grouping": r.get("grouping"),
                "avg": fmt_num(r.get(f"{metric}_avg")),
                "wg": fmt_num(r.get(f"{metric}_wg")),
                "group": r.get("worst_group") or "n/a",
                "n_groups": r.get("n_groups"),
                "note": r.get("note", ""),
            }
            for r in run.records("robustness", "worst_group", metric=metric)
        ]
        if blocks or worst:
            out["metrics"].append(
                {
                    "metric": metric,
                    "unit": _unit(metric),
                    "direction": run.direction(metric),
                    "blocks": blocks,
                    "worst": worst,
                    "has_ood": any(b["rows"] for b in blocks),
                }
            )
    if not out["metrics"]:
        out["missing"] = "No metric cells: every work item failed."
    return out


def _unit(metric: str) -> str:
    from robusteval.metrics import METRICS

    return str(getattr(METRICS.get(metric), "unit", "")) if metric in METRICS else ""


def _descriptive(metric: str) -> bool:
    """Volumes and other metrics that describe a case rather than score it."""
    from robusteval.metrics import METRICS

    return bool(getattr(METRICS.get(metric), "descriptive", False)) if metric in METRICS else False


def _ood_cell(run: _Run, metric: str, rec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cell record of an ID-vs-OOD record's OOD side."""
    model = rec.get("model")
    if rec.get("kind") == "site":
        site = rec.get("site")
        cands = run.records("cells", metric=metric, model=model, shift="clean", split="ood", site=site)
        if not cands and len(run.ood_sites) == 1:
            cands = run.records("cells", metric=metric, model=model, shift="clean", split="ood", site=None)
    else:
        cands = [
            c
            for c in run.records("cells", metric=metric, model=model, shift=rec.get("shift"), site=None)
            if c.get("severity") == rec.get("severity")
        ]
    return cands[0] if cands else None


def _section_degradation(run: _Run) -> dict[str, Any]:
    out: dict[str, Any] = {"figures": [], "extra": [], "missing": None}
    c = run.cells
    shifted = c[(c["shift"] != "clean") & (c["shift_family"] != "label_noise")] if not c.empty else c
    if shifted.empty:
        out["missing"] = "This run has no simulated shifts, so there are no degradation curves."
        return out
    h = run.headline
    level = f"{run.level:.0%}"
    fig = _figure(
        F.degradation_figure(c, h, run.models, run.human),
        f"{h} against severity per shift (mean, {level} CI band; severity 0 is the ID clean cell)"
        + ("; dashed grey: the human baseline's ID clean mean, the ceiling" if run.human else ""),
    )
    if fig:
        out["figures"].append(fig)
    rood = pd.DataFrame(run.records("robustness", "rood"))
    if not rood.empty and "degradation" in rood:
        heat = _figure(
            F.degradation_heatmap(rood, h, run.models),
            f"{h}: ROOD-MRI degradation per model and shift (severity weights alpha^s; + = worse)",
        )
        if heat:
            out["figures"].append(heat)
    candidates = [m for m in run.metrics if m != h and m in set(shifted["metric"]) and not _descriptive(m)]
    extra = candidates[:MAX_EXTRA_DEGRADATION_METRICS]
    for metric in extra:
        f = _figure(F.degradation_figure(c, metric, run.models, run.human), f"{metric} against severity per shift")
        if f:
            out["extra"].append(f)
    out["extra_note"] = (
        (
            f"Curves for the first {MAX_EXTRA_DEGRADATION_METRICS} other metrics; all metrics are in "
            "the tables of section 2."
        )
        if len(candidates) > len(extra)
        else ""
    )
    return out


def _forest_rows(
    run: _Run, metric: str, recs: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]
) -> tuple[pd.DataFrame, str]:
    """Forest rows for ``recs`` (ordered by condition); when too many, only the key conditions."""
    recs = [r for r in recs if run.order_key(r)[0] != 4]
    note = ""
    if len(recs) > MAX_FOREST_ROWS:
        keep = set(run.key_conditions(recs))
        total = len(recs)
        recs = [r for r in recs if run.label_of(r) in keep]
        shown = "ID clean, the OOD sites and each shift at its highest severity"
        note = f"{len(recs)} of {total} differences shown: {shown}."
    recs = sorted(recs, key=run.order_key)
    rows = pd.DataFrame(
        {
            "label": [label(r) for r in recs],
            "estimate": [r.get("diff") for r in recs],
            "ci_low": [_adjusted_ci(r)[0] for r in recs],
            "ci_high": [_adjusted_ci(r)[1] for r in recs],
            "status": [_status(run, metric, r.get("diff"), r.get("significant")) for r in recs],
        }
    )
    return rows, note


def _pair_label(run: _Run) -> Callable[[dict[str, Any]], str]:
    def label(r: dict[str, Any]) -> str:
        return f"{run.name(r['model_a'])} - {run.name(r['model_b'])} | {run.label_of(r)}"

    return label


def _section_differences(run: _Run) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "notes": [], "missing": None, "mixed": None, "mixed_missing": None}
    pairs = [dict(r) for r in run.records("model_vs_model", "pairwise", metric=h)]
    rank = {m: i for i, m in enumerate(run.models)}
    if pairs:
        for r in pairs:  # orient every pair as (better-ranked in distribution) - (worse-ranked)
            a, b = str(r["model_a"]), str(r["model_b"])
            if rank.get(a, 0) > rank.get(b, 0):
                r["diff"], r["ci_low"], r["ci_high"] = (
                    _neg(r.get("diff")),
                    _neg(r.get("ci_high")),
                    _neg(r.get("ci_low")),
                )
                if "ci_adjusted_low" in r:
                    r["ci_adjusted_low"], r["ci_adjusted_high"] = (
                        _neg(r.get("ci_adjusted_high")),
                        _neg(r.get("ci_adjusted_low")),
                    )
                r["model_a"], r["model_b"] = b, a
        pairs.sort(key=lambda r: (rank.get(r["model_a"], 0), rank.get(r["model_b"], 0)))
        rows, note = _forest_rows(run, h, pairs, _pair_label(run))
        fig = _figure(
            F.forest_figure(rows, f"{h} difference (first - second model); {run.direction(h)}"),
            f"Model vs model (exploratory): paired differences of {h} per condition with intervals adjusted as "
            "the p-values are; filled = significant after correction (green: first model better, red: worse)",
        )
        if fig:
            out["figures"].append(fig)
        if note:
            out["notes"].append(note)
    else:
        out["notes"].append("Model vs model: fewer than two models in this run, so no paired differences.")
    ivo = [r for r in run.records("id_vs_ood", metric=h)]
    ivo.sort(key=lambda r: rank.get(str(r.get("model")), 0))
    if ivo:
        rows, note = _forest_rows(run, h, ivo, lambda r: f"{run.name(str(r['model']))} | {run.label_of(r)}")
        fig = _figure(
            F.forest_figure(rows, f"{h}: OOD - ID clean; {run.direction(h)}"),
            f"ID vs OOD (exploratory): difference of {h} per model and OOD condition with intervals adjusted as "
            "the p-values are; filled = significant after correction (red: worse OOD)",
        )
        if fig:
            out["figures"].append(fig)
        if note:
            out["notes"].append(note)
    else:
        out["notes"].append("ID vs OOD: this run has no OOD conditions with an ID clean reference.")
    mixed = run.records("mixed_effects", metric=h)
    fit = next((r for r in mixed if r.get("kind") == "fit"), None)
    if fit is not None:
        out["mixed"] = {
            "formula": fit.get("formula", ""),
            "n_obs": fit.get("n_obs"),
            "n_groups": fit.get("n_groups"),
            "converged": fit.get("converged"),
            "accepted": fit.get("accepted", True),
            "warnings": fit.get("warnings") or [],
            "note": fit.get("note", ""),
            "dropped": fit.get("dropped_terms") or [],
            "terms": [_term_row(run, r) for r in mixed if r.get("kind") == "coefficient"],
        }
    else:
        skipped = next((r for r in mixed if r.get("kind") == "skipped"), None)
        out["mixed_missing"] = (
            f"Mixed model not fitted: {skipped.get('note', '')}" if skipped else "No mixed-model records."
        )
    if not pairs and not ivo:
        out["missing"] = "Nothing to compare: one model and no OOD conditions."
    return out


def _section_distributions(run: _Run) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "notes": [], "taus": [], "missing": None}
    if h not in run.cases:
        out["missing"] = f"cases.csv has no {h} column."
        return out
    fig = _figure(
        F.distribution_figure(run.cases, h, run.models, run.human),
        f"Per-case {h} by model: box (quartiles, whiskers 1.5 IQR) and points (cases)",
    )
    if fig:
        out["figures"].append(fig)
    else:
        out["notes"].append(f"No successful per-case {h} values to plot.")
    if len(run.models) < 2:
        out["notes"].append("Only one model: no significance map or rank stability.")
        return out
    sig = run.records("model_vs_model", "significance", metric=h)
    if sig:
        conds = run.key_conditions(sig)[:8]
        frame = pd.DataFrame(sig).assign(panel=[run.label_of(r) for r in sig])
        f = _figure(
            F.significance_map_figure(frame, conds, run.models, run.human),
            f"Significance maps ({h}): filled where the row model is significantly better than the column "
            f"model (one-sided Wilcoxon, {run.correction}-adjusted within each condition)",
        )
        if f:
            out["figures"].append(f)
    else:
        out["notes"].append("No significance-map records in this run.")
    ranks = [r for r in run.records("ranks", "rank", metric=h) if run.order_key(r)[0] != 4]
    if ranks:
        labels = sorted({run.label_of(r): run.order_key(r) for r in ranks}.items(), key=lambda kv: kv[1])
        conds = [k for k, _ in labels]
        if len(conds) > 12:
            conds = run.key_conditions(ranks)
        frame = pd.DataFrame(ranks).assign(panel=[run.label_of(r) for r in ranks])
        f = _figure(
            F.rank_blob_figure(frame, conds, run.models, run.human),
            f"Rank stability ({h}): disc area = bootstrap probability of each rank; black = median rank "
            f"and {run.level:.0%} interval",
        )
        if f:
            out["figures"].append(f)
    out["taus"] = [
        {
            "condition": run.label_of(r),
            "tau": fmt_num(r.get("tau_median")),
            "ci": fmt_ci(r.get("tau_ci_low"), r.get("tau_ci_high")),
            "n_cases": r.get("n_cases"),
            "note": r.get("note", ""),
        }
        for r in sorted(run.records("ranks", "kendall_tau", metric=h), key=run.order_key)
    ]
    skipped = run.records("ranks", "skipped")
    if skipped and not ranks:
        out["notes"].append(f"Ranking skipped: {skipped[0].get('note', '')}")
    return out


def _section_lesion_size(run: _Run) -> dict[str, Any]:
    bins = {m: lab for m, lab in SIZE_BINS.items() if m in run.metrics}
    out: dict[str, Any] = {"figures": [], "rows": [], "bins": list(bins.values()), "missing": None}
    if not bins:
        out["missing"] = (
            "This run does not measure lesion recall by size (add lesion_recall_small, _medium and "
            "_large to the metric panel)."
        )
        return out
    c = run.cells
    part = c[c["metric"].isin(list(bins)) & c["site"].isna()] if not c.empty else c
    if part.empty:
        out["missing"] = "No lesion-recall cells (every item failed, or no case has lesions of these sizes)."
        return out
    recs = [_first(part.iloc[[i]]) for i in range(len(part))]
    labels = [run.label_of(r) for r in recs]
    keep = run.key_conditions(recs)
    frame = part.assign(panel=labels)
    frame = frame[frame["panel"].isin(keep)]
    frame = frame.iloc[sorted(range(len(frame)), key=lambda i: keep.index(frame["panel"].iloc[i]))]
    fig = _figure(
        F.lesion_size_figure(frame, bins, run.models, run.human),
        f"Lesion recall by lesion size per model (mean, {run.level:.0%} CI): ID clean, OOD sites and each "
        "shift at its highest severity",
    )
    if fig:
        out["figures"].append(fig)
    shifted = part[(part["shift"] != "clean") & (part["shift_family"] != "label_noise")]
    clean = part[(part["shift"] == "clean") & (part["split"] == "id")]
    for model in run.models:
        row: dict[str, Any] = {"model": model, "family": run.family_of(model), "values": []}
        for metric in bins:
            cc = clean[(clean["model"] == model) & (clean["metric"] == metric)]
            ss = shifted[(shifted["model"] == model) & (shifted["metric"] == metric)]["mean"]
            row["values"].append(
                {
                    "clean": fmt_num(cc["mean"].iloc[0]) if len(cc) else "n/a",
                    "clean_ci": fmt_ci(cc["ci_low"].iloc[0], cc["ci_high"].iloc[0]) if len(cc) else "",
                    "shifted": fmt_num(float(ss.mean())) if ss.notna().any() else "n/a",
                }
            )
        out["rows"].append(row)
    fam_rows = []
    for fam in sorted(set(run.families.values()), key=lambda f: (f == HUMAN_FAMILY, f)):
        members = [m for m in run.models if run.families.get(m) == fam]
        vals = []
        for metric in bins:
            c_mean = clean[clean["model"].isin(members) & (clean["metric"] == metric)]["mean"]
            s_mean = shifted[shifted["model"].isin(members) & (shifted["metric"] == metric)]["mean"]
            vals.append(
                {
                    "clean": fmt_num(float(c_mean.mean())) if c_mean.notna().any() else "n/a",
                    "shifted": fmt_num(float(s_mean.mean())) if s_mean.notna().any() else "n/a",
                }
            )
        label = "human baseline" if fam == HUMAN_FAMILY else fam
        fam_rows.append({"family": label, "models": ", ".join(members), "values": vals})
    out["families"] = fam_rows
    out["has_shifts"] = not shifted.empty
    return out


def _section_label_noise(run: _Run) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "rankings": [], "pairs": [], "diffs": [], "missing": None}
    noise_rows = run.cases[run.cases["shift_family"] == "label_noise"] if len(run.cases) else run.cases
    moves = run.records("robustness", "label_noise_mean", metric=h)
    if noise_rows.empty and not moves:
        out["missing"] = (
            "This run has no label-noise conditions (shift family label_noise), so the sensitivity of "
            "the conclusions to reference-label noise is not measured."
        )
        return out
    if not moves:
        out["missing"] = f"Label-noise rows are present but no label-noise statistics were recorded for {h}."
        return out
    taus = run.records("robustness", "label_noise_ranking", metric=h)
    fig = _figure(
        F.label_noise_figure(pd.DataFrame(moves), pd.DataFrame(taus), h, run.models, run.human),
        f"{h} scored against perturbed reference labels: score moves per model, and Kendall's tau between "
        "the rankings under the clean and the noisy reference",
    )
    if fig:
        out["figures"].append(fig)
    for t in sorted(taus, key=lambda r: F.condition_sort_key(str(r.get("noise")))):
        models = [m for m in run.models if f"rank_clean_reference:{m}" in t]
        out["rankings"].append(
            {
                "noise": t.get("noise"),
                "tau": fmt_num(t.get("kendall_tau")),
                "note": t.get("note", ""),
                "ranks": [
                    {
                        "model": m,
                        "clean": _fmt_rank(t.get(f"rank_clean_reference:{m}")),
                        "noisy": _fmt_rank(t.get(f"rank_noisy_reference:{m}")),
                        "moved": t.get(f"rank_clean_reference:{m}") != t.get(f"rank_noisy_reference:{m}"),
                    }
                    for m in models
                ],
            }
        )
    noises = sorted({str(r.get("noise")) for r in moves}, key=F.condition_sort_key)
    for i, a in enumerate(run.models):
        for b in run.models[i + 1 :]:
            base = _pair(run, h, {"condition": "clean", "split": "id"}, a, b)
            if base is None:
                continue
            for noise in noises:
                noisy = next(
                    (
                        p
                        for split in ("ood", "id")
                        if (p := _pair(run, h, {"condition": noise, "split": split}, a, b)) is not None
                    ),
                    None,
                )
                if noisy is None:
                    continue
                sig_a, sig_b = base.get("significant") is True, noisy.get("significant") is True
                flipped = (
                    _finite(base.get("diff"))
                    and _finite(noisy.get("diff"))
                    and (float(base["diff"]) > 0) != (float(noisy["diff"]) > 0)
                )
                changed = sig_a != sig_b or (sig_a and sig_b and flipped)
                out["pairs"].append(
                    {
                        "pair": f"{run.name(a)} - {run.name(b)}",
                        "noise": noise,
                        "clean": fmt_num(base.get("diff")),
                        "clean_ci": fmt_ci(base.get("ci_low"), base.get("ci_high")),
                        "clean_sig": base.get("significant"),
                        "noisy": fmt_num(noisy.get("diff")),
                        "noisy_ci": fmt_ci(noisy.get("ci_low"), noisy.get("ci_high")),
                        "noisy_sig": noisy.get("significant"),
                        "changed": bool(changed),
                    }
                )
    out["n_changed"] = sum(p["changed"] for p in out["pairs"])
    out["diffs"] = [
        {
            "model": r.get("model"),
            "noise": r.get("noise"),
            "condition": r.get("condition"),
            "clean": fmt_num(r.get("diff_clean_reference")),
            "noisy": fmt_num(r.get("diff_noisy_reference")),
            "move": fmt_num(r.get("move")),
        }
        for r in run.records("robustness", "label_noise_diff", metric=h)
    ]
    return out


def _section_efficiency(run: _Run) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "columns": [], "rows": [], "notes": [], "missing": None}
    prov = run.summary.get("provenance") or {}
    inference = prov.get("inference_s_median") or {}
    listed = [e for e in run.summary.get("models") or [] if isinstance(e, dict)]
    entries = {str(e.get("name") or e.get("model")): e for e in listed}
    if not entries:
        out["notes"].append(
            "Parameters, FLOPs, memory and energy are not recorded for this run (summary.json has "
            "no \u201cmodels\u201d entry); only the measured inference times are shown."
        )
    fields = [(k, lab, kind) for k, lab, kind in EFFICIENCY_FIELDS if any(k in e for e in entries.values())]
    out["columns"] = [lab for _, lab, _ in fields]
    id_cells = _id_means(run, h)
    ood = _ood_cells(run, h)
    ood_means = ood.groupby("model")["mean"].mean() if not ood.empty else pd.Series(dtype=float)
    perf = []
    reasons: dict[str, str] = {}
    for model in run.models + [m for m in entries if m not in run.models]:
        e = entries.get(model, {})
        values = []
        for key, _, kind in fields:
            v = e.get(key)
            method = str(e.get(f"{key}_method") or "")
            if v is None and method.startswith("not measured"):
                reasons[f"{model}: {key}"] = method
            values.append({"text": fmt_count(v) if kind == "count" else fmt_num(v), "title": method})
        c = id_cells.get(model, {})
        out["rows"].append(
            {
                "model": model,
                "family": run.family_of(model) if model in run.families else e.get("family") or "?",
                "values": values,
                "inference": "n/a" if model in run.human else fmt_num(inference.get(model)),
                "id_mean": fmt_num(c.get("mean")),
                "ood_mean": fmt_num(ood_means[model]) if model in ood_means.index else "n/a",
            }
        )
        perf.append(
            {
                "model": model,
                "family": run.families.get(model) or e.get("family") or "?",
                "parameters": e.get("parameters"),
                "id_mean": c.get("mean"),
                "id_low": c.get("ci_low"),
                "id_high": c.get("ci_high"),
                "ood_mean": float(ood_means[model]) if model in ood_means.index else None,
            }
        )
    out["reasons"] = [f"{k}: {v}" for k, v in reasons.items()]
    fig = _figure(
        F.efficiency_figure(pd.DataFrame(perf), h),
        f"{h} against parameter count: ID clean mean with {run.level:.0%} CI (filled) and mean over OOD "
        "conditions (hollow)",
    )
    if fig:
        out["figures"].append(fig)
    elif entries:
        out["notes"].append("No model has a parameter count: no performance-against-size plot.")
    return out


def _section_examples(run: _Run) -> dict[str, Any]:
    out: dict[str, Any] = {
        "examples": [],
        "gallery": None,
        "notes": [],
        "examples_missing": None,
        "gallery_missing": None,
        "no_prediction": [],
    }
    folder = run.dir / "examples"
    files = [p for p in sorted(folder.glob("*.png")) if not p.name.startswith("search_")] if folder.is_dir() else []
    captions = {
        "worst_case": "Worst case (lowest mean headline metric over models under the worst shifted condition), "
        "clean and shifted: reference outline green, each model's prediction red",
        "median_case": "Median case under the same condition: reference outline green, predictions red",
    }
    order = list(captions)
    for path in sorted(files, key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.name)):
        fig, why = _embed(path, captions.get(path.stem))
        if fig:
            out["examples"].append(fig)
        if why:
            out["notes"].append(why)
    counts = status_counts(run.cases["status"])
    if not files:
        out["examples_missing"] = (
            "Example slices (worst and median case; image, reference and prediction under "
            "clean and shifted conditions) are not stored for this run."
            if counts[OK]
            else f"No example slices: no work item has an ok row to draw ({_tally(counts)})."
        )
    for model in run.models:  # a model without one ok row has no prediction in any picture: say so, here
        c = status_counts(run.cases.loc[run.cases["model"] == model, "status"])
        if c["rows"] and not c[OK]:
            out["no_prediction"].append(f"{run.name(model)}: no ok row ({_tally(c)}), so no prediction of it is drawn.")
    gallery = run.dir / GALLERY
    if gallery.is_file():
        caption = "Shift gallery: each condition at each severity on one ID case (label outline in red)"
        out["gallery"], why = _embed(gallery, caption)
        if why:
            out["notes"].append(why)
    else:
        out["gallery_missing"] = f"The shift gallery (shift × severity) is not stored ({GALLERY} absent)."
    return out


def _tally(counts: Mapping[str, int]) -> str:
    """``24 rows: 12 ok, 3 failed, 9 unavailable`` (a :func:`status_counts` result)."""
    return f"{counts['rows']} rows: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES)


def _empty_reference(notes: Any, vol_ref: Any) -> bool:
    if _finite(vol_ref) and float(vol_ref) == 0.0:
        return True
    if not isinstance(notes, str) or not notes:
        return False
    try:
        parsed = json.loads(notes)
    except json.JSONDecodeError:
        return "reference empty" in notes or "both masks empty" in notes
    values = parsed.values() if isinstance(parsed, dict) else [parsed]
    return any("reference empty" in str(v) or "both masks empty" in str(v) for v in values)


def _section_data(run: _Run) -> dict[str, Any]:
    cases = run.cases
    ds = run.summary.get("dataset") or {}
    counts = status_counts(cases["status"])  # as summary.json's ``counts`` (checked equal on reading)
    failed = cases[cases["status"] != OK] if len(cases) else cases  # failed and unavailable: reasons
    ok = cases[cases["status"] == OK] if len(cases) else cases
    unavailable = failed[failed["status"] == UNAVAILABLE] if len(failed) else failed
    vol = ok["vol_ref_ml"] if "vol_ref_ml" in ok else pd.Series([None] * len(ok), index=ok.index)
    notes = ok["metric_notes"] if "metric_notes" in ok else pd.Series([""] * len(ok), index=ok.index)
    empty = ok[[_empty_reference(n, v) for n, v in zip(notes, vol, strict=True)]] if len(ok) else ok
    data_summary = next(iter(run.records("data", "summary")), {})
    replaced = [
        {
            "metric": m,
            "replaced": data_summary.get(f"n_replaced:{m}"),
            "missing": data_summary.get(f"n_missing:{m}"),
            "worst": fmt_num(data_summary.get(f"worst_value:{m}")),
        }
        for m in run.metrics
        if f"n_replaced:{m}" in data_summary
    ]
    sites = []
    if len(cases):
        for site, g in cases.groupby("site", sort=True):
            splits = sorted(set(g.loc[g["shift"] == "clean", "split"])) or sorted(set(g["split"]))
            site_counts = status_counts(g["status"])
            sites.append(
                {
                    "site": site,
                    "split": ", ".join(splits),
                    "cases": int(g["case_id"].nunique()),
                    "rows": site_counts["rows"],
                    "ok": site_counts[OK],
                    "failed": site_counts[FAILED],
                    "unavailable": site_counts[UNAVAILABLE],
                    "empty": int(empty.loc[empty["site"] == site, "case_id"].nunique()) if len(empty) else 0,
                }
            )
    reasons = pd.Series(dtype=int)
    if len(failed):
        reasons = failed.groupby(["status", "error"]).size().sort_values(ascending=False, kind="stable")
    listed = failed[failed["status"] != UNAVAILABLE].head(MAX_FAILED_LISTED)  # unavailable: by reason only
    out: dict[str, Any] = {
        "listed": ds.get("listed"),
        "excluded": ds.get("excluded_by_split") or [],
        "n_rows": counts["rows"],  # = n_ok + n_failed + n_unavailable
        "n_failed": counts[FAILED],
        "n_ok": counts[OK],
        "n_unavailable": counts[UNAVAILABLE],
        "n_cases": int(ok["case_id"].nunique()) if len(ok) else 0,  # evaluated: at least one row scored
        "failed_cases": ds.get("failed_cases") or [],
        "reasons": [
            {"status": str(status), "reason": str(error) or "(no reason recorded)", "n": int(n)}
            for (status, error), n in zip(reasons.index.tolist(), reasons.tolist(), strict=True)
        ],
        "failed": [
            {
                "model": r["model"],
                "case_id": r["case_id"],
                "condition": run.label(r["shift"], r["severity"], r["split"]),
                "error": r.get("error", ""),
            }
            for _, r in listed.iterrows()
        ],
        "failed_more": max(len(failed) - len(unavailable) - MAX_FAILED_LISTED, 0),
        "empty_cases": sorted(set(empty["case_id"])) if len(empty) else [],
        "empty_rows": len(empty),
        "replaced": replaced,
        "sites": sites,
        "notes": [r.get("note", "") for r in run.records("data", "note")],
        "preview": None,
        "preview_missing": None,
    }
    preview = run.dir / DATA_PREVIEW
    if preview.is_file():
        caption = "Dataset preview: one case per site, lesion outline in red"
        out["preview"], out["preview_missing"] = _embed(preview, caption)
    else:
        out["preview_missing"] = f"The dataset preview is not stored for this run (no {DATA_PREVIEW})."
    return out


def _section_provenance(run: _Run) -> dict[str, Any]:
    prov = dict(run.summary.get("provenance") or {})
    known = (
        "protocol_file",
        "protocol_sha256",
        "git_commit",
        "engine",
        "machine",
        "start_time",
        "end_time",
        "timings_s",
        "packages",
        "seeds",
        "inference_s_median",
    )
    machine = prov.get("machine") or {}
    settings = (run.summary.get("settings") or [{}])[0]
    return {
        "rows": [
            ("protocol", (run.summary.get("protocol") or {}).get("name", "?")),
            ("protocol file", prov.get("protocol_file", "n/a")),
            ("protocol sha256", prov.get("protocol_sha256", "n/a")),
            ("git commit", prov.get("git_commit") or "unknown"),
            ("engine", prov.get("engine", "n/a")),
            ("machine", ", ".join(f"{k} {v}" for k, v in machine.items() if v not in (None, "")) or "n/a"),
            ("start / end", f"{prov.get('start_time', '?')} / {prov.get('end_time', '?')}"),
            ("timings (s)", _kv(prov.get("timings_s"))),
            ("seeds", _kv(prov.get("seeds"))),
            ("median inference time per case (s)", _kv(prov.get("inference_s_median"))),
            ("packages", _kv(prov.get("packages"))),
            ("metric settings", _kv({k: v for k, v in _metric_settings(run).items() if k != "panel"})),
            ("statistics", _kv({k: v for k, v in settings.items() if k not in ("versions", "checks")})),
            ("statistics libraries", _kv(settings.get("versions"))),
        ]
        + [(k, _fmt_any(v)) for k, v in prov.items() if k not in known],
        "protocol_json": json.dumps(run.summary.get("protocol") or {}, indent=2),
    }


def _metric_settings(run: _Run) -> dict[str, Any]:
    """The protocol's ``metrics`` block as run (convention, tolerances, lesion rules); {} when not recorded."""
    metrics = (run.summary.get("protocol") or {}).get("metrics")
    return dict(metrics) if isinstance(metrics, dict) else {}


def _kv(mapping: Any) -> str:
    if not isinstance(mapping, dict) or not mapping:
        return "n/a"
    return ", ".join(f"{k} {f'{v:g}' if isinstance(v, float) else _fmt_any(v)}" for k, v in mapping.items())


# --- entry points -----------------------------------------------------------------------------------------


def _section_search(run: _Run) -> dict[str, Any]:
    """Breaking points (value and CI per model and shift) and the worst case found, from ``summary["search"]``."""
    from robusteval.report.examples import param_text

    search = run.summary.get("search")
    if not search:
        return {"missing": "This protocol has no search: block (worst-case shift search with Ray Tune)."}
    points = [
        {
            "model": str(b.get("model")),
            "shift": str(b.get("shift")),
            "parameter": str(b.get("parameter")),
            "value": _fmt_any(b.get("value")),
            "ci": fmt_ci(b.get("ci_low"), b.get("ci_high")),
            "bracket": "" if b.get("bracket") is None else str(b.get("bracket")),
            "threshold": _fmt_any(b.get("threshold")),
            "note": str(b.get("note") or ""),
        }
        for b in search.get("breaking_points", [])
    ]
    worst = [
        {
            "model": str(w.get("model")),
            "objective": _fmt_any(w.get("objective")),
            "params": "; ".join(param_text(p) for p in (w.get("params") or [])) or "none",
            "trials": f"{w.get('n_complete')}/{w.get('n_trials')} ({w.get('algorithm')}, {w.get('scheduler')})",
        }
        for w in search.get("worst_case", [])
    ]
    records = search.get("breaking_points", [])
    figures = [
        _figure(
            F.breaking_point_figure(records, run.models),
            "Breaking points with 95% case-bootstrap intervals: further right tolerates more of the shift",
        ),
        _figure(F.search_trace_figure(records, run.models), "Search trace: objective at each value tried"),
    ]
    folder = run.dir / "examples"
    for path in sorted(folder.glob("search_worst_*.png")) if folder.is_dir() else []:
        fig, _ = _embed(
            path, "Worst case found by the search on its most affected case: reference green, prediction red"
        )
        figures.append(fig)
    return {"missing": "", "points": points, "worst": worst, "figures": [f for f in figures if f]}


def build_context(run_dir: Path) -> dict[str, Any]:
    """The template context of a run dir (every section's data, figures as data URIs)."""
    run = _load(Path(run_dir))
    protocol = run.summary.get("protocol") or {}
    counts = status_counts(run.cases["status"])
    return {
        "protocol": protocol,
        "title": str(protocol.get("name", run.dir.name)),
        "description": str(protocol.get("description", "")),
        "sections": SECTIONS,
        "headline": run.headline,
        "level": f"{run.level:.0%}",
        "correction": run.correction,
        "n_models": len(run.models),
        "n_cases": int(run.cases["case_id"].nunique()) if len(run.cases) else 0,
        "n_failed": counts[FAILED],
        "n_unavailable": counts[UNAVAILABLE],
        "n_rows": counts["rows"],
        "verdict": _section_verdict(run),
        "id_vs_ood": _section_id_vs_ood(run),
        "degradation": _section_degradation(run),
        "search": _section_search(run),
        "differences": _section_differences(run),
        "distributions": _section_distributions(run),
        "lesion_size": _section_lesion_size(run),
        "label_noise": _section_label_noise(run),
        "efficiency": _section_efficiency(run),
        "examples": _section_examples(run),
        "data": _section_data(run),
        "provenance": _section_provenance(run),
    }


def render_report(run_dir: Path) -> Path:
    """Write ``run_dir/index.html`` from the run dir's files alone; returns its path.

    A RobustEvalError, nothing written, when summary.json or cases.csv is unreadable or they disagree.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("index.html.j2").render(**build_context(run_dir))
    out = Path(run_dir) / "index.html"
    out.write_text(html, encoding="utf-8")
    return out
