"""Drawing volumes: slices, the shift gallery, example overlays and the dataset preview.

One display convention for every image robusteval draws (:data:`ORIENTATION`): each volume is reoriented to
RAS by its header (:func:`~robusteval.viz.slices.to_ras`, no resampling) and an axial slice is shown in the
radiological view: the subject's right on the image's left, anterior up, pixels at their physical aspect.
Every figure says so in its title. Figures are bare :class:`matplotlib.figure.Figure` objects (no pyplot
state), saved with :func:`~robusteval.viz.png.save_png` (deterministic bytes).

The producing side of a run (:mod:`robusteval.illustrate`) and the commands call these; the report embeds the
PNG files they wrote and never draws a volume.
"""

from robusteval.viz.slices import ORIENTATION

__all__ = ["ORIENTATION"]
