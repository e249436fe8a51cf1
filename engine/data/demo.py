"""The demo dataset the desktop app opens with on first launch (a seeded synthetic log)."""
from __future__ import annotations

from pathlib import Path

from engine.data import synthetic
from engine.data.column_mapping import ColumnMapping
from engine.data.importing import ImportOutcome, ImportRequest, import_log
from engine.data.preparation import PrepareSettings
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.storage.workspace import Workspace

DEMO_NAME = "demo (synthetic)"
DEMO_MIN_ITEM_SUPPORT = 5  # the demo log has ~20 events per item; 5 keeps almost all of it
SYNTHETIC_MAPPING = ColumnMapping("user_id", "item_id", "timestamp", event_type="event_type", time_unit="s")


def demo_settings() -> PrepareSettings:
    return PrepareSettings(min_item_support=DEMO_MIN_ITEM_SUPPORT)


def ensure_demo_dataset(workspace: Workspace, folder: Path, progress: ProgressCallback = no_progress,
                        cancel: CancelToken | None = None) -> ImportOutcome:
    """Write the demo log into ``folder`` (if not there) and import it (a no-op when it already is)."""
    path = Path(folder) / "demo-log.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        synthetic.generate_log(synthetic.demo_config(seed=0)).to_parquet(path, index=False)
    return import_log(workspace, ImportRequest(path, mapping=SYNTHETIC_MAPPING, settings=demo_settings(),
                                               name=DEMO_NAME), progress, cancel)
