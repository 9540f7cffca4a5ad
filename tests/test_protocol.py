"""The protocol language: every kind of malformed protocol gives exit 2 and a message naming file:line: field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robusteval.cli import main
from robusteval.protocol import load_protocol
from robusteval.protocol.loader import field_path

ROOT = Path(__file__).resolve().parents[1]

VALID = """\
name: t
models:
  - name: unet
    family: cnn
    adapter: zoo
    params: {entry: unet}
shifts:
  - shift: bias_field
    severities: [1, 2]
metrics:
  panel: [dsc, hd95]
"""


def _validate(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err


def test_valid_protocol_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _validate(tmp_path, VALID, capsys)
    assert (code, err) == (0, "")


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "protocols").glob("*.yaml")))
def test_shipped_protocols_are_valid(name: str) -> None:
    protocol = load_protocol(ROOT / "protocols" / name)
    assert protocol.name == name.removesuffix(".yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # severity out of range: the example from the issue, with the exact field path and line
        (VALID.replace("severities: [1, 2]", "severities: [1, 7]"), ":9: shifts[0].severities[1]: 7 is not in 1..5"),
        # unknown key
        (VALID + "  bogus: 1\n", ":12: metrics.bogus: unknown key"),
        # wrong type
        (VALID.replace("name: t", "name: t\nseed: abc"), ":2: seed: input should be a valid integer"),
        # unknown registry names
        (VALID.replace("shift: bias_field", "shift: nope"), ":8: shifts[0].shift: unknown shift 'nope'"),
        (VALID.replace("[dsc, hd95]", "[dsc, dice]"), ":11: metrics.panel: unknown metric 'dice'"),
        (VALID.replace("family: cnn", "family: dnn"), ":4: models[0].family: input should be 'cnn'"),
        # a required field missing
        (VALID.replace("name: t\n", ""), ":1: name: required field is missing"),
        (VALID + "checks:\n  - {no_such_check: {max: 1}}\n", ":13: checks[0]: unknown check 'no_such_check'"),
        (
            VALID.replace("name: t", "name: t\nstatistics: {ci_method: bca}"),
            ":2: statistics.ci_method: input should be",
        ),
        (
            VALID.replace("bias_field", "scanner\n    options: {profile: D}"),
            ":8: shifts[0]: shift 'scanner': option 'profile'",
        ),
        # missing referenced files
        (VALID + "dataset:\n  source: manifest\n  path: nowhere.csv\n", ":14: dataset.path: file not found"),
        (
            VALID.replace(
                "adapter: zoo\n    params: {entry: unet}",
                "adapter: monai\n    params: {architecture: UNet, checkpoint: w.pt}",
            ),
            ":3: models[0]: params.checkpoint: file not found",
        ),
        # validate said valid, then run crashed or misbehaved: bounded resamples, each severity once
        (VALID + "statistics: {n_resamples: 2000000000}\n", ":12: statistics.n_resamples: input should be less"),
        (VALID + "statistics: {n_resamples: 1.0e+18}\n", ":12: statistics.n_resamples: input should be less"),
        (VALID.replace("[1, 2]", "[1, 2, 1]"), ":9: shifts[0].severities: severities [1] repeat"),
        # a repeated key names both lines, at any depth
        (VALID + "metrics:\n  panel: [dsc]\n", ":12: metrics: key 'metrics' repeats (also on line 10)"),
        (
            VALID.replace("params: {entry: unet}", "params: {entry: unet, entry: unetr}"),
            ":6: models[0].params.entry: key 'entry' repeats (also on line 6)",
        ),
        # the energy report's grid and power model: a country code, or gCO2/kWh, or watts per core in range
        (
            VALID + "report:\n  energy_grid_gco2_per_kwh: -5\n",
            ":13: report.energy_grid_gco2_per_kwh: input should be greater than 0",
        ),
        (
            VALID + "report:\n  energy_grid_gco2_per_kwh: 5000\n",
            ":13: report.energy_grid_gco2_per_kwh: input should be less",
        ),
        (VALID + "report:\n  energy_country_iso: fr\n", ":13: report.energy_country_iso: "),
        (
            VALID + "report:\n  energy_cpu_tdp_per_core_w: 0\n",
            ":13: report.energy_cpu_tdp_per_core_w: input should be greater",
        ),
        # a manifest folder must hold manifest.csv
        (VALID + "dataset:\n  source: manifest\n  path: .\n", ":14: dataset.path: folder"),
        # YAML syntax error, empty file, python-object tags
        ("name: t\nmodels: [\n", ":3: invalid YAML"),
        ("", ":1: the protocol file is empty"),
        ("name: t\nmodels: !!python/object/apply:os.system ['echo pwned']\n", ":2: invalid YAML"),
        ("- just\n- a list\n", ":1: expected a mapping"),
    ],
)
def test_invalid_protocol_exits_2_with_file_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    code, err = _validate(tmp_path, text, capsys)
    assert code == 2
    assert "Traceback" not in err
    assert f"{tmp_path / 'p.yaml'}{expected}" in err, err


def test_energy_overrides_load(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(VALID + "report:\n  energy_country_iso: FRA\n  energy_grid_gco2_per_kwh: 56\n"
                    "  energy_cpu_tdp_per_core_w: 7.5\n")  # fmt: skip
    report = load_protocol(path).report
    assert (report.energy_country_iso, report.energy_grid_gco2_per_kwh) == ("FRA", 56.0)
    assert report.energy_cpu_tdp_per_core_w == 7.5
    path.write_text(VALID)
    default = load_protocol(path).report
    assert default.energy_grid_gco2_per_kwh is None
    assert default.energy_country_iso is None


def test_every_problem_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = VALID.replace("severities: [1, 2]", "severities: [0, 6]").replace("family: cnn", "family: x")
    code, err = _validate(tmp_path, text, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert any("shifts[0].severities[0]: 0 is not in 1..5" in line for line in lines)
    assert any("shifts[0].severities[1]: 6 is not in 1..5" in line for line in lines)


def test_python_tags_are_never_executed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    text = f"name: t\nmodels: !!python/object/apply:os.system ['touch {marker}']\n"
    code, err = _validate(tmp_path, text, capsys)
    assert code == 2
    assert "not allowed" in err
    assert not marker.exists()


def test_relative_paths_resolve_against_the_protocol_folder(tmp_path: Path) -> None:
    sub = tmp_path / "proto"
    sub.mkdir()
    (sub / "m.csv").write_text("case_id,flair,t1,label\n")
    (sub / "p.yaml").write_text(VALID + "dataset:\n  source: manifest\n  path: m.csv\n")
    protocol = load_protocol(sub / "p.yaml")
    assert protocol.dataset.path == sub / "m.csv"


def test_missing_protocol_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "absent.yaml")]) == 2
    assert "protocol file not found" in capsys.readouterr().err


def test_field_path_format() -> None:
    assert field_path(("shifts", 2, "severities", 0)) == "shifts[2].severities[0]"
    assert field_path(("metrics", "panel")) == "metrics.panel"


def test_schema_command_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert {"name", "models", "shifts", "dataset", "metrics"} <= set(schema["properties"])


DATA = """\
name: t
dataset:
  source: manifest
  path: data/manifest.csv
  split:
    in_distribution: {site: [A]}
    out_of_distribution: {site: [B]}
models:
  - {name: unet, family: cnn, adapter: zoo, params: {entry: unet}}
"""
MANIFEST = """\
case_id,subject_id,site,scanner,partition,flair,t1,label
a1,s1,A,s1,test,a1_flair.nii.gz,a1_t1.nii.gz,a1_label.nii.gz
a2,s2,A,s2,test,a2_flair.nii.gz,a2_t1.nii.gz,a2_label.nii.gz
b1,s3,B,s1,test,b1_flair.nii.gz,b1_t1.nii.gz,b1_label.nii.gz
"""


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("site: [A]}", "site: [Z]}"), ":6: dataset.split.in_distribution: {'site': ['Z']} matches no case; values: "
         "{'site': ['A', 'B']}"),
        (("{site: [A]}", "{stie: [A]}"), ":6: dataset.split.in_distribution.stie: no case has a value for column"),
        (("{site: [B]}", "{sight: [B]}"), ":7: dataset.split.out_of_distribution.sight: no case has a value for"),
        (("{site: [B]}", "{scanner: [s1]}"), ":7: dataset.split.out_of_distribution: case a1 matches both"),
        (("data/manifest.csv", "data/other.csv"), ":4: dataset.path: {data}/other.csv: missing column(s) ['t1']"),
    ],
)  # fmt: skip
def test_validate_reads_the_data_as_run_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], expected: str
) -> None:
    """The split is checked on the manifest's cases (no image is read); validate and run give the same line."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.csv").write_text(MANIFEST)
    (tmp_path / "data" / "other.csv").write_text(MANIFEST.replace("t1,label", "T2,label"))
    code, err = _validate(tmp_path, DATA.replace(*edit), capsys)
    assert code == 2
    assert err.startswith(f"{tmp_path / 'p.yaml'}{expected.replace('{data}', str(tmp_path / 'data'))}"), err
    assert len(err.strip().splitlines()) == 1
    if "split" in expected:  # run meets the same problem before any work, at the same line
        out = tmp_path / "out"
        assert main(["run", str(tmp_path / "p.yaml"), "--out", str(out), "--engine", "local"]) == 2
        assert capsys.readouterr().err == err


def test_validate_accepts_a_good_split_of_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.csv").write_text(MANIFEST)
    code, err = _validate(tmp_path, DATA, capsys)
    assert (code, err) == (0, "")


def test_validate_notes_unchecked_synthetic_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.yaml").write_text(VALID)
    assert main(["validate", str(tmp_path / "p.yaml"), "--cache", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert out.endswith(
        "\n  dataset.split not checked: the synthetic data is not generated yet (the first run generates it)\n"
    )
    assert not (tmp_path / "cache").exists()  # validate never generates data


def test_validate_splits_synthetic_data_once_generated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Listing generated data is cheap: validate then checks the split on it, as for any other source."""
    from robusteval.data.sources import list_cases

    dataset = "dataset:\n  params: {sites: [A, B], test_subjects: 1, resolution_mm: 6.0}\n"
    protocol = tmp_path / "p.yaml"
    protocol.write_text(VALID + dataset + "  split: {in_distribution: {site: [C]}}\n")
    list_cases(load_protocol(protocol).dataset, tmp_path / "cache")  # what the first run does
    assert main(["validate", str(protocol), "--cache", str(tmp_path / "cache")]) == 2
    expected = f"{protocol}:14: dataset.split.in_distribution: {{'site': ['C']}} matches no case; values: "
    assert capsys.readouterr().err == expected + "{'site': ['A', 'B']}\n"
