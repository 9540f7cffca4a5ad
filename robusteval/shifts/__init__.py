"""Out-of-distribution shifts; ``SHIFTS`` maps a name to its class (one file per shift).

Families (``Shift.family``): ``artifact`` (motion, ghosting, spike, bias_field, blur, rician_noise,
gamma_compress, gamma_expand, anisotropy, elastic, affine), ``scanner`` (scanner), ``label_noise``
(label_erode, label_dilate, label_drop_small, label_add_spurious, label_elastic), ``modality``
(missing_modality, swap_modalities) and ``orientation`` (flip, permute_axes, rot90, header_mismatch).
See docs/shifts.md for every severity table.
"""

from robusteval.shifts import (  # noqa: F401  (each import registers its shift)
    affine,
    anisotropy,
    bias_field,
    blur,
    elastic,
    flip,
    gamma_compress,
    gamma_expand,
    ghosting,
    header_mismatch,
    label_add_spurious,
    label_dilate,
    label_drop_small,
    label_elastic,
    label_erode,
    missing_modality,
    motion,
    permute_axes,
    rician_noise,
    rot90,
    scanner,
    spike,
    swap_modalities,
)
from robusteval.shifts.base import SHIFTS, Shift, ShiftOptionError, Touches
from robusteval.shifts.compose import Condition, apply_condition, sample_condition

__all__ = ["SHIFTS", "Condition", "Shift", "ShiftOptionError", "Touches", "apply_condition", "sample_condition"]
