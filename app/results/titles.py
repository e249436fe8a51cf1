"""How the Results panel names the significance levels."""
from __future__ import annotations

from engine.workbench.results import LEVELS

#: The levels the Wilcoxon tests can pair by, as the panel names them.
LEVEL_TITLES = {level: f"{level}s" for level in LEVELS}
