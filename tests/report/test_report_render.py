"""The HTML report: sections in order, offline, escaped, every section present or saying why it is absent."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape
from report_fixtures import PAYLOADS, minimal_cases, write_png, write_run

from robusteval.cli import main
from robusteval.report import SECTIONS, render_report
from robusteval.report.fmt import fmt_ci, fmt_count, fmt_num, fmt_p
from robusteval.rundir import MAX_IMAGE_WIDTH_PX
from robusteval.stats.synthetic import make_cases

MAX_BYTES = 10 * 2**20


def _section(html: str, anchor: str) -> str:
    """The HTML of one section."""
    start = html.index(f'<section id="{anchor}">')
    return html[start : html.index("</section>", start)]


def test_sections_in_order(rich_html: str) -> None:
    positions = [rich_html.index(f'<section id="{anchor}">') for anchor, _ in SECTIONS]
    assert positions == sorted(positions)
    assert len(SECTIONS) == 11


def test_report_is_offline_and_small(rich_html: str) -> None:
    assert "http://" not in rich_html
    assert "https://" not in rich_html
    assert "<link" not in rich_html
    assert "@import" not in rich_html
    sources = re.findall(r'\bsrc="([^"]*)"', rich_html)
    assert len(sources) >= 8
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert len(rich_html.encode("utf-8")) < MAX_BYTES


def test_verdict_names_best_models_with_intervals_and_checks(rich_html: str) -> None:
    verdict = _section(rich_html, "verdict")
    for label in ("Best in distribution", "Best out of distribution", "Most robust"):
        assert label in verdict
    assert re.search(r"\[\d\.\d{3}, \d\.\d{3}\]", verdict)  # a CI
    assert "adjusted p" in verdict
    assert "significant" in verdict
    assert "family[T.vit]" in verdict  # the mixed model's family effect
    for status in ("PASS", "WARN", "FAIL"):
        assert f'class="status {status}"' in verdict


def test_ood_and_robust_cards_have_intervals_and_paired_tests(rich_html: str, rich_run: Path) -> None:
    """The OOD and robustness cards carry the pooled records' intervals and their adjusted paired tests."""
    summary = json.loads((rich_run / "summary.json").read_text())
    pooled = {
        (r["model"], r["quantity"]): r for r in summary["robustness"] if r["kind"] == "pooled" and r["metric"] == "dsc"
    }
    cards = _section(rich_html, "verdict").split('<div class="card">')[1:]
    ood = next(c for c in cards if "Best out of distribution" in c)
    robust = next(c for c in cards if "Most robust" in c)
    assert "on the per-case OOD mean (paired)" in ood
    assert "on the per-case degradation (paired)" in robust
    for card, quantity in ((ood, "ood_mean"), (robust, "degradation")):
        model = re.search(r'<div class="card-model">(\S+) ', card)
        assert model is not None
        p = pooled[(model.group(1), quantity)]
        assert f"[{p['ci_low']:.3f}, {p['ci_high']:.3f}]" in card


def test_verdict_leads_with_the_primary_questions(rich_html: str, rich_run: Path) -> None:
    """Primary questions first, each with the interval adjusted as its p-value; the power line and the notes."""
    verdict = _section(rich_html, "verdict")
    assert verdict.index("Primary questions") < verdict.index("Best models") < verdict.index("Best in distribution")
    summary = json.loads((rich_run / "summary.json").read_text())
    tested = [r for r in summary["primary"] if r["kind"] == "question" and r["p_adjusted"] is not None]
    assert tested
    table = verdict[verdict.index('<table class="primary">') :]
    table = table[: table.index("</table>")]
    for r in tested:
        row = next(line for line in table.split("<tr") if str(escape(r["label"])) in line)
        assert fmt_ci(r["ci_adjusted_low"], r["ci_adjusted_high"]) in row
        assert fmt_p(r["p_adjusted"]) in row
        assert "significant" in row
        assert ("not significant" in row) != r["significant"]
    assert "Power: at the run" in verdict
    assert "cannot detect a 0.050 dsc difference" in verdict
    assert "Small samples:" in verdict
    assert "exploratory" in verdict


def test_verdict_says_when_the_mixed_model_failed(rich_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "failed-fit"
    shutil.copytree(rich_run, run)
    summary = json.loads((run / "summary.json").read_text())
    for r in summary["mixed_effects"]:
        if r["kind"] == "fit":
            r.update(accepted=False, note="no model the data support could be fitted (3 tried)")
            r["attempts"] = [{"formula": r["formula"], "accepted": False, "reason": "the optimizer did not converge"}]
        elif r["kind"] == "coefficient":
            r.update(reported=False, ci_low=None, ci_high=None, p_value=None, p_adjusted=None, significant=None)
    (run / "summary.json").write_text(json.dumps(summary))
    verdict = _section(render_report(run).read_text(encoding="utf-8"), "verdict")
    assert "The mixed model of dsc failed" in verdict
    assert "Mixed model failed" in verdict
    assert "family[T.vit]" not in verdict  # no family effect is reported from a failed fit


def test_tables_and_sections_have_content(rich_html: str) -> None:
    table = _section(rich_html, "id-vs-ood")
    assert "OOD sites (pooled)" in table
    assert "site B" in table
    assert "motion@4" in table
    assert 'class="worse"' in table or 'class="better"' in table
    assert "Worst group" in table
    assert "<img" in _section(rich_html, "degradation")
    assert _section(rich_html, "differences").count("<img") == 2
    assert _section(rich_html, "distributions").count("<img") == 3  # box/strip, significance map, blobs
    lesions = _section(rich_html, "lesion-size")
    assert "small lesions" in lesions
    assert "<img" in lesions
    noise = _section(rich_html, "label-noise")
    assert "label_erode@1" in noise
    assert "Kendall" in noise
    assert "<img" in noise
    efficiency = _section(rich_html, "efficiency")
    assert "92 M" in efficiency
    assert "not measured: no RAPL counters" in efficiency
    data = _section(rich_html, "data")
    assert "truncated gzip stream" in data
    assert "replaced by the worst value (100.0)" in data
    prov = _section(rich_html, "provenance")
    assert "0" * 64 in prov
    assert "Protocol as run" in prov


def test_absent_inputs_say_so_in_one_line(payload_html: str) -> None:
    assert "does not measure lesion recall by size" in _section(payload_html, "lesion-size")
    assert "no label-noise conditions" in _section(payload_html, "label-noise")
    assert "no \u201cmodels\u201d entry" in _section(payload_html, "efficiency")
    examples = _section(payload_html, "examples")
    assert "not stored for this run" in examples
    assert "gallery.png absent" in examples
    assert "no data_preview.png" in _section(payload_html, "data")
    assert "declares no checks" in _section(payload_html, "verdict")


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_user_strings_are_escaped(payload_html: str, kind: str) -> None:
    payload = PAYLOADS[kind]
    assert payload not in payload_html
    assert str(escape(payload)) in payload_html


def test_no_injected_markup(payload_html: str) -> None:
    assert payload_html.count("<script") == 1  # the report's own print helper
    assert not re.search(r"<[a-z]+[^>]*\s(onerror|onload|onmouseover)=", payload_html, re.IGNORECASE)
    assert "<svg" not in payload_html
    assert "<img src=x" not in payload_html


def test_one_model_run_without_ood(minimal_run: Path) -> None:
    html = render_report(minimal_run).read_text(encoding="utf-8")
    assert "Best in distribution" in html
    assert "Only one model" in html
    assert "no simulated shifts" in html
    assert "Only one model family (cnn)" in html


def test_all_failed_run_renders_with_failures_listed(tmp_path: Path) -> None:
    cases = minimal_cases()
    cases["status"] = "failed"
    cases["error"] = "RuntimeError: CUDA out of memory"
    cases[["dsc", "hd95"]] = float("nan")
    html = render_report(write_run(tmp_path / "run", cases, ["dsc", "hd95"])).read_text(encoding="utf-8")
    assert "4 work item(s) failed" in html
    assert "No successful in-distribution results" in html
    data = _section(html, "data")
    assert data.count("CUDA out of memory") == 5  # the reason summary and the four items
    examples = _section(html, "examples")
    assert "No example slices: no work item has an ok row to draw (4 rows: 0 ok, 4 failed, 0 unavailable)." in examples
    assert "unet: no ok row (4 rows: 0 ok, 4 failed, 0 unavailable), so no prediction of it is drawn." in examples


def test_examples_section_names_a_model_without_an_ok_row(tmp_path: Path) -> None:
    """An external tool with no ok row (its files missing or unreadable) is in no picture: said where they are."""
    cases = make_cases(models={"unet": "cnn", "lst": "external"}, n_id=4, ood_sites={}, shifts={}, severities=(),
                       seed=0)  # fmt: skip
    tool = cases.index[cases["model"] == "lst"]
    cases.loc[tool, ["status", "error", "dsc", "hd95"]] = ["unavailable", "model lst: no prediction", None, None]
    cases.loc[tool[0], ["status", "error"]] = ["failed", "CaseError: model lst: mask on another grid"]
    run_dir = write_run(tmp_path / "run", cases, ["dsc", "hd95"])
    write_png(run_dir / "examples" / "worst_case.png")
    examples = _section(render_report(run_dir).read_text(encoding="utf-8"), "examples")
    assert "lst: no ok row (4 rows: 0 ok, 1 failed, 3 unavailable), so no prediction of it is drawn." in examples
    assert "unet: no ok row" not in examples
    assert "<figure>" in examples


def test_stored_images_are_embedded(minimal_run: Path) -> None:
    write_png(minimal_run / "examples" / "worst_case.png")
    write_png(minimal_run / "examples" / "median_case.png")
    (minimal_run / "examples" / "broken.png").write_bytes(b"not a png")
    write_png(minimal_run / "gallery.png")
    write_png(minimal_run / "data_preview.png")
    html = render_report(minimal_run).read_text(encoding="utf-8")
    examples = _section(html, "examples")
    assert examples.count("<img") == 3
    assert examples.index("Worst case (lowest mean") < examples.index("Median case under")
    assert "broken.png: not a PNG file" in examples
    assert "<img" in _section(html, "data")
    assert "not stored" not in html


def test_cli_rerenders_identically(minimal_run: Path) -> None:
    first = render_report(minimal_run).read_text(encoding="utf-8")
    copy = minimal_run.parent / "copy"
    shutil.copytree(minimal_run, copy)
    (copy / "index.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "index.html").read_text(encoding="utf-8") == first


def test_names_that_look_like_missing_values_survive(tmp_path: Path) -> None:
    cases = minimal_cases()
    cases["model"] = "NA"
    cases["case_id"] = ["None", "null", "nan", "001"]
    html = render_report(write_run(tmp_path / "run", cases, ["dsc", "hd95"])).read_text(encoding="utf-8")
    assert "<b>NA</b>" in html
    frame = pd.read_csv(tmp_path / "run" / "cases.csv", dtype=str, keep_default_na=False)
    assert list(frame["case_id"]) == ["None", "null", "nan", "001"]


def test_formatters() -> None:
    assert fmt_num(0.123456) == "0.123"
    assert fmt_num(51.2834) == "51.28"
    assert fmt_num(None) == "n/a"
    assert fmt_num(float("nan")) == "n/a"
    assert fmt_p(0.0001) == "<0.001"
    assert fmt_p(None) == "n/a"
    assert fmt_ci(0.1, 0.2) == "[0.100, 0.200]"
    assert fmt_ci(None, 0.2) == "no CI"
    assert fmt_count(92_000_000) == "92 M"
    assert fmt_count(3.3e11) == "330 G"


def _png_widths(html: str) -> list[int]:
    """Pixel widths of the PNG images embedded in ``html`` (from each PNG's IHDR chunk)."""
    heads = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/]{32})', html)
    return [struct.unpack(">I", base64.b64decode(h)[16:20])[0] for h in heads]


def test_every_chart_fits_the_page_at_its_own_size(tmp_path: Path) -> None:
    """A run of many shifts and models: no figure is wider than the page's column, so none is scaled down and
    its labels keep their drawn size (7.5 pt at 110 dpi: about 11 px)."""
    shifts = {f"a-rather-long-shift-name-{i}": "artifact" for i in range(16)}
    models = {f"model-{i}": "cnn" if i % 2 else "vit" for i in range(9)}
    cases = make_cases(models=models, n_id=4, ood_sites={"B": 3}, shifts=shifts, severities=(1, 5), seed=2)
    run_dir = write_run(tmp_path / "wide", cases, ["dsc", "hd95"], name="wide")
    widths = _png_widths(render_report(run_dir).read_text(encoding="utf-8"))
    assert len(widths) >= 6
    assert max(widths) <= MAX_IMAGE_WIDTH_PX


def test_efficiency_shows_energy_and_co2_per_1000_cases_with_the_method(tmp_path: Path) -> None:
    cases = make_cases(models={"unet": "cnn", "unetr": "vit"}, n_id=4, ood_sites={"B": 4}, shifts={},
                       severities=(), seed=0)  # fmt: skip
    estimated = (
        "estimated (power model; no RAPL/NVML counter readable): 10 W per core × 2 core(s) × 0.90 CPU utilisation "
        "× 0.5 s latency per case; grid 475 gCO2eq/kWh (default: world average, IEA 2019, as codecarbon's "
        "fallback); PUE 1.0"
    )
    measured = "measured: RAPL (intel-rapl:0; whole CPU package, all processes), mean of 2 predict() calls"
    models = [
        {"name": "unet", "family": "cnn", "parameters": 1_900_000, "latency_s": 0.5, "energy_j": 9.0,
         "energy_j_method": estimated, "co2_g": 9.0 / 3.6e6 * 475, "co2_g_method": estimated,
         "energy_kwh_per_1000": 9.0 / 3.6e3, "energy_kwh_per_1000_method": estimated,
         "co2_g_per_1000": 9.0 / 3.6e3 * 475, "co2_g_per_1000_method": estimated},
        {"name": "unetr", "family": "vit", "parameters": 92_000_000, "latency_s": 1.3, "energy_j": 40.0,
         "energy_j_method": measured, "co2_g": 40.0 / 3.6e6 * 475, "co2_g_per_1000": 40.0 / 3.6e3 * 475,
         "energy_kwh_per_1000": 40.0 / 3.6e3},
    ]  # fmt: skip
    run = write_run(tmp_path / "run", cases, ["dsc"], models=models)
    html = _section(render_report(run).read_text(encoding="utf-8"), "efficiency")
    for column in ("energy / 1,000 cases (kWh)", "CO2-eq / 1,000 cases (g)", "energy method"):
        assert column in html
    assert fmt_num(9.0 / 3.6e3 * 475) in html  # 1.19 g CO2eq per 1,000 cases
    assert "estimated (power model)" in html
    assert "measured (RAPL)" in html
    assert str(escape(estimated)) in html  # the declared power model and grid, stated in full
    assert "against g CO2eq per 1,000 cases" in html
    assert html.count("data:image/png;base64,") == 2  # against parameters, and against CO2
