"""The quick commands stay quick: ``metrics``, ``validate``, ``list`` and ``schema`` import no deep-learning
stack (torch, MONAI, Ray, TorchIO) and no plotting or table library (matplotlib, pandas).

Each command runs in a fresh interpreter, which then reports the modules it holds. The check is on imports,
not on time: importing torch alone takes seconds, so a command that avoids it starts in well under a second
(docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

HEAVY = ("torch", "monai", "ray", "torchio", "matplotlib", "pandas")
ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys
from robusteval.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "heavy": sorted(m for m in %r if m in sys.modules)}))
"""


def _imports(argv: list[str]) -> tuple[int, list[str]]:
    """(exit code, the HEAVY modules imported) of ``python -m robusteval *argv`` run in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE % (HEAVY,), *argv], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return int(report["code"]), list(report["heavy"])


def _protocol(tmp_path: Path, model: str, family: str) -> str:
    path = tmp_path / f"{model}.yaml"
    path.write_text(
        "name: quick\n"
        "dataset: {source: synthetic, params: {sites: [A, B], test_subjects: 2}}\n"
        f"models: [{{name: {model}, family: {family}, adapter: zoo, params: {{entry: {model}}}}}]\n"
        "shifts: [{shift: bias_field, severities: [1, 5]}, {shift: motion, severities: [2]}]\n"
        "metrics: {panel: [dsc, hd95], convention: wmh2017}\n"
        "execution: {engine: local}\n",
        encoding="utf-8",
    )
    return str(path)


@pytest.mark.parametrize(
    "argv",
    [["list", "shifts"], ["list", "models"], ["list", "metrics"], ["list", "engines"], ["schema"]],
    ids=lambda a: " ".join(a),
)
def test_listing_commands_import_no_heavy_library(argv: list[str]) -> None:
    assert _imports(argv) == (0, [])


def test_metrics_command_imports_no_heavy_library(tmp_path: Path) -> None:
    ref = np.zeros((8, 8, 8), dtype=np.uint8)
    ref[2:5, 2:5, 2:5] = 1
    for name, data in (("ref", ref), ("pred", np.roll(ref, 1, axis=0))):
        nib.save(nib.Nifti1Image(data, np.eye(4)), str(tmp_path / f"{name}.nii.gz"))
    argv = ["metrics", str(tmp_path / "pred.nii.gz"), str(tmp_path / "ref.nii.gz"), "--json"]
    assert _imports(argv) == (0, [])
    assert _imports([*argv, "--convention", "wmh2017"]) == (0, [])


def test_validate_imports_torch_only_for_network_models(tmp_path: Path) -> None:
    cache = ["--cache", str(tmp_path / "cache")]  # no generated data: the split is not checked
    # A classical model (the zoo's LST): the adapter builds without torch, and the shifts are only constructed.
    assert _imports(["validate", _protocol(tmp_path, "lst", "classical"), *cache]) == (0, [])
    # A network: validate builds it on the CPU from its checkpoint, which needs torch and MONAI.
    code, heavy = _imports(["validate", _protocol(tmp_path, "unet", "cnn"), *cache])
    assert code == 0
    assert {"torch", "monai"} <= set(heavy)
    assert "ray" not in heavy
    assert "torchio" not in heavy
