"""The HTML report: one offline file rendered from a run dir."""

from robusteval.report.render import render_report

__all__ = ["render_report"]
