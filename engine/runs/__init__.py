"""Runs: their records in the workspace (status, heartbeat, metrics) and their execution."""
