"""Generation time of the default synthetic dataset (3 sites x 4 test subjects at 2 mm), cold, by each
generator version.

"Cold" includes loading and resampling the MNI152 template maps (their in-process caches are cleared before
each repeat), as a first ``robusteval run`` on a fresh machine does. The budget is the issues': a minute on two
CPU cores.
"""

from __future__ import annotations

__all__ = ["run"]

import dataclasses
import functools
import tempfile
from pathlib import Path

from benchmarks.common import BenchRow, best_of
from robusteval.data import synthetic_v2
from robusteval.data.synth_common import mni152_maps
from robusteval.data.synthetic import SynthSpec, generate, template_maps

DEFAULT = SynthSpec()  # sites A, B, C; 4 test subjects each; 2 mm; seed 0
BUDGET_S = 60.0


def _generate_cold(spec: SynthSpec) -> None:
    for cached in (template_maps, mni152_maps, synthetic_v2.template, synthetic_v2.mni152_ventricles):
        cached.cache_clear()
    with tempfile.TemporaryDirectory() as tmp:
        generate(spec, Path(tmp) / "ds")


def run() -> list[BenchRow]:
    """One row per generator version: the default dataset's generation time against the 60 s budget."""
    rows = []
    for version in ("1", "2"):
        spec = dataclasses.replace(DEFAULT, version=version)
        seconds = best_of(functools.partial(_generate_cold, spec), repeat=2)
        name = f"data: synth v{version} {len(spec.sites)} sites x {spec.test_subjects} @ {spec.resolution_mm:g} mm"
        rows.append(BenchRow(name, seconds, "budget 60 s", BUDGET_S, goal="ratio >= 1 (within budget)"))
    return rows
