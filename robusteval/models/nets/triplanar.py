"""TrUENet-style triplanar ensemble: three 2D U-Nets on sagittal, coronal and axial slices.

Sundaresan et al. (2021): each plane's 2D network segments every slice of the volume along its axis; the three
probability maps are averaged. Input ``(N, C, X, Y, Z)`` in RAS order (X: left-right, so sagittal slices are
taken along X; Y: posterior-anterior, coronal; Z: inferior-superior, axial). The slice size must be divisible by
the product of the strides (8 by default). ``forward`` returns the logit of the averaged probability, so a sigmoid
downstream gives the ensemble's probability; ``member_logits`` gives each plane's own logits (each member is
trained with its own loss, as the three TrUENet networks are trained independently).
"""

from __future__ import annotations

__all__ = ["PLANE_AXES", "TriplanarUNet"]

from collections.abc import Sequence

import torch
from monai.networks.nets.unet import UNet

from robusteval.models.nets.registry import NETWORKS

PLANE_AXES = {"sagittal": 2, "coronal": 3, "axial": 4}
"""Axis of a ``(N, C, X, Y, Z)`` tensor along which each plane's slices are taken."""


class TriplanarUNet(torch.nn.Module):
    def __init__(
        self,
        in_channels: int = 2,
        out_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64, 128),
        strides: Sequence[int] = (2, 2, 2),
        num_res_units: int = 1,
    ) -> None:
        super().__init__()
        self.planes = torch.nn.ModuleDict(
            {
                plane: UNet(
                    spatial_dims=2,
                    in_channels=in_channels,
                    out_channels=out_channels,
                    channels=tuple(channels),
                    strides=tuple(strides),
                    num_res_units=num_res_units,
                )
                for plane in PLANE_AXES
            }
        )

    def member_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each plane's logits ``(N, out, X, Y, Z)``: its 2D network run on every slice along its axis."""
        outs = []
        for plane, axis in PLANE_AXES.items():
            moved = x.movedim(axis, 2)  # (N, C, S, H, W)
            n, c, s, h, w = moved.shape
            slices = moved.transpose(1, 2).reshape(n * s, c, h, w)
            y = self.planes[plane](slices)
            outs.append(y.reshape(n, s, -1, h, w).transpose(1, 2).movedim(2, axis))
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prob = torch.stack([torch.sigmoid(o) for o in self.member_logits(x)]).mean(dim=0)
        return torch.logit(prob.clamp(1e-6, 1.0 - 1e-6))


NETWORKS.add("TriplanarUNet", TriplanarUNet)
