"""Which columns of a log hold the user, item, time, session and event type, and the presets
for common public formats (how to read them and how their columns map)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ColumnMapping:
    """Column names of a read log. ``item`` may name several columns, joined into one item id
    (e.g. artist and track). ``user`` may be None for session-only logs (the session is the user).
    ``time_unit``: "auto" (unix seconds or milliseconds by magnitude, or ISO-8601 text), "s",
    "ms" or "iso"."""

    user: str | None
    item: str | tuple[str, ...]
    time: str
    session: str | None = None
    event_type: str | None = None
    time_unit: str = "auto"

    def item_columns(self) -> tuple[str, ...]:
        return (self.item,) if isinstance(self.item, str) else tuple(self.item)

    def used_columns(self) -> list[str]:
        names = [self.user, *self.item_columns(), self.time, self.session, self.event_type]
        return [name for name in dict.fromkeys(names) if name is not None]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not isinstance(self.item, str):
            data["item"] = list(self.item)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ColumnMapping":
        item = data["item"]
        return cls(**{**data, "item": item if isinstance(item, str) else tuple(item)})

    def key(self) -> str:
        """Canonical JSON, used to recognise a re-import of the same file under the same mapping."""
        return json.dumps(self.to_json(), sort_keys=True)


@dataclass(frozen=True)
class FormatPreset:
    """How to read one public log format and map its columns, with the filter settings the
    literature uses for it."""

    name: str
    description: str
    mapping: ColumnMapping
    file_kind: str  # "delimited", "jsonl" or "parquet"
    delimiter: str | None = None  # None: sniffed
    column_names: tuple[str, ...] | None = None  # for files without a header row
    suggested_settings: dict[str, Any] = field(default_factory=dict)


FORMAT_PRESETS: dict[str, FormatPreset] = {
    preset.name: preset
    for preset in (
        FormatPreset(
            "xing", "XING RecSys Challenge 2016 interactions.csv (tab, header)",
            ColumnMapping("user_id", "item_id", "created_at", event_type="interaction_type", time_unit="s"),
            "delimited", "\t", suggested_settings={"drop_event_types": ["4"], "min_item_support": 20},
        ),
        FormatPreset(
            "movielens-udata", "MovieLens 100K u.data (tab, no header: user item rating timestamp)",
            ColumnMapping("user_id", "item_id", "timestamp", time_unit="s"),
            "delimited", "\t", ("user_id", "item_id", "rating", "timestamp"),
        ),
        FormatPreset(
            "movielens-dat", "MovieLens 1M/10M ratings.dat (UserID::MovieID::Rating::Timestamp)",
            ColumnMapping("user_id", "item_id", "timestamp", time_unit="s"),
            "delimited", "::", ("user_id", "item_id", "rating", "timestamp"),
        ),
        FormatPreset(
            "recbole", "RecBole atomic .inter file (tab, header 'name:type')",
            ColumnMapping("user_id", "item_id", "timestamp", time_unit="s"), "delimited", "\t",
        ),
        FormatPreset(
            "taobao", "Taobao UserBehavior.csv (no header: user item category behavior timestamp)",
            ColumnMapping("user_id", "item_id", "timestamp", event_type="behavior", time_unit="s"),
            "delimited", ",", ("user_id", "item_id", "category_id", "behavior", "timestamp"),
        ),
        FormatPreset(
            "taobao-category", "Taobao UserBehavior.csv with the category as the item",
            ColumnMapping("user_id", "category_id", "timestamp", event_type="behavior", time_unit="s"),
            "delimited", ",", ("user_id", "item_id", "category_id", "behavior", "timestamp"),
            suggested_settings={"min_item_support": 20},
        ),
        FormatPreset(
            "otto", "OTTO RecSys jsonl ({session, events: [{aid, ts (ms), type}]}; session = user)",
            ColumnMapping("session", "aid", "ts", event_type="type", time_unit="ms"), "jsonl",
        ),
        FormatPreset(
            "lastfm-1k", "Last.fm 1K userid-timestamp-artid-artname-traid-traname.tsv (artist + track as item)",
            ColumnMapping("user_id", ("artist_name", "track_name"), "timestamp", time_unit="iso"),
            "delimited", "\t", ("user_id", "timestamp", "artist_id", "artist_name", "track_id", "track_name"),
        ),
        FormatPreset(
            "gru4rec", "GRU4Rec TSV (SessionId, ItemId, Time; session-only: no users)",
            ColumnMapping(None, "ItemId", "Time", session="SessionId", time_unit="s"), "delimited", "\t",
        ),
    )
}


# Lower-case column names (after dropping RecBole ':type' suffixes) that auto-detection accepts.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "user": ("user_id", "userid", "user", "uid", "visitorid", "visitor_id", "customer_id", "customerid"),
    "item": ("item_id", "itemid", "item", "iid", "aid", "movie_id", "movieid", "product_id", "productid",
             "track_id", "article_id", "sku"),
    "time": ("timestamp", "time", "ts", "created_at", "datetime", "date", "event_time", "eventtime", "t"),
    "session": ("session_id", "sessionid", "session"),
    "event_type": ("event_type", "interaction_type", "behavior", "behaviour", "type", "event", "action"),
}


def detect_mapping(columns: list[str]) -> ColumnMapping | None:
    """Guess the mapping from column names; None when user/session, item or time is not found."""
    normalized = {name.split(":")[0].strip().lower(): name for name in columns}
    found: dict[str, str | None] = {}
    used: set[str] = set()
    for role in ("item", "time", "session", "user", "event_type"):
        found[role] = None
        for synonym in _SYNONYMS[role]:
            original = normalized.get(synonym)
            if original is not None and original not in used:
                found[role] = original
                used.add(original)
                break
    if found["item"] is None or found["time"] is None or (found["user"] is None and found["session"] is None):
        return None
    return ColumnMapping(found["user"], found["item"], found["time"], found["session"], found["event_type"])
