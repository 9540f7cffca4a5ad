"""End to end: the smoke protocol writes cases.csv, summary.json and index.html with the documented contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from robusteval.cli import main
from robusteval.rundir import RESULT_COLUMNS
from tests.engine_rows import constant_cases

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "protocols" / "smoke.yaml"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("smoke")
    code = main(["run", str(SMOKE), "--out", str(out), "--cache", str(cache_dir), "--engine", "local"])
    return code, out


def test_smoke_run_writes_the_three_files(smoke_run: tuple[int, Path]) -> None:
    code, out = smoke_run
    assert code == 0
    for name in ("cases.csv", "summary.json", "index.html"):
        assert (out / name).is_file(), name


def test_cases_csv_rows_columns_and_ranges(smoke_run: tuple[int, Path]) -> None:
    _, out = smoke_run
    cases = pd.read_csv(out / "cases.csv")
    assert list(cases.columns) == [*RESULT_COLUMNS, "dsc", "hd95"]
    assert cases["fov_diagonal_mm"].gt(100).all()
    # 2 sites x 2 subjects clean + 2 site-A subjects x 2 bias-field severities, one model
    assert len(cases) == 4 + 2 * 2
    assert set(cases["status"]) == {"ok"}
    assert set(cases["family"]) == {"cnn"}
    clean = cases[cases["shift"] == "clean"]
    assert (clean["severity"] == 0).all()
    assert set(clean.loc[clean["site"] == "A", "split"]) == {"id"}
    assert set(clean.loc[clean["site"] == "B", "split"]) == {"ood"}
    assert set(clean.loc[clean["site"] == "B", "shift_family"]) == {"site"}
    shifted = cases[cases["shift"] == "bias_field"]
    assert set(shifted["split"]) == {"ood"}
    assert set(shifted["site"]) == {"A"}
    assert sorted(shifted["severity"].unique().tolist()) == [1, 5]
    # every shifted item has its clean twin (paired comparison) and recorded, replayable parameters
    assert set(shifted["case_id"]) <= set(clean["case_id"])
    params = [json.loads(p) for p in shifted["shift_params"]]
    assert all(len(p) == 1 and len(p[0]["coefficients"]) == 20 for p in params)
    assert cases["dsc"].between(0, 1).all()
    assert (cases["hd95"].dropna() >= 0).all()


def test_summary_means_equal_cases_csv_means(smoke_run: tuple[int, Path]) -> None:
    _, out = smoke_run
    cases = pd.read_csv(out / "cases.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"]["name"] == "smoke"
    prov = summary["provenance"]
    assert len(prov["protocol_sha256"]) == 64
    assert {"torch", "monai", "torchio", "numpy"} <= set(prov["packages"])
    assert prov["seeds"]["protocol"] == 0
    ((worker, n_rows),) = prov["rows_per_worker"].items()  # the local engine: this process did all 8 rows
    assert worker.startswith("local:")
    assert n_rows == len(cases) == 8
    cells = summary["cells"]
    assert cells
    for cell in cells:
        rows = cases[
            (cases["model"] == cell["model"])
            & (cases["shift"] == cell["shift"])
            & (cases["severity"] == cell["severity"])
            & (cases["split"] == cell["split"])
            & (cases["status"] == "ok")
        ]
        assert cell["n"] == len(rows)
        if cell["metric"] == "dsc":
            assert cell["mean"] == pytest.approx(rows["dsc"].mean(), abs=1e-12)
            if cell["n"] >= 3:
                assert cell["ci_low"] <= cell["mean"] <= cell["ci_high"]
            else:  # 2 subjects per cell: too few for an interval, and the record says so
                assert cell["ci_low"] is None
                assert "too few" in cell["note"]


def test_report_is_self_contained(smoke_run: tuple[int, Path]) -> None:
    _, out = smoke_run
    html = (out / "index.html").read_text()
    assert "Verdict" in html
    assert "data:image/png;base64," in html
    assert "http://" not in html
    assert "https://" not in html


def test_default_report_has_energy_and_co2_per_1000_cases_with_the_method(smoke_run: tuple[int, Path]) -> None:
    _, out = smoke_run
    summary = json.loads((out / "summary.json").read_text())
    profiled = [m for m in summary["models"] if m.get("energy_j_method")]
    assert profiled
    for m in profiled:  # no protocol setting: measured (RAPL / NVML) where readable, else the power model
        assert m["energy_j_method"].startswith(("measured:", "estimated (power model")), m["energy_j_method"]
        assert m["co2_g_per_1000"] > 0
        assert "gCO2eq/kWh" in m["energy_j_method"]
    html = (out / "index.html").read_text()
    assert "CO2-eq / 1,000 cases (g)" in html
    assert "energy / 1,000 cases (kWh)" in html
    assert "against g CO2eq per 1,000 cases" in html


def test_run_draws_and_embeds_the_example_overlays(smoke_run: tuple[int, Path]) -> None:
    _, out = smoke_run
    assert (out / "examples" / "worst_case.png").is_file()
    assert (out / "examples" / "median_case.png").is_file()
    html = (out / "index.html").read_text()
    assert "Worst case (lowest mean headline metric" in html
    assert "are not stored for this run" not in html


def test_report_rerenders_without_recomputing(smoke_run: tuple[int, Path], tmp_path: Path) -> None:
    _, out = smoke_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    (copy / "index.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "index.html").read_text() == (out / "index.html").read_text()


def test_a_bad_case_is_recorded_and_the_others_finish(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest with one corrupt and one missing case: exit 3, both failed with reasons, the good one ok."""
    data = tmp_path / "data"
    data.mkdir()
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    rng = np.random.default_rng(0)
    rows = ["case_id,subject_id,site,scanner,partition,flair,t1,label"]
    for cid in ("good", "corrupt", "missing"):
        img = rng.uniform(1, 2, (40, 40, 40)).astype(np.float32)
        lab = np.zeros((40, 40, 40), np.uint8)
        lab[18:22, 18:22, 18:22] = 1
        for name, arr in (("flair", img), ("t1", img), ("label", lab)):
            nib.save(nib.Nifti1Image(arr, affine), data / f"{cid}_{name}.nii.gz")
        rows.append(f"{cid},{cid},A,s,test,{cid}_flair.nii.gz,{cid}_t1.nii.gz,{cid}_label.nii.gz")
    (data / "corrupt_flair.nii.gz").write_bytes((data / "corrupt_flair.nii.gz").read_bytes()[:200])
    (data / "missing_t1.nii.gz").unlink()
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")
    protocol = SMOKE.read_text().split("dataset:")[0] + (
        "dataset:\n  source: manifest\n  path: data/manifest.csv\n  split:\n    in_distribution: {site: [A]}\n"
        "models:\n  - {name: unet, family: cnn, adapter: zoo, params: {entry: unet}}\n"
        "metrics: {panel: [dsc, hd95]}\nstatistics: {n_resamples: 200}\n"
    )
    (tmp_path / "p.yaml").write_text(protocol)
    out = tmp_path / "out"
    code = main(["run", str(tmp_path / "p.yaml"), "--out", str(out), "--cache", str(cache_dir)])
    assert code == 3
    cases = pd.read_csv(out / "cases.csv").set_index("case_id")
    assert len(cases) == 3  # nothing dropped: listed = ok + failed
    assert cases.loc["good", "status"] == "ok"
    assert cases.loc["corrupt", "status"] == "failed"
    assert "flair" in cases.loc["corrupt", "error"]
    assert cases.loc["missing", "status"] == "failed"
    assert "file not found" in cases.loc["missing", "error"]
    assert "2 of 3 work items failed" in capsys.readouterr().err
    html = (out / "index.html").read_text()
    assert "file not found" in html


def _stored_keys(store: Path) -> list[str]:
    """Row keys in the item store, a torn last line (killed mid-write) skipped as the store itself does."""
    keys = []
    for line in store.read_text().splitlines():
        try:
            keys.extend(json.loads(line)["keys"])
        except json.JSONDecodeError:
            continue
    return keys


def test_driver_killed_mid_run_then_rerun_gives_identical_results(
    smoke_run: tuple[int, Path], tmp_path: Path, cache_dir: Path
) -> None:
    """SIGKILL the driver (Ray engine) after its first finished unit; the rerun recomputes only the rest and
    writes the cases.csv of an uninterrupted (local) run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    _, reference = smoke_run
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "robusteval", "run", str(SMOKE), "--out", str(out), "--cache", str(cache_dir)]
    cmd += ["--engine", "ray"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = out / "items.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if store.is_file() and store.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(_stored_keys(store))
    assert 1 <= finished < 8
    assert not (out / "cases.csv").exists()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert f"resuming: {finished} items already done" in res.stderr
    keys = _stored_keys(store)
    assert len(keys) == len(set(keys)) == 8  # every row computed once: nothing finished was recomputed
    workers = json.loads((out / "summary.json").read_text())["provenance"]["rows_per_worker"]
    assert sum(workers.values()) == 8
    assert len(workers) >= 2  # workers of the killed run and of the rerun: none recomputed the other's rows
    assert (out / "cases.csv").read_text() == (reference / "cases.csv").read_text()


def test_ctrl_c_stops_with_one_line_and_exit_130_then_a_rerun_resumes(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import robusteval.engine.local as local
    import robusteval.run

    monkeypatch.setattr(robusteval.run, "render_report", lambda out: None)  # the report is not under test here
    real = local.evaluate_case
    kept: list[int] = []

    def interrupted_on_the_second_case(items, *args, **kwargs):  # type: ignore[no-untyped-def]
        if kept:
            raise KeyboardInterrupt
        kept.append(len(items))
        return real(items, *args, **kwargs)

    monkeypatch.setattr(local, "evaluate_case", interrupted_on_the_second_case)
    out = tmp_path / "out"
    cmd = ["run", str(SMOKE), "--out", str(out), "--cache", str(cache_dir), "--engine", "local"]
    assert main(cmd) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"interrupted: {kept[0]} of 8 items kept in {out / 'items.jsonl'}; rerun the same command to resume"
    )
    assert "Traceback" not in "\n".join(err)
    assert len(_stored_keys(out / "items.jsonl")) == kept[0]
    monkeypatch.setattr(local, "evaluate_case", real)
    assert main(cmd) == 0
    assert f"resuming: {kept[0]} items already done" in capsys.readouterr().err
    keys = _stored_keys(out / "items.jsonl")
    assert len(keys) == len(set(keys)) == 8  # the rerun computed only what the interrupted run had not
    assert len(pd.read_csv(out / "cases.csv")) == 8


def test_exported_test_sets_evaluate_through_the_predictions_adapter(tmp_path: Path, cache_dir: Path) -> None:
    """`export` writes exactly what a run evaluates: its labels, read back as external predictions, score DSC 1."""
    exported = tmp_path / "exported"
    assert main(["export", str(SMOKE), "--out", str(exported), "--cache", str(cache_dir)]) == 0
    manifest = pd.read_csv(exported / "manifest.csv")
    assert len(manifest) == 8
    assert set(manifest["condition"]) == {"clean", "bias_field-s1", "bias_field-s5"}
    clean_flair = nib.load(exported / "clean" / "A-test-000_flair.nii.gz").get_fdata()
    shifted_flair = nib.load(exported / "bias_field-s5" / "A-test-000_flair.nii.gz").get_fdata()
    assert not np.allclose(clean_flair, shifted_flair)  # the bias field was applied
    protocol = (
        SMOKE.read_text()
        .replace(
            "adapter: zoo\n    params: {entry: unet}",
            f"adapter: predictions\n    params: {{mask: '{exported}/{{condition}}/{{case_id}}_label.nii.gz'}}",
        )
        .replace("family: cnn", "family: external")
    )
    (tmp_path / "p.yaml").write_text(protocol)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "p.yaml"), "--out", str(out), "--cache", str(cache_dir)]) == 0
    cases = pd.read_csv(out / "cases.csv")
    assert len(cases) == 8
    assert set(cases["status"]) == {"ok"}
    assert (cases["dsc"] == 1.0).all()
    assert (cases["hd95"].fillna(0.0) == 0.0).all()


def _write_manifest_data(data: Path, case_ids: list[str]) -> None:
    """``data/manifest.csv`` listing one small valid case per id (its files named c0, c1... whatever the id)."""
    data.mkdir(parents=True, exist_ok=True)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    rng = np.random.default_rng(0)
    rows = ["case_id,subject_id,site,scanner,partition,flair,t1,label"]
    for i, cid in enumerate(case_ids):
        img = rng.uniform(1, 2, (40, 40, 40)).astype(np.float32)
        lab = np.zeros((40, 40, 40), np.uint8)
        lab[18:22, 18:22, 18:22] = 1
        for name, arr in (("flair", img), ("t1", img), ("label", lab)):
            nib.save(nib.Nifti1Image(arr, affine), data / f"c{i}_{name}.nii.gz")
        rows.append(f"{cid},s{i},A,s,test,c{i}_flair.nii.gz,c{i}_t1.nii.gz,c{i}_label.nii.gz")
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")


def _manifest_protocol(path: Path, manifest: Path) -> Path:
    """A protocol on ``manifest`` (site A in distribution), the zoo U-Net, no shifts."""
    path.write_text(
        SMOKE.read_text().split("dataset:")[0]
        + f"dataset:\n  source: manifest\n  path: {manifest}\n  split:\n    in_distribution: {{site: [A]}}\n"
        "models:\n  - {name: unet, family: cnn, adapter: zoo, params: {entry: unet}}\n"
        "metrics: {panel: [dsc, hd95]}\nstatistics: {n_resamples: 200}\n"
    )
    return path


@pytest.mark.parametrize("command", ["run", "export"])
def test_out_folder_with_the_users_files_is_refused(
    command: str, tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--out` pointed at a data folder holding the user's own cases.csv: exit 2, one line, nothing touched."""
    data = tmp_path / "data"
    _write_manifest_data(data, ["a"])
    (data / "cases.csv").write_text("case_id,note\na,my own table\n")
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    protocol = _manifest_protocol(tmp_path / "p.yaml", data / "manifest.csv")
    code = main([command, str(protocol), "--out", str(data), "--cache", str(cache_dir)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--out {data} holds files robusteval did not write (c0_flair.nii.gz, c0_label.nii.gz, c0_t1.nii.gz" in err
    assert "--force" in err
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before  # no marker, no result, nothing replaced


def test_an_out_folder_that_cannot_be_written_is_refused_before_any_work(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    import robusteval.run

    def no_work(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("work started")

    monkeypatch.setattr(robusteval.run, "list_cases", no_work)
    (tmp_path / "a_file").write_text("")
    outs = [tmp_path / "a_file" / "out"]  # under a file: no folder can be made there (root included)
    (tmp_path / "read_only").mkdir(mode=0o500)
    outs.append(tmp_path / "read_only")
    if os.geteuid() == 0:  # root writes into read-only folders: the folder refuses new files as it would a user
        real_write = Path.write_bytes

        def refused(self: Path, data: bytes) -> int:
            if self.parent == tmp_path / "read_only":
                raise PermissionError(13, "Permission denied", str(self))
            return real_write(self, data)

        monkeypatch.setattr(Path, "write_bytes", refused)
    for out in outs:
        assert main(["run", str(SMOKE), "--out", str(out), "--cache", str(cache_dir)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: --out {out} cannot be written (")
        assert "\n" not in err
        assert err.endswith("); give a folder you can write to")


def test_a_second_run_into_the_same_folder_is_refused_naming_the_live_one(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess
    import sys

    import robusteval.run
    from robusteval.paths import claim_out_dir, hold_out_dir

    def no_work(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("work started")

    out = tmp_path / "out"
    holder = (
        "import sys, time; from pathlib import Path; from robusteval.paths import claim_out_dir, hold_out_dir\n"
        "out = Path(sys.argv[1]); claim_out_dir(out, 'run')\n"
        "with hold_out_dir(out):\n    print('held', flush=True); time.sleep(120)\n"
    )
    with subprocess.Popen([sys.executable, "-c", holder, str(out)], stdout=subprocess.PIPE, text=True) as live:
        try:
            assert live.stdout is not None
            assert live.stdout.readline() == "held\n"
            monkeypatch.setattr(robusteval.run, "list_cases", no_work)
            assert main(["run", str(SMOKE), "--out", str(out), "--cache", str(cache_dir)]) == 2
            assert capsys.readouterr().err.strip() == (
                f"error: --out {out} is in use by a run in progress (pid {live.pid}); wait for it to end, "
                "or give another --out"
            )
        finally:
            live.kill()
    claim_out_dir(out, "run")
    with hold_out_dir(out):  # the lock died with its process
        pass


def test_force_writes_beside_the_users_files_then_reruns_resume(
    smoke_run: tuple[int, Path], tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--force` takes a folder holding other files (they survive); the marker it writes lets a plain rerun
    resume there. The finished items of the smoke run are copied in first, so nothing is recomputed."""
    _, reference = smoke_run
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    shutil.copy(reference / "items.jsonl", out / "items.jsonl")
    args = ["run", str(SMOKE), "--out", str(out), "--cache", str(cache_dir)]
    assert main(args) == 2
    assert sorted(p.name for p in out.iterdir()) == ["items.jsonl", "notes.txt"]
    capsys.readouterr()
    assert main([*args, "--force"]) == 0
    assert "resuming: 8 items already done" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine\n"
    assert json.loads((out / ".robusteval").read_text())["command"] == "run"
    assert (out / "cases.csv").read_text() == (reference / "cases.csv").read_text()
    (out / "cases.csv").unlink()
    assert main(args) == 0  # a robusteval folder now: the rerun needs no --force
    assert "resuming: 8 items already done" in capsys.readouterr().err
    assert (out / "cases.csv").read_text() == (reference / "cases.csv").read_text()


def test_a_shift_name_with_a_slash_is_an_invalid_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "p.yaml"
    protocol.write_text(SMOKE.read_text().replace("  - shift: bias_field\n", "  - shift: bias_field\n    name: a/b\n"))
    assert main(["validate", str(protocol)]) == 2
    err = capsys.readouterr().err
    assert f"{protocol}:19: shifts[0].name: condition name 'a/b' cannot name a folder: it contains '/'" in err


def test_export_writes_nothing_outside_out_for_unsafe_case_ids(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Case ids `../../ESCAPE`, `sub/01` and `..` fail with the reason (checked where ids are listed); the good
    case is exported, and every file written is inside --out."""
    data = tmp_path / "data"
    _write_manifest_data(data, ["good", "../../ESCAPE", "sub/01", ".."])
    protocol = _manifest_protocol(tmp_path / "p.yaml", data / "manifest.csv")
    out = tmp_path / "x" / "y" / "out"
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["export", str(protocol), "--out", str(out), "--cache", str(cache_dir)]) == 3
    assert "wrote 1 case versions" in capsys.readouterr().err
    written = {p.relative_to(out).as_posix() for p in tmp_path.rglob("*") if p.is_file() and p not in before}
    assert written == {
        ".robusteval",
        "manifest.csv",
        "clean/good_flair.nii.gz",
        "clean/good_t1.nii.gz",
        "clean/good_label.nii.gz",
    }
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False).set_index("case_id")
    assert manifest.loc["good", "status"] == "ok"
    assert manifest.loc["good", "flair"] == "clean/good_flair.nii.gz"
    for cid, bad in (("../../ESCAPE", "'/'"), ("sub/01", "'/'"), ("..", "'..' names a folder")):
        assert manifest.loc[cid, "status"] == "failed"
        assert manifest.loc[cid, "error"].startswith(f"CaseError: case_id {cid!r} cannot name files: ")
        assert bad in manifest.loc[cid, "error"]
        assert manifest.loc[cid, "flair"] == ""


def test_export_never_follows_a_link_out_of_out(tmp_path: Path, cache_dir: Path) -> None:
    """Defence in depth: with --force into a folder whose `clean` is a link elsewhere, nothing lands there."""
    data = tmp_path / "data"
    _write_manifest_data(data, ["good"])
    protocol = _manifest_protocol(tmp_path / "p.yaml", data / "manifest.csv")
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    out.mkdir()
    (out / "clean").symlink_to(elsewhere, target_is_directory=True)
    args = ["export", str(protocol), "--out", str(out), "--cache", str(cache_dir)]
    assert main(args) == 2  # a folder robusteval did not write
    assert main([*args, "--force"]) == 3
    assert list(elsewhere.iterdir()) == []
    row = pd.read_csv(out / "manifest.csv", keep_default_na=False).iloc[0]
    assert row["status"] == "failed"
    assert "resolves outside" in row["error"]


FLAKY_NET = """
from pathlib import Path

import torch

HERE = Path(__file__).parent


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        level = float(x.max())
        with open(HERE / "calls.txt", "a") as f:
            f.write(f"{level:g}\\n")
        if level > 500 and (HERE / "flaky").exists():  # a transient fault: a lost file share, a full disk
            raise RuntimeError("transient fault")
        return self.conv(x)


def build() -> Net:
    return Net()
"""


def test_a_rerun_computes_the_failed_items_again_and_says_which(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A case fails once (a transient fault): the run exits 3; the rerun computes that item again and only it,
    exits 0, keeps the other rows byte for byte and records the retried row in summary.json."""
    import robusteval.run

    monkeypatch.setattr(robusteval.run, "render_report", lambda out: None)  # the report is not under test here
    constant_cases(tmp_path, {"calm": 1.0, "still": 2.0, "flaky": 1000.0})
    (tmp_path / "flakynet.py").write_text(FLAKY_NET)
    (tmp_path / "flaky").touch()
    (tmp_path / "p.yaml").write_text(
        "name: flaky\ndataset:\n  source: manifest\n  path: manifest.csv\n"
        "  split:\n    in_distribution: {site: [A]}\n"
        "models:\n  - {name: net, family: cnn, adapter: python, params: {function: 'flakynet:build', "
        "normalization: none, roi_size: [32, 32, 32], amp: false}}\n"
        "metrics: {panel: [dsc]}\nstatistics: {n_resamples: 200}\nexecution: {engine: local}\n"
        "report: {efficiency: false, examples: false}\n"
    )
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "p.yaml"), "--out", str(out), "--cache", str(cache_dir)]
    assert main(args) == 3
    first = pd.read_csv(out / "cases.csv").set_index("case_id")
    assert first.loc["flaky", "status"] == "failed"
    assert "transient fault" in first.loc["flaky", "error"]
    assert json.loads((out / "summary.json").read_text())["provenance"]["retried"] == []
    first_lines = (out / "cases.csv").read_text().splitlines()
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    capsys.readouterr()

    (tmp_path / "flaky").unlink()  # the fault is gone
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "resuming: 2 items already done" in err
    assert "1 failed items from the last run are computed again" in err
    calls_now = (tmp_path / "calls.txt").read_text().splitlines()
    assert set(calls_now[len(calls) :]) == {"1000"}  # only the flaky case was predicted again
    second = pd.read_csv(out / "cases.csv").set_index("case_id")
    assert (second["status"] == "ok").all()
    second_lines = (out / "cases.csv").read_text().splitlines()
    flaky_line = [n for n, line in enumerate(first_lines) if line.startswith("net,cnn,flaky,")]
    assert len(flaky_line) == 1
    assert [line for n, line in enumerate(second_lines) if n not in flaky_line] == [
        line for n, line in enumerate(first_lines) if n not in flaky_line
    ]  # the ok rows stay byte for byte, in their place
    (retried,) = json.loads((out / "summary.json").read_text())["provenance"]["retried"]
    assert retried["case_id"] == "flaky"
    assert (retried["shift"], retried["severity"], retried["model"], retried["status"]) == ("clean", 0, "net", "ok")
    assert "transient fault" in retried["previous_error"]

    assert main(args) == 0  # nothing failed any more: nothing is computed again
    assert "computed again" not in capsys.readouterr().err
    assert (tmp_path / "calls.txt").read_text().splitlines() == calls_now
    assert json.loads((out / "summary.json").read_text())["provenance"]["retried"] == []
