"""Cli package of the HRNN Workbench engine."""
