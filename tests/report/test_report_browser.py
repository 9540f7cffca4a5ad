"""The report in headless Chromium: no console errors, verdict and tables present, every image loaded.

A probe script is injected at the top of a copy of the report; it records errors (script errors, failed
resources, console.error / console.warn) and, on load, writes what it found into the DOM, which Chromium
prints with ``--dump-dom``. Skipped when Chromium is missing, except under CI (``CI=true``), where that fails.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

PROBE = """<script>
window.__probe = [];
window.addEventListener("error", function (e) {
  var t = e.target;
  window.__probe.push(t && t !== window && t.tagName ? "failed to load " + t.tagName : "error: " + e.message);
}, true);
["error", "warn"].forEach(function (level) {
  var original = console[level];
  console[level] = function () {
    window.__probe.push("console." + level + ": " + Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
});
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var result = {
    errors: window.__probe,
    images: images.length,
    broken: images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) {
      return i.alt; }),
    cards: document.querySelectorAll("#verdict .card").length,
    tables: document.querySelectorAll("#id-vs-ood table").length,
    sections: document.querySelectorAll("section").length,
    scripts: document.scripts.length,
    handlers: document.querySelectorAll("[onerror],[onload],[onmouseover]").length,
    pwned: typeof window.__pwned !== "undefined"
  };
  var pre = document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>"""
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=10000",
)


def _chromium() -> str:
    found = os.environ.get("ROBUSTEVAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if Path(found).is_file():
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("headless Chromium is required under CI (apt-get install chromium)")
    pytest.skip("Chromium is not installed (Debian package 'chromium')")


def _probe(report: Path, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """Open a probed copy of ``report`` in headless Chromium; (probe result, Chromium's log)."""
    text = report.read_text(encoding="utf-8")
    page = tmp_path / "probed.html"
    page.write_text(text.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
    cmd = [_chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', proc.stdout, re.DOTALL)
    assert match, f"no probe result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1))), proc.stderr


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line and re.search(r"Uncaught|rror", line)]


def test_rich_report_opens_cleanly(rich_run: Path, rich_html: str, tmp_path: Path) -> None:
    result, log = _probe(rich_run / "index.html", tmp_path)
    assert result["errors"] == []
    assert _console_errors(log) == []
    assert result["sections"] == 11
    assert result["cards"] == 3
    assert result["tables"] >= 5
    assert result["images"] >= 8
    assert result["broken"] == []


def test_payload_names_stay_inert_in_the_browser(
    payload_run: Path,
    payload_html: str,
    tmp_path: Path,
) -> None:
    result, log = _probe(payload_run / "index.html", tmp_path)
    assert result["pwned"] is False
    assert result["handlers"] == 0
    assert result["scripts"] == 2  # the probe and the report's print helper
    assert result["errors"] == []
    assert _console_errors(log) == []
    assert result["broken"] == []
