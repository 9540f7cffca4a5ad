"""Illustrations of a run, drawn while the run still has its volumes and models, written into the run folder.

A run folder keeps metrics, not volumes, so everything the report shows of images is drawn here, at run time:
the dataset preview and the shift gallery (:mod:`~robusteval.illustrate.images`), the worst- and median-case
overlays and the worst case a search found (:mod:`~robusteval.illustrate.examples`). Drawing is
:mod:`robusteval.viz`'s; this package chooses what to draw, rebuilds the shifted volumes from the recorded
seeds and parameters, and predicts. A picture that cannot be drawn is a note, never a failed run.
"""

from robusteval.illustrate.examples import choose_examples, write_examples
from robusteval.illustrate.images import shift_gallery, write_run_images

__all__ = ["choose_examples", "shift_gallery", "write_examples", "write_run_images"]
