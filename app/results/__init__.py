"""The Results panel: comparison table, breakdown plots, the runs behind a selection, exports."""
from app.results.results_panel import ResultsPanel

__all__ = ["ResultsPanel"]
