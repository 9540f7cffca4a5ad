"""PyTorch (CPU or CUDA) re-implementations of TorchIO's slow deterministic transforms, same parameters.

- :func:`bias_field` = ``tio.BiasField.generate_bias_field`` (a separable polynomial, one einsum);
- :func:`elastic` = ``tio.ElasticDeformation`` (SimpleITK cubic B-spline over the ITK transform domain, with
  ITK's resampling rules: linear with edge clamping or nearest rounding half up, points outside
  ``[-0.5, n - 0.5)`` get the image minimum);
- :func:`motion` = ``tio.Motion`` (rigid resampling of every movement, k-space segments stitched along
  the last axis; TorchIO's convention: rotations about the world (LPS) origin, because its
  matrix round trip drops the Euler centre).

All images of a case are processed in one batch. On CPU the geometry is computed in float64 and the
output matches TorchIO to float32 rounding (the tests bound the difference); on CUDA it is float32.
"""

from __future__ import annotations

__all__ = ["bias_field", "elastic", "euler_matrix", "is_axis_aligned", "motion", "resolve_device"]

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from robusteval.shifts.base import ShiftOptionError

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
_EPS = 1.0 / 8.0  # ITK BSplineTransformInitializer's domain epsilon (voxels)


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when available)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ShiftOptionError("option 'device' is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(device)


def _float(device: torch.device) -> torch.dtype:
    return torch.float64 if device.type == "cpu" else torch.float32


# --------------------------------------------------------------------------------------------- bias field
def bias_field(
    shape: Sequence[int], order: int, coefficients: Sequence[float], device: torch.device | None = None
) -> torch.Tensor:
    """``exp(sum c * x^i y^j z^k)`` over TorchIO's normalised coordinates, float32, on ``device``."""
    device = device or torch.device("cpu")
    dtype = _float(device)
    powers = []
    for n in shape:
        r = torch.arange(-n / 2, n / 2, dtype=torch.float64) + 0.5
        peak = float(r.max())
        if peak > 0:
            r = r / peak
        powers.append(torch.stack([r**p for p in range(order + 1)]).to(device=device, dtype=dtype))
    coef = torch.zeros((order + 1,) * 3, dtype=dtype)
    i = 0
    for a in range(order + 1):
        for b in range(order + 1 - a):
            for c in range(order + 1 - (a + b)):
                coef[a, b, c] = float(coefficients[i])
                i += 1
    log = torch.einsum("abc,ai,bj,ck->ijk", coef.to(device), powers[0], powers[1], powers[2])
    return torch.exp(log).to(torch.float32)


# ----------------------------------------------------------------------------------------- resampling
def _normalise(coords: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Voxel indices ``(..., 3)`` in array-axis order -> ``grid_sample`` coordinates (last axis first, in
    [-1, 1] across voxel centres: ``align_corners=True``)."""
    return torch.stack([2.0 * coords[..., a] / max(shape[a] - 1, 1) - 1.0 for a in (2, 1, 0)], dim=-1)


def _sample(volumes: torch.Tensor, grid: torch.Tensor, mode: str, fill: torch.Tensor) -> torch.Tensor:
    """``volumes`` ``(C, X, Y, Z)`` at the ``grid_sample`` coordinates ``grid`` ``(1, X, Y, Z, 3)``, with
    ITK's rules: voxel indices outside ``[-0.5, n - 0.5)`` get ``fill[c]``; linear interpolation clamps at
    the edges; nearest rounds half up. Returns ``(C, X, Y, Z)``."""
    shape = volumes.shape[1:]
    # grid coordinate g of axis a <-> index (g + 1) (n - 1) / 2: inside [-0.5, n - 0.5) <-> |g| < 1 + 1 / (n - 1)
    # (the single boundary plane at exactly -0.5 counts as outside here, as a measure-zero difference)
    bound = torch.tensor([1.0 + 1.0 / max(shape[a] - 1, 1) for a in (2, 1, 0)], dtype=grid.dtype, device=grid.device)
    outside = ~(grid.abs() < bound).all(dim=-1)[0]
    if mode == "nearest":
        flat = torch.zeros(grid.shape[:-1], dtype=torch.long, device=grid.device)
        for k, a in enumerate((2, 1, 0)):
            idx = torch.floor((grid[..., k] + 1.0) * (max(shape[a] - 1, 1) / 2.0) + 0.5).long()
            flat += idx.clamp(0, shape[a] - 1) * int(np.prod(shape[a + 1 :]))
        src = volumes.reshape(volumes.shape[0], -1)
        out = torch.gather(src, 1, flat.reshape(1, -1).expand(src.shape[0], -1)).reshape(volumes.shape)
    else:
        src = volumes.to(grid.dtype)[None]
        out = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=True)[0]
    out = out.to(volumes.dtype)
    for ch in range(out.shape[0]):
        out[ch].masked_fill_(outside, float(fill[ch]))
    return out


def is_axis_aligned(affine: NDArray[np.float64], tol: float = 1e-6) -> bool:
    """Whether every voxel axis is parallel to a world axis (a scaled signed permutation)."""
    m = np.abs(np.asarray(affine, dtype=np.float64)[:3, :3])
    big = m > tol * m.max()
    return bool((big.sum(axis=0) == 1).all() and (big.sum(axis=1) == 1).all())


# -------------------------------------------------------------------------------------------- elastic
def _bspline3(x: torch.Tensor) -> torch.Tensor:
    ax = x.abs()
    return torch.where(
        ax < 1.0, (4.0 - 6.0 * ax**2 + 3.0 * ax**3) / 6.0, torch.where(ax < 2.0, (2.0 - ax) ** 3 / 6.0, 0.0)
    )


def elastic(
    volumes: torch.Tensor,
    affine: NDArray[np.float64],
    control_points: NDArray[np.float64],
    modes: Sequence[str],
    device: torch.device | None = None,
) -> torch.Tensor:
    """``tio.ElasticDeformation(control_points)`` applied to each volume of ``(C, X, Y, Z)`` (RAS ``affine``,
    axis-aligned), ``modes[c]`` ``linear`` or ``nearest``."""
    if not is_axis_aligned(affine):
        raise ValueError("the torch elastic backend needs an axis-aligned affine; use backend 'torchio'")
    device = device or volumes.device
    dtype = _float(device)
    shape = volumes.shape[1:]
    lps = _RAS_TO_LPS @ np.asarray(affine, dtype=np.float64)
    # world (LPS) axis of each voxel axis, and the signed step along it (mm per voxel)
    world_axis = [int(np.argmax(np.abs(lps[:3, a]))) for a in range(3)]
    step = [float(lps[world_axis[a], a]) for a in range(3)]
    grid_n = np.asarray(control_points.shape[:3])
    mesh = grid_n - 3
    weights = []
    for a in range(3):
        d = world_axis[a]
        # ITK: domain corners at index -0.5 - eps and n - 0.5 + eps; the domain origin is their minimum
        ends = [float(lps[d, 3] + step[a] * i) for i in (-0.5 - _EPS, shape[a] - 0.5 + _EPS)]
        lo, length = min(ends), abs(ends[1] - ends[0])
        spacing = length / float(mesh[d])
        p = torch.arange(shape[a], dtype=torch.float64) * step[a] + float(lps[d, 3])
        u = (p - (lo - spacing)) / spacing  # continuous index in the control grid (origin one spacing before)
        start = torch.floor(u - 1.0)
        w = torch.zeros(shape[a], int(grid_n[d]), dtype=torch.float64)
        for k in range(4):
            idx = (start + k).long()
            ok = (idx >= 0) & (idx < int(grid_n[d]))
            w[ok, idx[ok]] = _bspline3(u[ok] - (start[ok] + k))
        weights.append(w.to(device=device, dtype=dtype))
    cp = torch.as_tensor(np.asarray(control_points, dtype=np.float64), device=device, dtype=dtype)
    cp = cp.permute(world_axis[0], world_axis[1], world_axis[2], 3)  # control axes in voxel-axis order
    disp = torch.einsum("abcm,ia,jb,kc->ijkm", cp, weights[0], weights[1], weights[2])  # (X, Y, Z, 3) LPS mm
    grids = torch.meshgrid(*[torch.arange(n, device=device, dtype=dtype) for n in shape], indexing="ij")
    coords = torch.stack([grids[a] + disp[..., world_axis[a]] / step[a] for a in range(3)], dim=-1)
    grid = _normalise(coords, shape)[None]
    vols = volumes.to(device)
    fill = vols.reshape(vols.shape[0], -1).min(dim=1).values
    out = torch.empty_like(vols)
    for mode in set(modes):
        sel = [c for c, m in enumerate(modes) if m == mode]
        out[sel] = _sample(vols[sel], grid, mode, fill[sel])
    return out


# --------------------------------------------------------------------------------------------- motion
def euler_matrix(degrees: Sequence[float]) -> NDArray[np.float64]:
    """ITK ``Euler3DTransform`` rotation (ZXY order: ``Rz @ Rx @ Ry``) for angles in degrees about x, y, z."""
    ax, ay, az = (math.radians(float(d)) for d in degrees)
    cx, sx, cy, sy, cz, sz = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return np.asarray(rz @ rx @ ry, dtype=np.float64)


def motion(
    volumes: torch.Tensor,
    affine: NDArray[np.float64],
    degrees: Sequence[Sequence[float]],
    translation: Sequence[Sequence[float]],
    times: Sequence[float],
    device: torch.device | None = None,
) -> torch.Tensor:
    """``tio.Motion(degrees, translation, times, 'linear')`` applied to each volume of ``(C, X, Y, Z)``.

    TorchIO stitches centred 3D spectra along the last axis; since the segments only split that axis, the
    same image is ``ifft_z(sum_i mask_i fft_z(image_i))`` with 1D FFTs along z only (the x and y transforms
    cancel), and a movement whose segment is empty is never resampled.
    """
    device = device or volumes.device
    dtype = _float(device)
    vols = volumes.to(device=device, dtype=torch.float32)
    c, shape = vols.shape[0], tuple(vols.shape[1:])
    # which image fills each k_z column (TorchIO: segments of the fftshift-ed axis, the unmoved image's
    # spectrum swapped into the segment holding the first time > 0.5)
    t = np.asarray(times, dtype=np.float64)
    n_images = len(t) + 1
    order = list(range(n_images))
    swap = int(np.where(t > 0.5)[0].min()) if np.any(t > 0.5) else n_images - 1
    order[0], order[swap] = order[swap], order[0]
    last = shape[2]
    ends = [int(v) for v in (last * t).astype(int).tolist()] + [last]
    owner_shifted = np.empty(last, dtype=np.int64)
    ini = 0
    for segment, fin in enumerate(ends):
        owner_shifted[ini:fin] = order[segment]
        ini = max(ini, fin)
    owner = np.roll(owner_shifted, -(last // 2))  # fftshift(x)[k] = x[(k - n // 2) % n]
    lps = _RAS_TO_LPS @ np.asarray(affine, dtype=np.float64)
    inv = np.linalg.inv(lps)
    # voxel index (array-axis order) -> grid_sample coordinate (last axis first), as a 4x4 matrix
    to_grid = np.zeros((4, 4))
    to_grid[3, 3] = 1.0
    for k, a in enumerate((2, 1, 0)):
        to_grid[k, a] = 2.0 / max(shape[a] - 1, 1)
        to_grid[k, 3] = -1.0
    from_grid = np.linalg.inv(to_grid)
    fill = vols.reshape(c, -1).min(dim=1).values
    combined = torch.zeros((c, *shape), dtype=torch.complex64, device=device)
    for i in range(n_images):
        cols = torch.as_tensor(np.flatnonzero(owner == i), device=device)
        if cols.numel() == 0:
            continue
        if i == 0:
            image = vols
        else:
            rigid = np.eye(4)
            rigid[:3, :3] = euler_matrix(degrees[i - 1])
            rigid[:3, 3] = np.asarray(translation[i - 1], dtype=np.float64)
            theta = to_grid @ inv @ rigid @ lps @ from_grid  # output grid coordinate -> input grid coordinate
            theta_t = torch.as_tensor(theta[:3], device=device, dtype=dtype)[None]
            grid = F.affine_grid(theta_t, [1, 1, *shape], align_corners=True)
            image = _sample(vols, grid, "linear", fill)
        combined[..., cols] = torch.fft.fft(image, dim=-1)[..., cols]
    out: torch.Tensor = torch.fft.ifft(combined, dim=-1).real.float()
    return out
