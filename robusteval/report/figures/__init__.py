"""The report's figures: one module per figure, each a function of plain tables returning a bare
:class:`~matplotlib.figure.Figure` (or ``None`` when its inputs are absent); :mod:`.style` holds what they
share. The figures are drawn from ``summary.json`` records and ``cases.csv`` only, and embedded in the page as
PNG data URIs (:func:`~robusteval.report.figures.style.figure_to_data_uri`)."""

from robusteval.report.figures.breaking_points import breaking_point_figure
from robusteval.report.figures.degradation import degradation_figure
from robusteval.report.figures.distribution import distribution_figure
from robusteval.report.figures.efficiency import co2_figure, efficiency_figure
from robusteval.report.figures.forest import forest_figure
from robusteval.report.figures.label_noise import label_noise_figure
from robusteval.report.figures.lesion_size import lesion_size_figure
from robusteval.report.figures.rank_blobs import rank_blob_figure
from robusteval.report.figures.rood_heatmap import degradation_heatmap
from robusteval.report.figures.search_trace import search_trace_figure
from robusteval.report.figures.significance_map import significance_map_figure
from robusteval.report.figures.style import HUMAN_COLOUR, figure_to_data_uri, model_label, model_palette

__all__ = [
    "HUMAN_COLOUR",
    "breaking_point_figure",
    "co2_figure",
    "degradation_figure",
    "degradation_heatmap",
    "distribution_figure",
    "efficiency_figure",
    "figure_to_data_uri",
    "forest_figure",
    "label_noise_figure",
    "lesion_size_figure",
    "model_label",
    "model_palette",
    "rank_blob_figure",
    "search_trace_figure",
    "significance_map_figure",
]
