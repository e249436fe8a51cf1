"""Exporting a pyqtgraph plot as PNG or SVG, by the file's suffix: PNG through pyqtgraph's image
exporter (at least 1,200 pixels wide), SVG through pyqtgraph's SVG exporter, or Qt's SVG generator
where pyqtgraph's cannot parse what recent Qt versions write."""
from __future__ import annotations

import logging
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter
from PySide6.QtSvg import QSvgGenerator

log = logging.getLogger(__name__)

PNG_MIN_WIDTH = 1200


def export_plot(plot_item: pg.PlotItem, path: Path, title: str = "plot", dpi: float = 96.0) -> None:
    """Write ``plot_item`` (with what it holds: title, axes, legend) to ``path`` (.svg or .png)."""
    path = Path(path)
    if path.suffix.lower() == ".svg":
        try:
            pg.exporters.SVGExporter(plot_item).export(str(path))
        except ValueError as exc:
            # pyqtgraph 0.14's SVGExporter cannot parse the closing "Z" of the paths written by
            # recent Qt versions (pyqtgraph issue #3485): let Qt's SVG generator draw the plot.
            log.debug("pyqtgraph's SVG exporter failed (%s); using QSvgGenerator", exc)
            _render_svg(plot_item, path, title, dpi)
    else:
        exporter = pg.exporters.ImageExporter(plot_item)
        exporter.parameters()["width"] = max(PNG_MIN_WIDTH, int(plot_item.sceneBoundingRect().width()))
        exporter.export(str(path))
    log.info("plot exported to %s", path)


def _render_svg(plot_item: pg.PlotItem, path: Path, title: str, dpi: float) -> None:
    source = plot_item.sceneBoundingRect()
    target = QRectF(0, 0, source.width(), source.height())
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(source.size().toSize())
    generator.setViewBox(target)
    generator.setResolution(int(dpi))  # pyqtgraph sizes its items for the screen
    generator.setTitle(title)
    painter = QPainter(generator)
    try:
        painter.fillRect(target, QColor("white"))
        plot_item.scene().render(painter, target, source)
    finally:
        painter.end()
