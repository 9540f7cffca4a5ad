"""The ``nnunet`` adapter runs a trained nnU-Net v2 results folder exactly as nnU-Net does.

The results folder is made here: ``plans.json`` and ``dataset.json`` written by hand (a 2-stage
``PlainConvUNet``, anisotropic 3 mm slices, nnU-Net's default preprocessing and resampling) and two folds of
random weights saved in the trainer's checkpoint format (with ``np.float64`` in its log, as a trained one has).
The reference is nnU-Net itself, the plain way: ``initialize_from_trained_model_folder`` and
``predict_from_files_sequential`` on the case written as NIfTI, its segmentation read back with nibabel. So a
transposed axis or spacing anywhere in the adapter shows up as a different output.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch
from model_helpers import Payload, make_adapter, write_evil_checkpoint

from robusteval.data.case import Case
from robusteval.errors import CaseError, ProtocolError
from robusteval.models.nnunet import NnUNetModel, load_checkpoint
from robusteval.protocol import load_protocol

pytest.importorskip("nnunetv2", reason="the nnunet extra: pip install 'robusteval[nnunet]'")

SHAPE = (24, 20, 10)  # X, Y, Z: three different lengths, so a swapped axis changes the shape somewhere
SPACING = (1.2, 1.1, 3.0)  # mm: anisotropic; nnU-Net resamples in-plane to the plans' 1 mm
MODEL = "nnUNetTrainer__nnUNetPlans__3d_fullres"
ARCH: dict[str, Any] = {
    "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
    "arch_kwargs": {
        "n_stages": 2, "features_per_stage": [4, 8], "conv_op": "torch.nn.modules.conv.Conv3d",
        "kernel_sizes": [[1, 3, 3], [3, 3, 3]], "strides": [[1, 1, 1], [1, 2, 2]], "n_conv_per_stage": [1, 1],
        "n_conv_per_stage_decoder": [1], "conv_bias": True, "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
        "norm_op_kwargs": {"eps": 1e-05, "affine": True}, "dropout_op": None, "dropout_op_kwargs": None,
        "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True},
    },
    "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
}  # fmt: skip
DATASET = {"channel_names": {"0": "FLAIR", "1": "T1"}, "labels": {"background": 0, "lesion": 1}, "numTraining": 4,
           "file_ending": ".nii.gz"}  # fmt: skip


def plans(reader: str = "SimpleITKIO") -> dict[str, Any]:
    """nnU-Net's plans for 3d_fullres at (3, 1, 1) mm (z, y, x), patch 4 x 16 x 16, z-score per channel."""
    resample = {"order_z": 0, "force_separate_z": None}
    config = {
        "data_identifier": "nnUNetPlans_3d_fullres", "preprocessor_name": "DefaultPreprocessor", "batch_size": 2,
        "patch_size": [4, 16, 16], "median_image_size_in_voxels": [10.0, 22.0, 29.0], "spacing": [3.0, 1.0, 1.0],
        "normalization_schemes": ["ZScoreNormalization", "ZScoreNormalization"], "use_mask_for_norm": [False, False],
        "resampling_fn_data": "resample_data_or_seg_to_shape", "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, **resample},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, **resample},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, **resample},
        "architecture": ARCH, "batch_dice": False,
    }  # fmt: skip
    intensity = {"max": 3.0, "mean": 1.5, "median": 1.5, "min": 0.0, "percentile_00_5": 0.1, "percentile_99_5": 2.9,
                 "std": 0.5}  # fmt: skip
    return {
        "dataset_name": "Dataset001_Tiny", "plans_name": "nnUNetPlans", "original_median_spacing_after_transp":
        [3.0, 1.0, 1.0], "original_median_shape_after_transp": [10, 22, 29], "image_reader_writer": reader,
        "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2], "configurations": {"3d_fullres": config},
        "experiment_planner_used": "ExperimentPlanner", "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": intensity, "1": intensity},
    }  # fmt: skip


def trainer_checkpoint(seed: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``nnUNetTrainer.save_checkpoint`` writes, for a network of random weights (seed)."""
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    torch.manual_seed(seed)
    net = get_network_from_plans(ARCH["network_class_name"], ARCH["arch_kwargs"], ARCH["_kw_requires_import"], 2, 2,
                                 allow_init=True, deep_supervision=True)  # fmt: skip
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True)
    return {
        "network_weights": net.state_dict(), "optimizer_state": optimizer.state_dict(), "grad_scaler_state": None,
        "logging": {"mean_fg_dice": [np.float64(0.5)], "ema_fg_dice": [np.float64(0.5)], "lrs": [0.01]},
        "_best_ema": np.float64(0.5), "current_epoch": 1, "trainer_name": "nnUNetTrainer",
        "init_args": {"plans": plans(), "configuration": "3d_fullres", "fold": seed, "dataset_json": DATASET,
                      "device": torch.device("cpu")},
        "inference_allowed_mirroring_axes": (0, 1, 2), **(extra or {}),
    }  # fmt: skip


def write_results(root: Path, reader: str = "SimpleITKIO") -> Path:
    """``root/Dataset001_Tiny/<MODEL>`` with plans.json, dataset.json, fold_0 and fold_1 (different weights)."""
    folder = root / "Dataset001_Tiny" / MODEL
    for fold in (0, 1):
        (folder / f"fold_{fold}").mkdir(parents=True)
        torch.save(trainer_checkpoint(fold), folder / f"fold_{fold}" / "checkpoint_final.pth")
    (folder / "plans.json").write_text(json.dumps(plans(reader)))
    (folder / "dataset.json").write_text(json.dumps(DATASET))
    return folder


def make_case(affine_diag: tuple[float, float, float] = SPACING, case_id: str = "c1") -> Case:
    """FLAIR and T1 of a different texture each, a brighter FLAIR blob off-centre (no symmetry in any axis)."""
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))
    flair = rng.normal(1.0, 0.2, SHAPE).astype(np.float32) + 0.5
    flair[3:9, 4:8, 2:5] += 1.5
    t1 = (rng.normal(1.0, 0.2, SHAPE) * np.linspace(0.5, 1.5, SHAPE[0])[:, None, None]).astype(np.float32) + 0.5
    label = np.zeros(SHAPE, bool)
    label[3:9, 4:8, 2:5] = True
    affine = np.diag([*affine_diag, 1.0])
    affine[:3, 3] = [-12.0, 7.0, 3.5]
    return Case(case_id, "s1", "A", "x", {"flair": flair, "t1": t1}, label, affine)


def nnunet_reference(folder: Path, case: Case, tmp: Path, use_mirroring: bool = True) -> tuple[Any, Any]:
    """nnU-Net the plain way (trusted test files): the case as NIfTI in, (segmentation read by nibabel,
    probabilities of its .npz in nnU-Net's (c, z, y, x) order) out."""
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    (tmp / "out").mkdir(parents=True, exist_ok=True)
    files = []
    for i, modality in enumerate(("flair", "t1")):
        files.append(str(tmp / f"case_{i:04d}.nii.gz"))
        nib.save(nib.Nifti1Image(case.images[modality], case.affine), files[-1])
    predictor = nnUNetPredictor(tile_step_size=0.5, use_mirroring=use_mirroring, perform_everything_on_device=False,
                                device=torch.device("cpu"), allow_tqdm=False)  # fmt: skip
    predictor.initialize_from_trained_model_folder(str(folder), use_folds=None)
    predictor.predict_from_files_sequential([files], str(tmp / "out"), True, True, None)
    seg = np.asarray(nib.load(tmp / "out" / "case.nii.gz").dataobj)
    return seg, np.load(tmp / "out" / "case.npz")["probabilities"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_results(tmp_path_factory.mktemp("nnunet"))


@pytest.fixture(scope="module")
def adapter(results: Path) -> NnUNetModel:
    model = make_adapter("nnunet", {"folder": str(results.parent)})
    assert isinstance(model, NnUNetModel)
    return model


@pytest.mark.parametrize("use_mirroring", [True, False])
def test_the_prediction_is_nnunets_own(results: Path, tmp_path: Path, use_mirroring: bool) -> None:
    case = make_case()
    model = make_adapter("nnunet", {"folder": str(results.parent), "use_mirroring": use_mirroring})
    pred = model.predict(case)
    seg, probs = nnunet_reference(results, case, tmp_path, use_mirroring)
    assert pred.prob.shape == pred.mask.shape == seg.shape == case.shape
    assert pred.prob.dtype == np.float32
    assert pred.prob.min() >= 0.0
    assert pred.prob.max() <= 1.0
    assert 0.02 < pred.mask.mean() < 0.98, "a trivial segmentation would not test the axes"
    np.testing.assert_array_equal(pred.mask, seg == 1)
    np.testing.assert_allclose(pred.prob, probs[1].transpose(2, 1, 0), atol=1e-6)


def test_the_reference_catches_swapped_axes(adapter: NnUNetModel, results: Path, tmp_path: Path) -> None:
    """Control: feeding nibabel's (x, y, z) arrays with their spacing untransposed (the mistake nnU-Net's
    docstring warns about) gives another segmentation than nnU-Net's, on the same shape."""
    case = make_case()
    seg, _ = nnunet_reference(results, case, tmp_path)
    data = case.stacked(["flair", "t1"])
    wrong, _ = adapter.predictor.predict_single_npy_array(data, {"spacing": list(case.spacing_mm)}, None, None, True)
    assert wrong.shape == seg.shape
    assert (wrong != seg).mean() > 0.05


def test_a_reorienting_reader_is_followed(tmp_path: Path) -> None:
    """Plans naming NibabelIOWithReorient: the case is turned to RAS as that reader does, and back."""
    folder = write_results(tmp_path / "r", reader="NibabelIOWithReorient")
    case = make_case(affine_diag=(-1.2, 1.1, -3.0))  # stored LAI
    pred = make_adapter("nnunet", {"folder": str(folder)}).predict(case)
    seg, _ = nnunet_reference(folder, case, tmp_path / "ref")
    assert 0.02 < pred.mask.mean() < 0.98
    np.testing.assert_array_equal(pred.mask, seg == 1)


def test_folds_and_mirroring_change_the_output(adapter: NnUNetModel, results: Path) -> None:
    case = make_case()
    both = adapter.predict(case).prob
    fold0 = make_adapter("nnunet", {"folder": str(results), "folds": [0]}).predict(case).prob
    no_mirror = make_adapter("nnunet", {"folder": str(results), "use_mirroring": False}).predict(case).prob
    assert np.abs(both - fold0).max() > 1e-3
    assert np.abs(both - no_mirror).max() > 1e-3
    assert adapter.folds == [0, 1]
    assert adapter.describe()["nnunet"]["mirror_axes"] == [0, 1, 2]


def test_the_channel_mapping_is_honoured(adapter: NnUNetModel, results: Path) -> None:
    case = make_case()
    swapped_case = case.with_(images={"flair": case.images["t1"], "t1": case.images["flair"]})
    swapped = make_adapter("nnunet", {"folder": str(results), "channels": {"flair": "t1", "T1": "flair"}})
    assert swapped.modalities == ["t1", "flair"]
    np.testing.assert_array_equal(swapped.predict(swapped_case).prob, adapter.predict(case).prob)
    assert np.abs(swapped.predict(case).prob - adapter.predict(case).prob).max() > 1e-3


def test_threshold_and_describe(adapter: NnUNetModel, results: Path) -> None:
    case = make_case()
    pred = make_adapter("nnunet", {"folder": str(results), "threshold": 0.7}).predict(case)
    np.testing.assert_array_equal(pred.mask, pred.prob >= 0.7)
    facts = adapter.describe()
    assert facts["parameters"] == sum(p.numel() for p in adapter.network.parameters()) > 0
    assert facts["nnunet"]["configuration"] == "3d_fullres"
    assert facts["nnunet"]["channels"] == ["flair", "t1"]
    assert [p.name for p in NnUNetModel.referenced_files(adapter.params, None)] == [
        "plans.json", "dataset.json", "checkpoint_final.pth", "checkpoint_final.pth"
    ]  # fmt: skip


def test_a_case_without_a_channel_fails(adapter: NnUNetModel) -> None:
    case = make_case()
    with pytest.raises(CaseError, match=r"model m: case c1 has no modality \['t1'\]"):
        adapter.predict(case.with_(images={"flair": case.images["flair"]}))


@pytest.mark.parametrize("fmt", ["pickle", "torch"])
def test_a_malicious_checkpoint_is_refused_unrun(tmp_path: Path, fmt: str) -> None:
    folder = write_results(tmp_path)
    marker = tmp_path / "pwned"
    write_evil_checkpoint(folder / "fold_1" / "checkpoint_final.pth", marker, fmt)
    with pytest.raises(ValueError, match="refused: it holds"):
        make_adapter("nnunet", {"folder": str(folder)})
    assert not marker.exists()


def test_an_nnunet_checkpoint_with_an_object_is_refused_unrun(tmp_path: Path) -> None:
    """A real trainer checkpoint with one pickled object beside its weights: refused, saying what to do."""
    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt.pth"
    torch.save(trainer_checkpoint(0, {"extra": Payload(marker)}), path)
    with pytest.raises(ValueError, match=r"refused: it holds the Python object .*open.*network_weights"):
        load_checkpoint(path)
    assert not marker.exists()
    torch.save(trainer_checkpoint(0), path)
    assert load_checkpoint(path)["_best_ema"] == 0.5  # numpy scalars of the training log are data


def test_wrong_weights_are_refused(tmp_path: Path) -> None:
    folder = write_results(tmp_path)
    ckpt = trainer_checkpoint(0)
    ckpt["network_weights"] = {k: v[..., :1] for k, v in ckpt["network_weights"].items()}
    torch.save(ckpt, folder / "fold_0" / "checkpoint_final.pth")
    with pytest.raises(ValueError, match=r"fold_0/checkpoint_final.pth does not fit the network"):
        make_adapter("nnunet", {"folder": str(folder)})


def test_older_nnunet_trainer_lookup(adapter: NnUNetModel, results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """nnU-Net before ``utilities.find_objects``: the trainer is found among nnU-Net's own, the same network."""
    monkeypatch.setitem(sys.modules, "nnunetv2.utilities.find_objects", None)
    older = make_adapter("nnunet", {"folder": str(results)})
    np.testing.assert_array_equal(older.predict(make_case()).prob, adapter.predict(make_case()).prob)


def test_missing_nnunet_says_how_to_install(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nnunetv2.inference.predict_from_raw_data", None)
    with pytest.raises(ValueError, match=r"needs nnU-Net v2: pip install 'robusteval\[nnunet\]'"):
        make_adapter("nnunet", {"folder": str(results)})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"folder": None}, r"params.folder is required"),
        ({"folder": "absent"}, r"params.folder: folder not found"),
        ({"trainer": "nnUNetTrainerX"}, r"params.folder: .* holds neither plans.json nor nnUNetTrainerX__.*it holds"),
        ({"bogus": 1}, r"unknown params \['bogus'\] for the nnunet adapter"),
        ({"use_mirroring": "yes"}, r"params.use_mirroring: expected true or false"),
        ({"tile_step_size": 0}, r"params.tile_step_size: expected a number in \(0, 1\]"),
        ({"threshold": 1.5}, r"params.threshold: expected a number in \(0, 1\)"),
        ({"folds": [7]}, r"params.folds: file not found: .*fold_7/checkpoint_final.pth"),
        ({"folds": ["x"]}, r"params.folds: expected fold numbers"),
        ({"checkpoint": "checkpoint_best.pth"}, r"params.folds: no fold_\*/checkpoint_best.pth"),
        ({"channels": {"FLAIR": "flair"}}, r"params.channels: .*channels are \['FLAIR', 'T1'\].*\['T1'\] not mapped"),
        ({"channels": {"FLAIR": "flair", "T1": "t1", "T2": "t2"}}, r"params.channels: .*\['t2'\] not among them"),
        ({"label": 2}, r"params.label: expected a foreground label of dataset.json \[0, 1\]"),
        ({"configuration": "2d"}, r"params.folder: .* holds neither plans.json nor nnUNetTrainer__nnUNetPlans__2d"),
    ],
)  # fmt: skip
def test_bad_params_name_the_field(results: Path, change: dict[str, Any], message: str) -> None:
    params = {k: v for k, v in {"folder": str(results.parent), **change}.items() if v is not None}
    with pytest.raises(ValueError, match=message):
        NnUNetModel.validate_params(params, None)


def test_the_protocol_reports_a_bad_param_at_the_model(results: Path, tmp_path: Path) -> None:
    model = {
        "name": "nn",
        "family": "cnn",
        "adapter": "nnunet",
        "params": {"folder": str(results), "channels": {"x": "y"}},
    }
    text = {"name": "t", "models": [model], "shifts": [{"shift": "bias_field", "severities": [1]}],
            "metrics": {"panel": ["dsc"]}}  # fmt: skip
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(text))
    with pytest.raises(ProtocolError, match=r"models\[0\].*params.channels"):
        load_protocol(path)
    model["params"] = {"folder": str(results)}
    path.write_text(json.dumps(text))
    assert load_protocol(path).models[0].adapter == "nnunet"


def test_the_efficiency_profile_times_it(adapter: NnUNetModel) -> None:
    from robusteval.models.efficiency import profile_model

    profile = profile_model(adapter, make_case(), repeats=1, warmup=0)
    assert profile["latency_s"] > 0
    assert profile["peak_memory_mib"] is not None
    assert profile["parameters"] == sum(p.numel() for p in adapter.network.parameters()) > 0
    assert profile["flops"] is None
    assert "own predictor" in profile["flops_method"]
