"""Training package of the HRNN Workbench engine."""
