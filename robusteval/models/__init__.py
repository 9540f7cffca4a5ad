"""Model adapters (``ADAPTERS``: one file each) and the committed default zoo."""

from robusteval.models import monai_net, zoo_entry  # noqa: F401  (registers the adapters)
from robusteval.models.base import ADAPTERS, InferenceSettings, ModelAdapter, Prediction, TorchSegmenter

__all__ = ["ADAPTERS", "InferenceSettings", "ModelAdapter", "Prediction", "TorchSegmenter"]
