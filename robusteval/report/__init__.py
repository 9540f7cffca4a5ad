"""The HTML report: one offline file rendered from a run folder's files alone.

:mod:`~robusteval.report.view` reads the run folder (through :mod:`robusteval.rundir`); one module per section
in :mod:`~robusteval.report.sections` builds its part of the page; one module per figure in
:mod:`~robusteval.report.figures` draws the charts; :mod:`~robusteval.report.render` fills the template. The
report imports nothing that produces a run (engine, models, shifts, search, torch, MONAI, Ray, TorchIO): the
images it shows were drawn by the run (:mod:`robusteval.illustrate`) and stored in the folder.
"""

from robusteval.report.render import SECTIONS, build_context, render_report

__all__ = ["SECTIONS", "build_context", "render_report"]
