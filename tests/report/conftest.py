"""Run-dir fixtures for the report tests (built by ``report_fixtures``; rendered once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import SIZE_METRICS, minimal_cases, payload_cases, rich_cases, write_png, write_run

from robusteval.report import render_report
from robusteval.stats import StatsSettings


@pytest.fixture(scope="session")
def rich_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run dir with every section's inputs (models, checks, label noise, size bins, failures, images)."""
    settings = StatsSettings(
        n_resamples=500,
        reference_model="unet",
        checks=(
            {"ood_drop": {"metric": "dsc", "max": 0.05, "warn": 0.03}},
            {"min_mean": {"metric": "dsc", "min": 0.6}},
        ),
    )
    models = [
        {"name": "unet", "family": "cnn", "parameters": 1_900_000, "flops": 2.1e10, "latency_s": 0.41,
         "peak_memory_mib": 812.0, "energy_j": None, "energy_j_method": "not measured: no RAPL counters"},
        {"name": "resunet", "family": "cnn", "parameters": 6_400_000, "flops": 4.0e10, "latency_s": 0.62,
         "peak_memory_mib": 1020.0},
        {"name": "unetr", "family": "vit", "parameters": 92_000_000, "flops": 8.2e10, "latency_s": 1.35,
         "peak_memory_mib": 2650.0},
        {"name": "swinunetr", "family": "hybrid", "parameters": 62_000_000, "flops": 3.3e11, "latency_s": 2.2,
         "peak_memory_mib": 3100.0},
    ]  # fmt: skip
    metrics = ["dsc", "hd95", *SIZE_METRICS]
    out = tmp_path_factory.mktemp("rich")
    cases = rich_cases(severities=(1, 4))
    worst = {"hd95": 100.0}
    write_run(out, cases, metrics, name="rich", settings=settings, worst_values=worst, models=models)
    for name in ("examples/worst_case.png", "gallery.png", "data_preview.png"):
        write_png(out / name)
    return out


@pytest.fixture(scope="session")
def rich_html(rich_run: Path) -> str:
    """The rich run's report (rendered once per session)."""
    return render_report(rich_run).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def payload_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run dir whose user-supplied names are injection payloads."""
    return write_run(tmp_path_factory.mktemp("payload"), payload_cases(), ["dsc", "hd95"], name="payload")


@pytest.fixture(scope="session")
def payload_html(payload_run: Path) -> str:
    """The payload run's report (rendered once per session)."""
    return render_report(payload_run).read_text(encoding="utf-8")


@pytest.fixture
def minimal_run(tmp_path: Path) -> Path:
    """A run dir with one model and ID cases only (cheap to render)."""
    return write_run(tmp_path / "minimal", minimal_cases(), ["dsc", "hd95"], name="minimal")
