"""Importing a log file into a workspace: read, map, store the raw log, prepare and store the
dataset, all in one transaction (an interrupted import leaves nothing behind)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from engine.data.column_mapping import (
    FORMAT_PRESETS,
    ROLES,
    ColumnMapping,
    FormatPreset,
    detect_roles,
    mapping_from_roles,
)
from engine.data.preparation import PREPARE_LABELS, PreparedEvents, PrepareSettings, prepare_events
from engine.data.raw_log import SKIP_LABEL, SKIP_SETTING, RawLog, read_raw_log
from engine.data.reading import (
    FileFormat,
    check_memory,
    check_readable,
    estimate_size,
    preset_for_structure,
    read_table,
    sniff_format,
)
from engine.data.statistics import table1_statistics
from engine.errors import InputError, LogNotPreparedError
from engine.files import file_digest
from engine.progress import CancelToken, ProgressCallback, no_progress, scaled
from engine.storage import catalog
from engine.storage.workspace import Workspace
from engine.text import name_list

__all__ = ["FORMAT_PRESETS", "PREPARE_LABELS", "ROLES", "SKIP_LABEL", "SKIP_SETTING", "ColumnMapping", "ImportOutcome",
           "ImportRequest", "LogNotPreparedError", "LogPreview", "PrepareSettings", "detect_roles", "import_file",
           "import_log", "mapping_from_roles", "prepare_dataset", "preview_log", "settings_for"]

log = logging.getLogger(__name__)

PREVIEW_ROWS = 20


@dataclass(frozen=True)
class ImportRequest:
    """What to import and how. ``preset`` and ``mapping`` None: detected. ``settings`` None: the
    defaults with the preset's suggested values. ``name`` None: from the file name."""

    path: Path
    preset: str | None = None
    mapping: ColumnMapping | None = None
    settings: PrepareSettings | None = None
    name: str | None = None
    skip_invalid_rows: bool = False
    keep_unprepared_log: bool = True  # store the raw log when its preparation leaves nothing (else store nothing)


@dataclass(frozen=True)
class ImportOutcome:
    dataset_id: int
    dataset_name: str
    log_id: int
    reused_log: bool  # the same file under the same mapping was imported before
    reused_dataset: bool  # ... and prepared with the same settings: nothing new stored
    statistics: dict
    skipped_rows: int = 0
    members: tuple[str, ...] = ()  # the files of a zip archive read one after the other (name order)


@dataclass(frozen=True)
class LogPreview:
    """The first rows of a file, how it was read, the detected preset and mapping, and the column
    detected for each role (those found even when the mapping is incomplete)."""

    file_format: FileFormat
    rows: pd.DataFrame  # the first rows
    preset: FormatPreset | None
    mapping: ColumnMapping | None
    roles: dict[str, str | None] = field(default_factory=dict)


def preview_log(path: Path, preset_name: str | None = None) -> LogPreview:
    """Read the head of ``path`` and detect its format, preset and column mapping."""
    path = Path(path)
    preset = _preset(preset_name)
    file_format = sniff_format(path, preset)
    rows = read_table(path, file_format, nrows=PREVIEW_ROWS)
    if preset is None:
        preset = preset_for_structure(rows, file_format)
        if preset is not None and preset.column_names is not None:
            file_format = sniff_format(path, preset)
            rows = read_table(path, file_format, nrows=PREVIEW_ROWS)
    if preset is not None:
        roles = {role: getattr(preset.mapping, role) for role in ROLES}
        return LogPreview(file_format, rows, preset, preset.mapping, roles)
    roles = detect_roles([str(c) for c in rows.columns])
    return LogPreview(file_format, rows, None, mapping_from_roles(roles), roles)


def _preset(name: str | None) -> FormatPreset | None:
    if name is None:
        return None
    if name not in FORMAT_PRESETS:
        raise InputError(f"unknown format preset '{name}' (known: {', '.join(FORMAT_PRESETS)})")
    return FORMAT_PRESETS[name]


def settings_for(preset: FormatPreset | None, settings: PrepareSettings | None) -> PrepareSettings:
    """Explicit settings, else the defaults with the preset's suggested values."""
    if settings is not None:
        return settings
    suggested = dict(preset.suggested_settings) if preset is not None else {}
    if "drop_event_types" in suggested:
        suggested["drop_event_types"] = tuple(suggested["drop_event_types"])
    return PrepareSettings(**suggested)


def import_log(workspace: Workspace, request: ImportRequest, progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> ImportOutcome:
    """Import ``request.path`` and prepare it. A file already imported under the same mapping is
    not stored again; with the same settings too, the existing dataset is returned."""
    cancel = cancel or CancelToken()
    path = Path(request.path)
    check_readable(path)
    progress(0.0, f"detecting the format of {path.name}")
    preview = preview_log(path, request.preset)
    mapping = request.mapping or preview.mapping
    if mapping is None:
        missing = [role for role in ("user", "item", "time") if preview.roles.get(role) is None
                   and not (role == "user" and preview.roles.get("session"))]
        raise InputError(f"{path}: cannot tell which columns hold the {name_list(missing)} (columns: "
                         f"{name_list(preview.rows.columns)}); choose a preset or map the columns",
                         setting=f"{missing[0]}_column" if missing else None)
    check_memory(path, preview.file_format)
    settings = settings_for(preview.preset, request.settings)
    progress(0.02, "computing the file's digest")
    digest = file_digest(path, cancel)
    progress(0.05, "checking the workspace")

    existing_log = catalog.find_log(workspace, digest, mapping.key())
    existing_log_id = existing_log.id if existing_log is not None else None
    if existing_log_id is not None:  # the same file under the same mapping: prepare the stored log
        return replace(prepare_dataset(workspace, existing_log_id, settings,
                                       request.name or _default_name(path, preview.preset), scaled(progress, 0.05, 1.0),
                                       cancel), members=_read_members(preview))
    progress(0.1, f"reading {path.name}")
    raw, skipped = read_raw_log(path, preview.file_format, mapping, request.skip_invalid_rows, cancel,
                                _reading_progress(scaled(progress, 0.1, 0.35), estimate_size(path, preview.file_format)
                                                  .events))
    cancel.raise_if_cancelled()
    progress(0.35, "sessionizing and filtering")
    try:
        events = prepare_events(raw, settings)
    except InputError as exc:
        if not request.keep_unprepared_log:
            raise LogNotPreparedError(f"{path}: {exc}; nothing was stored", exc.setting, exc.label) from exc
        log_id = _store_raw_log(workspace, path, preview, mapping, digest, raw, progress, cancel)
        raise LogNotPreparedError(f"{path}: {exc}; the log is stored, ready to be prepared with other settings",
                                  exc.setting, exc.label, log_id) from exc
    statistics = table1_statistics(events)
    cancel.raise_if_cancelled()

    try:
        return _store_import(workspace, path, request, preview, mapping, settings, digest, raw, events, statistics,
                             skipped, progress, cancel)
    except catalog.LogAlreadyStored as stored:
        # Another import of the same file under the same mapping committed first (the unique
        # digest and mapping): ours rolled back; prepare the stored log as a re-import would.
        existing_log_id = stored.log_id
        log.info("%s was imported by another process meanwhile; using its stored log", path)
        return replace(prepare_dataset(workspace, existing_log_id, settings,
                                       request.name or _default_name(path, preview.preset), scaled(progress, 0.7, 1.0),
                                       cancel), members=_read_members(preview))


def _read_members(preview: LogPreview) -> tuple[str, ...]:
    """The files of a zip archive of several, read one after the other (none for a single file)."""
    members = preview.file_format.members
    return members if len(members) > 1 else ()


def _reading_progress(progress: ProgressCallback, estimated_rows: int) -> Callable[[int], None]:
    """A rows-read callback reporting the fraction of the estimated rows (never quite all)."""
    def report(rows: int) -> None:
        progress(min(0.99, rows / max(estimated_rows, 1)), f"reading: {rows:,} rows")

    return report


def _source_description(path: Path, members: tuple[str, ...]) -> str:
    """The stored source of a log: its path, and the files read of an archive of several."""
    if len(members) < 2:
        return str(path.resolve())
    return f"{path.resolve()} ({len(members):,} files: {name_list(members, limit=10, width=60)})"


def _log_row(path: Path, preview: LogPreview, mapping: ColumnMapping, digest: str, raw: RawLog) -> dict:
    return {"name": path.name, "source_path": _source_description(path, preview.file_format.members),
            "digest": digest, "mapping_key": mapping.key(),
            "file_format": preview.file_format.to_json(), "column_mapping": mapping.to_json(),
            "event_types": raw.event_types, "n_events": raw.n_events, "n_users": len(raw.user_ids),
            "n_items": len(raw.item_ids), "imported_at": catalog.now_utc()}


def _store_raw_log(workspace: Workspace, path: Path, preview: LogPreview, mapping: ColumnMapping, digest: str,
                   raw: RawLog, progress: ProgressCallback, cancel: CancelToken) -> int:
    """Store the raw log alone (its preparation failed): it can be prepared again without reading the file."""
    progress(0.45, "storing the raw log")
    return catalog.add_log(workspace, _log_row(path, preview, mapping, digest, raw), raw,
                           _cancellable(scaled(progress, 0.45, 1.0), cancel))


def _store_import(workspace: Workspace, path: Path, request: ImportRequest, preview: LogPreview, mapping: ColumnMapping,
                  settings: PrepareSettings, digest: str, raw: RawLog, events: PreparedEvents, statistics: dict,
                  skipped: int,
                  progress: ProgressCallback, cancel: CancelToken) -> ImportOutcome:
    """Store the raw log and the dataset in one transaction."""
    log_id, dataset_id, name = catalog.add_log_and_dataset(
        workspace, _log_row(path, preview, mapping, digest, raw), raw,
        _dataset_row(request.name or _default_name(path, preview.preset), settings, statistics), events,
        _cancellable(scaled(progress, 0.45, 0.7), cancel), _cancellable(scaled(progress, 0.7, 1.0), cancel))
    progress(1.0, "imported")
    return ImportOutcome(dataset_id, name, log_id, False, False, statistics, skipped, _read_members(preview))


def _dataset_row(wanted_name: str, settings: PrepareSettings, statistics: dict) -> dict:
    """A dataset's stored fields (the store makes the name unique and adds its log)."""
    return {"name": wanted_name, "settings_key": settings.key(), "settings": settings.to_json(),
            "statistics": statistics, "created_at": catalog.now_utc()}


def prepare_dataset(workspace: Workspace, log_id: int, settings: PrepareSettings, name: str | None = None,
                    progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> ImportOutcome:
    """Prepare an already imported log under (other) settings and store the dataset; the same
    settings again return the existing dataset."""
    cancel = cancel or CancelToken()
    found = catalog.find_dataset_by_settings(workspace, log_id, settings.key())
    if found is not None:
        progress(1.0, "already imported")
        return ImportOutcome(found.id, found.name, log_id, True, True, found.statistics)
    progress(0.0, "loading the imported log")
    raw = catalog.load_raw_log(workspace, log_id)
    cancel.raise_if_cancelled()
    progress(0.3, "sessionizing and filtering")
    stored_log = catalog.get_log(workspace, log_id)
    log_name, source = stored_log.name.split(".")[0], stored_log.source_path
    try:
        events = prepare_events(raw, settings)
    except InputError as exc:
        raise LogNotPreparedError(f"{source}: {exc}", exc.setting, exc.label, log_id) from exc
    statistics = table1_statistics(events)
    cancel.raise_if_cancelled()
    dataset_id, stored_name = catalog.add_dataset(workspace, {**_dataset_row(name or log_name, settings, statistics),
                                                              "log_id": log_id}, events,
                                                  _cancellable(scaled(progress, 0.5, 1.0), cancel))
    progress(1.0, "prepared")
    return ImportOutcome(dataset_id, stored_name, log_id, True, False, statistics)


def _cancellable(progress: ProgressCallback, cancel: CancelToken) -> ProgressCallback:
    def report(fraction: float, message: str) -> None:
        progress(fraction, message)
        cancel.raise_if_cancelled()

    return report


def _default_name(path: Path, preset: FormatPreset | None) -> str:
    stem = path.name
    for suffix in (".gz", ".zip", ".csv", ".tsv", ".txt", ".jsonl", ".json", ".parquet", ".inter", ".dat", ".data"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return f"{stem} ({preset.name})" if preset is not None and preset.name.endswith("category") else stem


def import_file(url: str, request: ImportRequest, progress: ProgressCallback, cancel: CancelToken) -> ImportOutcome:
    """:func:`import_log` into the workspace at ``url`` (for a background worker or child process)."""
    with Workspace(url) as workspace:
        return import_log(workspace, request, progress, cancel)
