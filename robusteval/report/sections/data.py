"""Section 10, data: listed and evaluated cases, failures and their reasons, empty references, sites."""

from __future__ import annotations

__all__ = ["MAX_FAILED_LISTED", "build"]

import json
from typing import Any

import pandas as pd

from robusteval.report.embed import embed_png
from robusteval.report.fmt import (
    finite,
    fmt_num,
)
from robusteval.report.view import RunView
from robusteval.rundir import DATA_PREVIEW, IMAGE_ORIENTATION
from robusteval.status import FAILED, OK, UNAVAILABLE, status_counts

MAX_FAILED_LISTED = 300


def _empty_reference(notes: Any, vol_ref: Any) -> bool:
    if finite(vol_ref) and float(vol_ref) == 0.0:
        return True
    if not isinstance(notes, str) or not notes:
        return False
    try:
        parsed = json.loads(notes)
    except json.JSONDecodeError:
        return "reference empty" in notes or "both masks empty" in notes
    values = parsed.values() if isinstance(parsed, dict) else [parsed]
    return any("reference empty" in str(v) or "both masks empty" in str(v) for v in values)


def build(run: RunView) -> dict[str, Any]:
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
        caption = f"Dataset preview: one case per site, lesion outline in red; {IMAGE_ORIENTATION}"
        out["preview"], out["preview_missing"] = embed_png(preview, caption)
    else:
        out["preview_missing"] = f"The dataset preview is not stored for this run (no {DATA_PREVIEW})."
    return out
