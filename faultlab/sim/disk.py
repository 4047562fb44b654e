"""A node's durable storage: writes become durable only when synced.

`put` lands in a volatile page cache; `sync` makes every pending write durable. A process
crash keeps the page cache (the OS still has it); a machine crash (the nemesis's
lose-unsynced fault) drops it, which is how protocols that forget to fsync get caught.
"""
from __future__ import annotations

from typing import Any

_MISSING = object()


class Disk:
    __slots__ = ("durable", "pending", "syncs")

    def __init__(self) -> None:
        self.durable: dict[str, Any] = {}
        self.pending: dict[str, Any] = {}
        self.syncs = 0

    def put(self, key: str, value: Any) -> None:
        self.pending[key] = value

    def delete(self, key: str) -> None:
        self.pending[key] = _MISSING

    def get(self, key: str, default: Any = None) -> Any:
        value = self.pending.get(key, _MISSING)
        if value is _MISSING:
            if key in self.pending:  # deleted but not yet synced
                return default
            return self.durable.get(key, default)
        return value

    def sync(self) -> None:
        """Make every pending write durable."""
        if self.pending:
            for key, value in self.pending.items():
                if value is _MISSING:
                    self.durable.pop(key, None)
                else:
                    self.durable[key] = value
            self.pending = {}
        self.syncs += 1

    def lose_unsynced(self) -> int:
        """Drop the page cache, as a power failure would; returns how many writes were lost."""
        lost = len(self.pending)
        self.pending = {}
        return lost

    def keys(self) -> list[str]:
        live = set(self.durable)
        for key, value in self.pending.items():
            if value is _MISSING:
                live.discard(key)
            else:
                live.add(key)
        return sorted(live)
