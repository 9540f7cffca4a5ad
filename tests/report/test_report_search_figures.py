"""Report figures drawn from search records: the breaking-point dot plot and the search trace."""

from __future__ import annotations

import numpy as np


def test_breaking_point_dot_plot_and_trace() -> None:
    from robusteval.report.figures import breaking_point_figure, search_trace_figure

    trace = [{"value": v, "objective": 0.9 - v} for v in (0.0, 0.5, 1.0)]
    common = {"shift": "motion", "parameter": "degrees", "far": 1.0, "objective": "mean", "metric": "dsc"}
    records = [
        {**common, "model": "a", "value": 0.4, "ci_low": 0.3, "ci_high": 0.6, "threshold": 0.8, "points": trace},
        {**common, "model": "b", "value": None, "ci_low": None, "ci_high": None, "threshold": 0.8, "points": trace},
        {**common, "model": "c", "value": 0.8, "ci_low": 0.7, "ci_high": None, "threshold": 0.8, "points": trace},
    ]
    fig = breaking_point_figure(records, ["a", "b", "c"])
    assert fig is not None
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "b", "a"]
    xs = sorted(float(x) for line in ax.get_lines() for x in np.atleast_1d(line.get_xdata()))
    assert 0.3 in xs  # a's interval
    assert 0.6 in xs
    assert xs.count(1.0) >= 3  # b censored at the range end, c's open upper bound, the range line
    assert breaking_point_figure([], ["a"]) is None
    trace_fig = search_trace_figure(records, ["a", "b", "c"])
    assert trace_fig is not None
    assert trace_fig.axes[0].get_ylabel() == "mean (dsc)"
