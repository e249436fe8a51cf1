"""The Results panel: comparison table, breakdown plots, the runs behind a selection, exports."""
