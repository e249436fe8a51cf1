"""Storage package of the HRNN Workbench engine."""
