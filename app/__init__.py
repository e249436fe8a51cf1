"""The PySide6 + pyqtgraph desktop layer of HRNN Workbench (the engine never imports it)."""
