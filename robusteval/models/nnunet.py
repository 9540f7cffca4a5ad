"""``nnunet`` adapter: a trained nnU-Net v2 model, run in process by nnU-Net's own predictor.

The model is an nnU-Net v2 results folder (``nnUNet_results/DatasetXXX_Name/<trainer>__<plans>__<configuration>``
with ``plans.json``, ``dataset.json`` and ``fold_*/checkpoint_final.pth``). Each case goes through
``nnUNetPredictor.predict_single_npy_array``: nnU-Net's own cropping, normalization, resampling to the
configuration's spacing, sliding window (``tile_step_size``, Gaussian weighting), test-time mirroring along the
axes the trainer allowed (``use_mirroring``), the mean over folds, and the resampling back. The probability is
nnU-Net's softmax for ``label`` (default 1); the mask is nnU-Net's argmax segmentation equal to ``label``, or
``prob >= threshold`` when ``threshold`` is given.

**Axes.** A :class:`Case` holds ``(X, Y, Z)`` arrays as nibabel reads the NIfTI (voxel axes i, j, k) with
``spacing_mm`` along them. nnU-Net's readers give ``(c, z, y, x)``: SimpleITK's array of the same file is the
voxel axes reversed, with the spacing reversed too (``NibabelIO`` transposes to match). So the adapter feeds
``stacked.transpose(0, 3, 2, 1)`` with ``spacing = spacing_mm[::-1]`` and transposes the outputs back, exactly
what nnU-Net would have seen reading the case's NIfTI files. When ``plans.json`` names ``NibabelIOWithReorient``
as its reader, the arrays are first reoriented to RAS by the affine (as that reader does) and the outputs
moved back onto the case's grid. nnU-Net's own ``transpose_forward`` of the plans is applied inside the
predictor. The tests compare against ``predict_from_files_sequential`` on the case written as NIfTI.

**Channels.** ``dataset.json`` ``channel_names`` (``{"0": "FLAIR", "1": "T1"}``) give the input order. Each
channel reads the case modality ``channels[name]`` when ``channels`` maps it, else the name in lower case.

**Checkpoints are never unpickled.** nnU-Net loads checkpoints with ``torch.load(weights_only=False)``. This
adapter reads them with ``torch.load(weights_only=True)``, allowing only numeric numpy scalars besides
tensors and plain containers (nnU-Net's training log holds ``np.float64`` values); anything else is refused.
The network is built from the plans by the trainer's ``build_network_architecture`` (as nnU-Net's predictor
does) and handed to the predictor with ``manual_initialization``. nnU-Net v2 is an optional dependency
(``pip install 'robusteval[nnunet]'``), imported when a model is built.
"""

from __future__ import annotations

__all__ = ["CHECKPOINT", "CONFIGURATION", "PLANS", "TRAINER", "NnUNetModel", "load_checkpoint", "model_folder"]

import contextlib
import hashlib
import inspect
import io
import json
import pickle
import re
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robusteval.data.case import Case
from robusteval.errors import CaseError
from robusteval.models.base import ADAPTERS, ModelAdapter, Prediction, checkpoint_sha256, error_reason, resolve
from robusteval.models.orientation import Reorientation

if TYPE_CHECKING:  # torch and nnU-Net are imported where a model is built: listing and validating stay quick
    import torch

TRAINER, PLANS, CONFIGURATION, CHECKPOINT = "nnUNetTrainer", "nnUNetPlans", "3d_fullres", "checkpoint_final.pth"
OWN_KEYS = {
    "folder", "trainer", "plans", "configuration", "folds", "checkpoint", "channels", "use_mirroring",
    "tile_step_size", "threshold", "label",
}  # fmt: skip
INSTALL = "pip install 'robusteval[nnunet]'"
REORIENTING_READERS = {"NibabelIOWithReorient"}  # nnU-Net readers that reorient to RAS before transposing
_KEEP = (
    "if you trust the file, keep what inference needs: ckpt = torch.load(path, weights_only=False); "
    "torch.save({k: ckpt[k] for k in ('network_weights', 'trainer_name', 'inference_allowed_mirroring_axes')} "
    "| {'init_args': {'configuration': ckpt['init_args']['configuration']}}, path)"
)


def _read_json(path: Path, param: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"params.{param}: cannot read {path}: {error_reason(exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"params.{param}: {path} is not a JSON object")
    return data


def model_folder(params: dict[str, Any], base_dir: Path | None) -> Path:
    """The trained model folder: ``params.folder`` itself when it holds ``plans.json``, else its subfolder
    ``<trainer>__<plans>__<configuration>`` (a dataset's results folder). ValueError naming the parameter."""
    if "folder" not in params:
        raise ValueError("params.folder is required for the nnunet adapter (an nnU-Net v2 results folder)")
    folder = resolve(str(params["folder"]), base_dir)
    if not folder.is_dir():
        raise ValueError(f"params.folder: folder not found: {folder}")
    if (folder / "plans.json").is_file():
        return folder
    name = "__".join(
        str(params.get(k) or default)
        for k, default in (("trainer", TRAINER), ("plans", PLANS), ("configuration", CONFIGURATION))
    )
    if (folder / name / "plans.json").is_file():
        return folder / name
    found = sorted(p.parent.name for p in folder.glob("*/plans.json"))
    hint = f"; it holds {found} (set trainer, plans, configuration)" if found else ""
    raise ValueError(f"params.folder: {folder} holds neither plans.json nor {name}/plans.json{hint}")


def _folds(params: dict[str, Any], folder: Path) -> list[int | str]:
    """``params.folds`` (an int, ``all``, or a list of them); unset: every ``fold_<n>`` holding the checkpoint
    (nnU-Net's auto-detection), else ``fold_all``."""
    ckpt = str(params.get("checkpoint") or CHECKPOINT)
    raw = params.get("folds")
    if raw is None:
        numbered = sorted(
            int(p.parent.name.removeprefix("fold_"))
            for p in folder.glob(f"fold_*/{ckpt}")
            if p.parent.name.removeprefix("fold_").isdigit()
        )
        folds: list[int | str] = [*numbered] or (["all"] if (folder / "fold_all" / ckpt).is_file() else [])
        if not folds:
            raise ValueError(f"params.folds: no fold_*/{ckpt} in {folder}")
        return folds
    items = raw if isinstance(raw, list | tuple) else [raw]
    folds = []
    for f in items:
        if isinstance(f, bool) or not ((isinstance(f, int) and f >= 0) or f == "all"):
            raise ValueError(f"params.folds: expected fold numbers (0, 1, ...) or 'all', got {f!r}")
        folds.append(f)
    if not folds:
        raise ValueError("params.folds: empty; leave it out to use every fold found")
    for f in folds:
        if not (folder / f"fold_{f}" / ckpt).is_file():
            raise ValueError(f"params.folds: file not found: {folder / f'fold_{f}' / ckpt}")
    return folds


def _channel_names(dataset: dict[str, Any]) -> list[str]:
    names = dataset.get("channel_names", dataset.get("modality"))
    if not isinstance(names, dict) or not names:
        raise ValueError("params.folder: dataset.json has no channel_names")
    try:
        return [str(names[k]) for k in sorted(names, key=int)]
    except ValueError:
        raise ValueError(f"params.folder: dataset.json channel_names keys are not channel numbers: {names}") from None


def _modalities(params: dict[str, Any], dataset: dict[str, Any]) -> list[str]:
    """The case modality read by each nnU-Net input channel, in channel order."""
    names = _channel_names(dataset)
    mapping = params.get("channels")
    if mapping is None:
        return [n.lower() for n in names]
    if not isinstance(mapping, dict) or not all(isinstance(v, str) and v for v in mapping.values()):
        raise ValueError(
            f"params.channels: expected a mapping of the model's channel names to modalities, got {mapping!r}"
        )
    keys = {str(k).lower(): str(v) for k, v in mapping.items()}
    missing = [n for n in names if n.lower() not in keys]
    unknown = sorted(set(keys) - {n.lower() for n in names})
    if missing or unknown:
        raise ValueError(
            f"params.channels: the model's channels are {names} (dataset.json channel_names); "
            + (f"{missing} not mapped" if missing else f"{unknown} not among them")
        )
    return [keys[n.lower()] for n in names]


def _label_values(dataset: dict[str, Any]) -> list[int]:
    labels = dataset.get("labels")
    if not isinstance(labels, dict):
        raise ValueError("params.folder: dataset.json has no labels")
    if any(isinstance(v, list | tuple) for v in labels.values()):
        raise ValueError("params.folder: a region-based nnU-Net model (labels as lists) is not supported")
    return sorted(int(v) for k, v in labels.items() if k != "ignore")


def _check_settings(params: dict[str, Any]) -> None:
    unknown = set(params) - OWN_KEYS
    if unknown:
        raise ValueError(f"unknown params {sorted(unknown)} for the nnunet adapter; it takes {sorted(OWN_KEYS)}")
    for key in ("trainer", "plans", "configuration", "checkpoint"):
        if key in params and params[key] is not None and not (isinstance(params[key], str) and params[key]):
            raise ValueError(f"params.{key}: expected a name, got {params[key]!r}")
    if not isinstance(params.get("use_mirroring", True), bool):
        raise ValueError(f"params.use_mirroring: expected true or false, got {params['use_mirroring']!r}")
    step = params.get("tile_step_size", 0.5)
    if isinstance(step, bool) or not isinstance(step, int | float) or not 0 < step <= 1:
        raise ValueError(f"params.tile_step_size: expected a number in (0, 1], got {step!r}")
    thr = params.get("threshold")
    if thr is not None and (isinstance(thr, bool) or not isinstance(thr, int | float) or not 0 < thr < 1):
        raise ValueError(f"params.threshold: expected a number in (0, 1) or null (nnU-Net's argmax), got {thr!r}")


_NUMPY_SCALARS = (
    "Float16DType", "Float32DType", "Float64DType", "Int8DType", "Int16DType", "Int32DType", "Int64DType",
    "UInt8DType", "UInt16DType", "UInt32DType", "UInt64DType", "BoolDType",
)  # fmt: skip


def _safe_numpy() -> list[Any]:
    """Numeric numpy scalars (``np.float64`` in nnU-Net's training log): data only, no callable of choice."""
    from numpy._core.multiarray import scalar  # type: ignore[attr-defined]

    dtypes = [getattr(np.dtypes, n) for n in _NUMPY_SCALARS if hasattr(np.dtypes, n)]
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), np.dtype, *dtypes]


def load_checkpoint(path: Path) -> dict[str, Any]:
    """An nnU-Net checkpoint read with ``torch.load(weights_only=True)`` (numeric numpy scalars allowed).

    Returns the dict with ``network_weights`` (a state dict of tensors) and whatever else it holds; ValueError
    naming the file when it holds other Python objects (never unpickled) or no weights."""
    import torch

    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(_safe_numpy()):
            warnings.simplefilter("ignore", UserWarning)  # torch warns before refusing: our message says it
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"the Python object {found.group(1)}" if found else "Python objects, not only tensors"
        raise ValueError(
            f"checkpoint {path}: refused: it holds {what}, and unpickling it could run code; {_KEEP}"
        ) from None
    except Exception as exc:
        raise ValueError(f"checkpoint {path}: unreadable ({type(exc).__name__}: {error_reason(exc)})") from None
    weights = ckpt.get("network_weights") if isinstance(ckpt, dict) else None
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise ValueError(f"checkpoint {path}: not an nnU-Net checkpoint (no network_weights state dict)")
    return dict(ckpt)


def _trainer_class(name: str) -> Any:
    """The nnU-Net trainer class ``name``, found as nnU-Net's predictor finds it (nnU-Net's own trainers, then
    ``nnUNet_extTrainer``); older nnU-Net versions, without ``find_objects``, search their own trainers only."""
    try:
        from nnunetv2.utilities.find_objects import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            recursive_find_trainer_class_by_name,
        )
    except ImportError:
        import nnunetv2  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from nnunetv2.utilities.find_class_by_name import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            recursive_find_python_class,
        )

        folder = str(Path(nnunetv2.__path__[0]) / "training" / "nnUNetTrainer")
        found = recursive_find_python_class(folder, name, "nnunetv2.training.nnUNetTrainer")
        if found is None:
            raise ValueError(f"no trainer {name!r} in {folder}") from None
        return found
    return recursive_find_trainer_class_by_name(name)


class NnUNetModel(ModelAdapter):
    doc = "A trained nnU-Net v2 results folder, run in process by nnU-Net's predictor (checkpoints weights_only)."

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        super().__init__(name, params, base_dir, device)
        self.folder = model_folder(params, base_dir)
        self.folds = _folds(params, self.folder)
        self.dataset = _read_json(self.folder / "dataset.json", "folder")
        self.plans = _read_json(self.folder / "plans.json", "folder")
        self.modalities = _modalities(params, self.dataset)
        self.label = int(params.get("label", 1))
        self.threshold: float | None = params.get("threshold")
        self.reorient = self.plans.get("image_reader_writer") in REORIENTING_READERS
        self.predictor = self._predictor()

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        _check_settings(params)
        folder = model_folder(params, base_dir)
        _folds(params, folder)
        dataset = _read_json(folder / "dataset.json", "folder")
        plans = _read_json(folder / "plans.json", "folder")
        _modalities(params, dataset)
        labels = _label_values(dataset)
        label = params.get("label", 1)
        if isinstance(label, bool) or not isinstance(label, int) or label not in labels or label == 0:
            raise ValueError(f"params.label: expected a foreground label of dataset.json {labels}, got {label!r}")
        configs = plans.get("configurations", {})
        config = params.get("configuration")
        if config is not None and config not in configs:
            raise ValueError(f"params.configuration: {config!r} is not in plans.json ({sorted(configs)})")

    @classmethod
    def referenced_files(cls, params: dict[str, Any], base_dir: Path | None) -> list[Path]:
        """plans.json, dataset.json and the checkpoint of each fold used."""
        try:
            folder = model_folder(params, base_dir)
            folds = _folds(params, folder)
        except ValueError:
            return []
        ckpt = str(params.get("checkpoint") or CHECKPOINT)
        return [folder / "plans.json", folder / "dataset.json", *(folder / f"fold_{f}" / ckpt for f in folds)]

    @property
    def torch_device(self) -> torch.device:
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _predictor(self) -> Any:
        """nnU-Net's predictor, initialized as ``initialize_from_trained_model_folder`` does, from weights read
        with ``weights_only=True``."""
        try:
            from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor  # type: ignore[import-untyped,import-not-found,unused-ignore]
            from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels  # type: ignore[import-untyped,import-not-found,unused-ignore]
            from nnunetv2.utilities.plans_handling.plans_handler import PlansManager  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError as exc:
            raise ValueError(f"model {self.name}: the nnunet adapter needs nnU-Net v2: {INSTALL} ({exc})") from None

        ckpt_name = str(self.params.get("checkpoint") or CHECKPOINT)
        ckpts = [load_checkpoint(self.folder / f"fold_{f}" / ckpt_name) for f in self.folds]
        first = ckpts[0]
        trainer_name = str(first.get("trainer_name") or self.params.get("trainer") or TRAINER)
        init_args = first.get("init_args")
        trained = init_args.get("configuration") if isinstance(init_args, dict) else None
        asked = self.params.get("configuration")
        if asked is not None and trained is not None and asked != trained:
            raise ValueError(
                f"model {self.name}: params.configuration is {asked!r}, the checkpoint was trained as {trained!r}"
            )
        configuration = str(trained or asked or CONFIGURATION)
        axes = first.get("inference_allowed_mirroring_axes")
        mirror_axes = None if axes is None else tuple(int(a) for a in axes)

        plans_manager = PlansManager(self.plans)
        try:
            config_manager = plans_manager.get_configuration(configuration)
        except Exception as exc:
            raise ValueError(f"model {self.name}: configuration {configuration!r}: {error_reason(exc)}") from None
        label_manager = plans_manager.get_label_manager(self.dataset)
        if label_manager.has_regions:
            raise ValueError(f"model {self.name}: a region-based nnU-Net model is not supported")
        self.channel = list(label_manager.all_labels).index(self.label)
        n_in = determine_num_input_channels(plans_manager, config_manager, self.dataset)
        if n_in != len(self.modalities):
            raise ValueError(
                f"model {self.name}: the network takes {n_in} channels, dataset.json names {self.modalities}"
            )
        try:
            trainer = _trainer_class(trainer_name)
        except Exception as exc:
            raise ValueError(f"model {self.name}: nnU-Net trainer {trainer_name!r}: {error_reason(exc)}") from None
        n_out = label_manager.num_segmentation_heads
        if "plans_manager" in inspect.signature(trainer.build_network_architecture).parameters:
            network = trainer.build_network_architecture(
                plans_manager, config_manager, n_in, n_out, enable_deep_supervision=False
            )
        else:  # the signature of trainers written before nnU-Net 2.6
            network = trainer.build_network_architecture(
                config_manager.network_arch_class_name, config_manager.network_arch_init_kwargs,
                config_manager.network_arch_init_kwargs_req_import, n_in, n_out, enable_deep_supervision=False,
            )  # fmt: skip
        weights = [c["network_weights"] for c in ckpts]
        for fold, state in zip(self.folds, weights, strict=True):
            try:
                network.load_state_dict(state)
            except RuntimeError as exc:
                msg = " ".join(str(exc).split())[:500]
                raise ValueError(
                    f"model {self.name}: fold_{fold}/{ckpt_name} does not fit the network: {msg}"
                ) from None
        device = self.torch_device
        with contextlib.redirect_stdout(io.StringIO()):  # on a CPU it prints that it computes there
            predictor = nnUNetPredictor(
                tile_step_size=float(self.params.get("tile_step_size", 0.5)),
                use_gaussian=True,
                use_mirroring=bool(self.params.get("use_mirroring", True)),
                perform_everything_on_device=device.type == "cuda",
                device=device,
                verbose=False,
                allow_tqdm=False,
            )
        predictor.manual_initialization(
            network.to(device).eval(), plans_manager, config_manager, weights, self.dataset, trainer_name, mirror_axes
        )
        self.network, self.trainer_name, self.configuration, self.mirror_axes = (
            network,
            trainer_name,
            configuration,
            mirror_axes,
        )
        return predictor

    def predict(self, case: Case) -> Prediction:
        t0 = time.perf_counter()
        try:
            stacked = case.stacked(self.modalities)
        except KeyError as exc:
            raise CaseError(f"model {self.name}: {exc.args[0]}") from None
        orient = Reorientation.between(case.affine, "RAS" if self.reorient else None)
        sx, sy, sz = orient.spacing_mm(case.spacing_mm)
        data = np.ascontiguousarray(orient.forward(stacked).transpose(0, 3, 2, 1), dtype=np.float32)
        seg, probs = self.predictor.predict_single_npy_array(data, {"spacing": [sz, sy, sx]}, None, None, True)
        prob_zyx = np.asarray(probs[self.channel], dtype=np.float32)
        if not np.isfinite(prob_zyx).all():
            raise CaseError(f"model {self.name}: non-finite probability map from nnU-Net")
        prob = np.ascontiguousarray(orient.backward(prob_zyx.transpose(2, 1, 0)))
        if self.threshold is None:
            mask = np.ascontiguousarray(orient.backward(np.asarray(seg).transpose(2, 1, 0) == self.label))
        else:
            mask = prob >= self.threshold
        if prob.shape != case.shape:
            raise CaseError(f"model {self.name}: nnU-Net returned shape {prob.shape} for the case's {case.shape}")
        return Prediction(prob=np.clip(prob, 0.0, 1.0), mask=mask, timings_s={"nnunet_s": time.perf_counter() - t0})

    def fingerprint(self) -> str:
        digest = hashlib.sha256(super().fingerprint().encode())
        for path in self.referenced_files(self.params, self.base_dir):
            digest.update(checkpoint_sha256(path).encode())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        """``parameters`` (all network parameters) and what nnU-Net runs: trainer, configuration, folds, ..."""
        config = self.predictor.configuration_manager
        return {
            "parameters": int(sum(p.numel() for p in self.network.parameters())),
            "nnunet": {
                "folder": str(self.folder), "trainer": self.trainer_name, "configuration": self.configuration,
                "folds": self.folds, "channels": self.modalities, "patch_size": list(config.patch_size),
                "spacing_mm": list(config.spacing), "mirror_axes": None if self.mirror_axes is None or not
                self.predictor.use_mirroring else list(self.mirror_axes),
                "tile_step_size": self.predictor.tile_step_size,
            },
        }  # fmt: skip


ADAPTERS.add("nnunet", NnUNetModel)
