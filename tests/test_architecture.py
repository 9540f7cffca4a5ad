"""The layering of docs/architecture.md holds: the import-linter contracts of pyproject.toml are kept.

``lint-imports`` (import-linter) reads every import, those written inside functions too, so an import that
runs upward (the report reaching into the engine, a stage importing the run) fails here and in ``nox -s lint``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_module_of_the_report_is_over_500_lines() -> None:
    """The report stays a set of small readers: one module per section and per figure."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "robusteval" / "report").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}
