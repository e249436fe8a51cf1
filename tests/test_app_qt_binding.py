"""The Qt binding must not release references it does not own: PySide6 6.12.0 drops a reference to
None on every call of a method that returns nothing, and on Python < 3.12 the app then aborts
("none_dealloc") after enough calls. pyproject excludes that release; this test guards the pin."""
from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QGraphicsRectItem, QTableWidget, QTableWidgetItem


def test_void_methods_leave_the_reference_count_of_none_alone(qapp) -> None:
    item, transform, table = QGraphicsRectItem(), QTransform(), QTableWidget(2, 2)
    table.setItem(0, 0, QTableWidgetItem("x"))
    before = sys.getrefcount(None)
    for _ in range(1000):
        item.setTransform(transform)
        table.item(0, 0).data(Qt.ItemDataRole.UserRole)
    assert sys.getrefcount(None) - before > -100, "this PySide6 release leaks references to None: pin another"
