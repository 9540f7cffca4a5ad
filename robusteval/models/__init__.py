"""Model adapters (``ADAPTERS``: one file each), the committed default zoo, and efficiency profiles."""

from robusteval.models import (  # noqa: F401  (registers the adapters)
    bundle,
    knn,
    lesion_growing,
    monai_net,
    nnunet,
    predictions,
    python_net,
    rater,
    torchscript_net,
    zoo_entry,
)
from robusteval.models.base import ADAPTERS, InferenceSettings, ModelAdapter, Prediction, TorchSegmenter

__all__ = ["ADAPTERS", "InferenceSettings", "ModelAdapter", "Prediction", "TorchSegmenter"]
