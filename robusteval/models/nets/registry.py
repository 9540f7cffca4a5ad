"""The registry of robusteval's own architectures (one file + one entry each)."""

from __future__ import annotations

__all__ = ["NETWORKS"]

import torch

from robusteval.registry import Registry

NETWORKS: Registry[type[torch.nn.Module]] = Registry("network architecture")
