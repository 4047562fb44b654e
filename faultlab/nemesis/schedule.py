"""A nemesis schedule: a sorted list of faults that can be saved, diffed, shrunk and replayed."""
from __future__ import annotations

from collections.abc import Iterable

import attrs

from faultlab.errors import FaultlabError
from faultlab.nemesis.faults import Fault


def _sorted(faults: Iterable[Fault]) -> tuple[Fault, ...]:
    return tuple(sorted(faults, key=lambda f: (f.time, f.kind, f.targets, f.duration_us)))


@attrs.frozen
class Schedule:
    faults: tuple[Fault, ...] = attrs.field(default=(), converter=_sorted)

    def __len__(self) -> int:
        return len(self.faults)

    def to_list(self) -> list[dict]:
        return [f.to_dict() for f in self.faults]

    @classmethod
    def from_list(cls, items) -> Schedule:
        if not isinstance(items, list):
            raise FaultlabError("a schedule must be a list of faults")
        return cls(Fault.from_dict(d) for d in items)
