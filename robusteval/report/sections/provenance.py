"""Section 11, provenance: protocol, versions, seeds, machine, timings and settings as run."""

from __future__ import annotations

__all__ = ["build"]

import json
from typing import Any

from robusteval.report.fmt import (
    fmt_any,
    fmt_kv,
)
from robusteval.report.view import RunView


def build(run: RunView) -> dict[str, Any]:
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
            ("timings (s)", fmt_kv(prov.get("timings_s"))),
            ("seeds", fmt_kv(prov.get("seeds"))),
            ("median inference time per case (s)", fmt_kv(prov.get("inference_s_median"))),
            ("packages", fmt_kv(prov.get("packages"))),
            ("metric settings", fmt_kv({k: v for k, v in _metric_settings(run).items() if k != "panel"})),
            ("statistics", fmt_kv({k: v for k, v in settings.items() if k not in ("versions", "checks")})),
            ("statistics libraries", fmt_kv(settings.get("versions"))),
        ]
        + [(k, fmt_any(v)) for k, v in prov.items() if k not in known],
        "protocol_json": json.dumps(run.summary.get("protocol") or {}, indent=2),
    }


def _metric_settings(run: RunView) -> dict[str, Any]:
    """The protocol's ``metrics`` block as run (convention, tolerances, lesion rules); {} when not recorded."""
    metrics = (run.summary.get("protocol") or {}).get("metrics")
    return dict(metrics) if isinstance(metrics, dict) else {}
