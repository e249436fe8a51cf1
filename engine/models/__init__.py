"""Models package of the HRNN Workbench engine."""
