"""Evaluation package of the HRNN Workbench engine."""
