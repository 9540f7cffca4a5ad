"""Generation time of the default synthetic dataset (3 sites x 4 test subjects at 2 mm), cold.

"Cold" includes loading and resampling the MNI152 template maps (their in-process cache is cleared before
each repeat), as a first ``robusteval run`` on a fresh machine does. The budget is the issue's: about a
minute on two CPU cores.
"""

from __future__ import annotations

__all__ = ["run"]

import tempfile
from pathlib import Path

from benchmarks.common import BenchRow, best_of
from robusteval.data.synthetic import SynthSpec, generate, template_maps

DEFAULT = SynthSpec()  # sites A, B, C; 4 test subjects each; 2 mm; seed 0
BUDGET_S = 60.0


def _generate_cold() -> None:
    template_maps.cache_clear()
    with tempfile.TemporaryDirectory() as tmp:
        generate(DEFAULT, Path(tmp) / "ds")


def run() -> list[BenchRow]:
    """One row: the default dataset's generation time against the 60 s budget."""
    seconds = best_of(_generate_cold, repeat=2)
    name = f"data: synth {len(DEFAULT.sites)} sites x {DEFAULT.test_subjects} @ {DEFAULT.resolution_mm:g} mm"
    return [BenchRow(name, seconds, "budget 60 s", BUDGET_S, goal="ratio >= 1 (within budget)")]
