"""robusteval's own network architectures (``NETWORKS``), found by name before ``monai.networks.nets``."""

from robusteval.models.nets import triplanar  # noqa: F401  (registers TriplanarUNet)
from robusteval.models.nets.registry import NETWORKS

__all__ = ["NETWORKS"]
