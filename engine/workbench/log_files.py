"""What a shell needs to know of log files before it reads one, without loading the readers: the
format presets (their names and the columns they map) and the check that a path is a readable,
non-empty regular file (the first refusal of an import)."""
from __future__ import annotations

from engine.data.column_mapping import FORMAT_PRESETS, FormatPreset
from engine.files import check_readable

__all__ = ["FORMAT_PRESETS", "FormatPreset", "check_readable"]
