"""A finished run as plain data: what checks judge, with no simulator loaded."""
from __future__ import annotations

from typing import Any

import attrs

from faultlab.histories.history import History


@attrs.frozen
class RunRecord:
    """What a run left behind. `states` maps every node slot to its final `state()` (None
    for a node not running at the end); `members` are the members at the end; `faults` is
    the nemesis log as plain dicts; `announcements` are (time, node, event, data); times
    are simulated microseconds."""

    protocol: str
    config: dict[str, Any]
    history: History
    heal_at: int
    liveness_bound_us: int  # after the heal, progress is due within this
    threads: int            # client threads: process p runs on thread p mod threads
    members: tuple[str, ...]
    states: dict[str, Any]
    faults: tuple[dict, ...] = ()
    stats: dict[str, int] = attrs.field(factory=dict)
    announcements: tuple[tuple, ...] = ()
