"""Which columns of a log hold the user, item, time, session and event type, and the presets
for common public formats (how to read them and how their columns map)."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.text import elide, name_list


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
    def from_json(cls, data: dict[str, Any]) -> ColumnMapping:
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


#: The roles a mapping gives columns, in the order auto-detection fills them.
ROLES = ("item", "time", "session", "user", "event_type")

# Column names auto-detection accepts for each role, best first, as :func:`normalized_name` writes
# them ("Venue ID", "venueId" and "venue_id:token" are all "venueid"): the common names of public
# logs (e-commerce, check-ins, music, movies, news, sessions).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "user": ("userid", "user", "uid", "visitorid", "visitor", "customerid", "customer", "memberid", "member",
             "accountid", "account", "clientid", "client", "personid", "profileid", "reviewerid", "reviewer",
             "buyerid", "listenerid", "viewerid", "playerid", "subscriberid"),
    "item": ("itemid", "item", "iid", "aid", "productid", "product", "articleid", "article", "movieid", "movie",
             "trackid", "track", "songid", "song", "venueid", "venue", "poiid", "poi", "locationid", "location",
             "placeid", "place", "businessid", "videoid", "video", "bookid", "book", "isbn", "asin", "sku",
             "goodsid", "contentid", "newsid", "courseid", "gameid", "recipeid", "hotelid", "restaurantid"),
    "time": ("timestamp", "time", "ts", "datetime", "createdat", "eventtime", "eventtimestamp", "utctimestamp",
             "utctime", "timestamputc", "unixtime", "epoch", "checkintime", "playedat", "watchedat", "ratedat",
             "occurredat", "date", "tstamp", "t"),
    "session": ("sessionid", "session", "visitid", "sid"),
    "event_type": ("eventtype", "interactiontype", "behavior", "behaviour", "type", "event", "action",
                   "actiontype", "eventname", "interaction", "activity"),
}


def normalized_name(column: str) -> str:
    """A column name as auto-detection compares it: without a RecBole ':type' suffix, lower case,
    letters and digits only."""
    return "".join(character for character in column.split(":")[0].lower() if character.isalnum())


def known_column_name(column: str) -> bool:
    """Whether ``column`` is a name auto-detection knows for some role (e.g. to tell a header row)."""
    name = normalized_name(column)
    return any(name in synonyms for synonyms in _SYNONYMS.values())


def detect_roles(columns: list[str], given: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
    """The column of each role (None where none is found): the ``given`` roles as given (None: no
    such column), the others detected from their names among the columns the given ones leave."""
    given = dict(given or {})
    found: dict[str, str | None] = {role: given[role] for role in ROLES if role in given}
    used = {column for column in found.values() if column is not None}
    by_name: dict[str, str] = {}
    for column in columns:
        by_name.setdefault(normalized_name(column), column)
    for role in ROLES:
        if role in found:
            continue
        found[role] = next((by_name[name] for name in _SYNONYMS[role] if name in by_name and by_name[name] not in used),
                           None)
        if found[role] is not None:
            used.add(str(found[role]))
    return {role: found[role] for role in ROLES}


def mapping_from_roles(roles: Mapping[str, str | None], time_unit: str = "auto") -> ColumnMapping | None:
    """The mapping of complete roles (item, time, and a user or a session), else None."""
    item, time = roles.get("item"), roles.get("time")
    if item is None or time is None or (roles.get("user") is None and roles.get("session") is None):
        return None
    return ColumnMapping(roles.get("user"), item, time, roles.get("session"), roles.get("event_type"), time_unit)


def detect_mapping(columns: list[str], given: Mapping[str, str | None] | None = None) -> ColumnMapping | None:
    """Guess the mapping from column names, keeping the ``given`` roles (see :func:`detect_roles`);
    None when user/session, item or time is not found."""
    return mapping_from_roles(detect_roles(columns, given))


def missing_columns_error(path: Path, missing: Sequence[str], available: Sequence[object]) -> InputError:
    """The refusal of a mapping that names columns the file lacks."""
    named = name_list((elide(name, 30) for name in missing), limit=5, width=40)
    return InputError(f"{path}: no column named {named} (the file has {name_list(available)}); choose a preset or "
                      "map the columns")
