"""The TrUENet-style triplanar ensemble: each member segments the slices along its own axis; the ensemble's
probability is the mean of the members'."""

from __future__ import annotations

import torch

from robusteval.models.monai_net import network_class
from robusteval.models.nets.triplanar import PLANE_AXES, TriplanarUNet


def test_members_run_slice_by_slice_along_their_axis() -> None:
    torch.manual_seed(0)
    net = TriplanarUNet(channels=(4, 8), strides=(2,), num_res_units=0).eval()
    x = torch.randn(2, 2, 8, 12, 16)
    with torch.no_grad():
        members = net.member_logits(x)
        for (plane, axis), out in zip(PLANE_AXES.items(), members, strict=True):
            assert out.shape == (2, 1, 8, 12, 16)
            k = 3
            slice_in = x.select(axis, k)  # (N, C, H, W): the k-th slice along this plane's axis
            torch.testing.assert_close(out.select(axis, k), net.planes[plane](slice_in), atol=1e-5, rtol=1e-5)
        prob = torch.sigmoid(net(x))
        torch.testing.assert_close(prob, torch.stack([torch.sigmoid(m) for m in members]).mean(0), atol=1e-5, rtol=0)


def test_found_by_name_before_monai() -> None:
    assert network_class("TriplanarUNet") is TriplanarUNet
    assert network_class("UNet").__module__.startswith("monai.")
