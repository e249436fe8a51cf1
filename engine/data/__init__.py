"""Data package of the HRNN Workbench engine."""
