"""A registry: the named entries of one extensible concept, in registration order (the order in
which lists, menus and tables show them). The single source that command-line choices, the desktop
app's lists, tuning, reports and inspection read."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from engine.errors import InputError


class Named(Protocol):
    @property
    def name(self) -> str: ...


EntryT = TypeVar("EntryT", bound=Named)


class Registry(Generic[EntryT]):
    """Entries of one ``kind`` (a word for messages, e.g. "model") by name."""

    def __init__(self, kind: str, entries: Iterable[EntryT] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, EntryT] = {}
        for entry in entries:
            self.register(entry)

    def register(self, entry: EntryT) -> EntryT:
        """Add ``entry``; a second entry of the same name is a programming error."""
        if entry.name in self._entries:
            raise ValueError(f"a {self.kind} named {entry.name!r} is registered already")
        self._entries[entry.name] = entry
        return entry

    def __getitem__(self, name: str) -> EntryT:
        """The entry ``name``; :class:`InputError` listing the known names otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            raise InputError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self._entries)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[EntryT]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def index(self, name: str) -> int:
        """Position of ``name`` in registration order (unknown names sort last)."""
        names = self.names()
        return names.index(name) if name in self._entries else len(names)
