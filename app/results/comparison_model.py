"""The comparison table as a Qt model: one row per model, a column per metric at the chosen K with
mean ± std over seeds, the best mean of each column in bold, and a mark where the difference
from the reference model is significant (Wilcoxon signed-rank test paired by event, session or user,
p < 0.01); then the model's tie statistics (share of targets tied, items tied on average, share
given nothing), which say how much its ranks depend on tie handling."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from app.results.ties import NOT_STORED, TIE_TIPS, TIE_TITLES, format_tie
from app.results.titles import LEVEL_TITLES
from engine.workbench.metrics import metric_description, metric_label
from engine.workbench.results import DEFAULT_ALPHA, TIE_COLUMNS, ResultsView

FIXED_COLUMNS = ("Model", "Seeds")
#: The (model, metric) behind a cell; metric None for the model and seed columns, a tie column's
#: name (``tied_share``, ``mean_tied``, ``floor_share``) for the tie statistics.
CELL_ROLE = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


def metric_title(metric: str) -> str:
    """``"mrr@5"`` -> ``"MRR@5"``: the label the metric's registry entry declares."""
    return metric_label(metric)


def format_value(mean: float, std: float, mark: str) -> str:
    text = f"{mean:.4f} ± {std:.4f}" if math.isfinite(std) else f"{mean:.4f}"
    return f"{text} {mark}".rstrip()


class ComparisonModel(QAbstractTableModel):
    """Read-only; fed a :class:`ResultsView` and the models' tie statistics with :meth:`set_view`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._view: ResultsView | None = None
        self._models: list[str] = []
        self._metrics: list[str] = []
        self._cells: dict[tuple[str, str], pd.Series] = {}
        self._best: dict[str, float] = {}
        self._ties: dict[str, dict[str, float]] = {}  # model -> tie column -> mean over seeds
        self._order: list[str] = []  # the rows in the registry's order
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)

    def set_view(self, view: ResultsView | None, ties: pd.DataFrame | None = None) -> None:
        """``ties``: per model, the tie columns (the engine's ``tie_table``); none: "n/a"."""
        self.beginResetModel()
        self._view = view
        table = view.table if view is not None else pd.DataFrame(columns=["model", "metric", "mean"])
        self._models = list(dict.fromkeys(table["model"]))
        self._metrics = view.metrics if view is not None else []
        self._cells = {(row.model, row.metric): row for row in table.itertuples(index=False)}
        self._best = table.groupby("metric")["mean"].max().to_dict() if len(table) else {}
        self._ties = ties.set_index("model")[list(TIE_COLUMNS)].to_dict("index") if ties is not None else {}
        self._order = list(self._models)
        self._apply_sort()
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by a column (the model's name, its seeds, a metric's mean or a tie
        statistic); a column below 0 brings the registry's order back (the paper's)."""
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._apply_sort()
        self.layoutChanged.emit()

    def _apply_sort(self) -> None:
        column, order = self._sort
        if column < 0 or not self._models or column >= self.columnCount():
            self._models = list(self._order)
            return

        def key(model: str) -> Any:
            if column == 0:
                return model.lower()
            _, metric = self.cell(0, column)
            if metric in TIE_COLUMNS:
                value = self.tie_value(model, metric)
            else:
                row = self._cells[(model, metric or self._metrics[0])]
                value = row.n_seeds if column == 1 else row.mean
            return value if math.isfinite(value) else -math.inf

        self._models = sorted(self._order, key=key, reverse=order == Qt.SortOrder.DescendingOrder)

    @property
    def models(self) -> list[str]:
        return list(self._models)

    @property
    def metrics(self) -> list[str]:
        return list(self._metrics)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._models)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid() or not self._models:
            return 0
        return len(FIXED_COLUMNS) + len(self._metrics) + len(TIE_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < self.columnCount():
            return None
        _, key = self.cell(0, section)
        if role == Qt.ItemDataRole.DisplayRole:
            if key is None:
                return FIXED_COLUMNS[section]
            return TIE_TITLES[key] if key in TIE_COLUMNS else metric_title(key)
        if role == Qt.ItemDataRole.ToolTipRole and key is not None:
            return TIE_TIPS[key] if key in TIE_COLUMNS else metric_description(key)
        return None

    def cell(self, row: int, column: int) -> tuple[str, str | None]:
        """The (model, metric) of a cell; metric None for the model and seed columns, the tie
        column's name for a tie statistic."""
        metric_column = column - len(FIXED_COLUMNS)
        if metric_column < 0:
            metric = None
        elif metric_column < len(self._metrics):
            metric = self._metrics[metric_column]
        else:
            metric = TIE_COLUMNS[metric_column - len(self._metrics)]
        return self._models[row], metric

    def tie_value(self, model: str, column: str) -> float:
        """A tie statistic of a model (mean over its seeds); NaN where not stored."""
        return float(self._ties.get(model, {}).get(column, math.nan))

    def is_best(self, row: int, column: int) -> bool:
        model, metric = self.cell(row, column)
        return (metric is not None and metric not in TIE_COLUMNS
                and math.isclose(self._cells[(model, metric)].mean, self._best[metric]))

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._view is None:
            return None
        model, metric = self.cell(index.row(), index.column())
        reference = model == self._view.reference
        if role == CELL_ROLE:
            return model, metric
        if metric is None:
            return self._label_data(model, index.column(), reference, role)
        if metric in TIE_COLUMNS:
            return self._tie_data(model, metric, role)
        row = self._cells[(model, metric)]
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(row.mean, row.std, row.mark)
        if role == Qt.ItemDataRole.FontRole and self.is_best(index.row(), index.column()):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(model, metric, row, reference)
        return None

    def _label_data(self, model: str, column: int, reference: bool, role: int) -> Any:
        """The model's name (column 0) and its number of seeds (column 1)."""
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"{model} (reference)" if reference else model
            return str(int(self._cells[(model, self._metrics[0])].n_seeds))
        if role == Qt.ItemDataRole.FontRole and reference:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _tie_data(self, model: str, column: str, role: int) -> Any:
        value = self.tie_value(model, column)
        if role == Qt.ItemDataRole.DisplayRole:
            return format_tie(column, value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{model}: {format_tie(column, value)}\n{TIE_TIPS[column] if math.isfinite(value) else NOT_STORED}"
        return None

    def _tooltip(self, model: str, metric: str, row: Any, reference: bool) -> str:
        seeds = int(row.n_seeds)
        spread = f", standard deviation {row.std:.4f}" if math.isfinite(row.std) else ""
        text = f"{model}, {metric_title(metric)}: mean {row.mean:.4f} over {seeds} seed{'s' * (seeds != 1)}{spread}"
        if reference:
            return f"{text}\nThe reference of the significance tests."
        if math.isfinite(row.p_value) and self._view is not None:
            verdict = "significant" if row.p_value < DEFAULT_ALPHA else "not significant"
            level = LEVEL_TITLES.get(self._view.level, self._view.level)
            return (f"{text}\nWilcoxon signed-rank test against {self._view.reference} on {level}: "
                    f"p = {row.p_value:.3g} ({verdict} at p < {DEFAULT_ALPHA:g})")
        return text
