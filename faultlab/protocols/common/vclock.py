"""Vector clocks and the versions they order, as Dynamo keeps them: a value has one version
per concurrent write (siblings), each stamped with a clock of (actor, counter) entries.

A clock is a tuple of (actor, counter, timestamp) entries sorted by actor: canonical, so
equal clocks compare and hash equal in every process. The timestamp is the actor's local
time when its entry last advanced; the paper prunes the oldest entries by it once a clock
grows past a threshold.

Two ways to decide that one version makes another obsolete:
- `vector`: the paper's, one clock compared with the other entry by entry. Two concurrent
  writes coordinated by the same node from the same context get clocks where the later
  seems to descend from the earlier, and the earlier is dropped.
- `dotted`: dotted version vectors (Preguiça et al.): a version also names the event that
  made it (its dot); it is obsolete once another version's clock covers that dot. This
  keeps exactly the versions no write has seen.
"""
from __future__ import annotations

from collections.abc import Iterable

import attrs

Clock = tuple[tuple[str, int, int], ...]


def counter(clock: Clock, actor: str) -> int:
    """The actor's counter in `clock` (0 when it has no entry)."""
    for a, n, _ in clock:
        if a == actor:
            return n
    return 0


def merge(clocks: Iterable[Clock]) -> Clock:
    """The least clock that descends from every one of `clocks` (entry-wise maximum)."""
    best: dict[str, tuple[int, int]] = {}
    for clock in clocks:
        for a, n, t in clock:
            if a not in best or (n, t) > best[a]:
                best[a] = (n, t)
    return tuple((a, n, t) for a, (n, t) in sorted(best.items()))


def advance(clock: Clock, actor: str, n: int, now: int) -> Clock:
    """`clock` with the actor's entry set to n at local time `now`."""
    return merge((clock, ((actor, n, now),)))


def descends(a: Clock, b: Clock) -> bool:
    """Every event `b` has seen, `a` has seen too (a >= b entry by entry)."""
    mine = {actor: n for actor, n, _ in a}
    return all(mine.get(actor, 0) >= n for actor, n, _ in b)


def prune(clock: Clock, threshold: int) -> Clock:
    """At most `threshold` entries, dropping those that advanced longest ago (the paper's
    truncation: it may make versions look concurrent that were not, never the reverse)."""
    if len(clock) <= threshold:
        return clock
    keep = sorted(clock, key=lambda e: (e[2], e[0]))[len(clock) - threshold:]
    return tuple(sorted(keep))


@attrs.frozen
class Version:
    """One sibling: the write's dot (actor, counter), its clock, its value (None for a
    delete's tombstone) and the coordinator's wall-clock stamp (last-write-wins reads it).
    With dotted clocks the clock is what the write had seen, its own dot apart; with the
    paper's it includes the dot."""

    dot: tuple[str, int]
    clock: Clock
    value: object
    stamp: int

    def to_data(self) -> list:
        """As plain data, for histories and messages."""
        return [list(self.dot), [list(e) for e in self.clock], _plain(self.value),
                self.stamp]

    @classmethod
    def from_data(cls, d) -> Version:
        value = d[2]
        return cls(tuple(d[0]), tuple(tuple(e) for e in d[1]),
                   frozenset(value) if isinstance(value, list) else value, d[3])


def _plain(value):
    return sorted(value) if isinstance(value, frozenset) else value


def obsolete(v: Version, by: Version, dotted: bool, concurrent_as_descended=False) -> bool:
    """Whether version `v` is superseded by version `by` (never by itself)."""
    if v.dot == by.dot:
        return False
    if dotted:
        covered = counter(by.clock, v.dot[0]) >= v.dot[1]
        concurrent = not covered and counter(v.clock, by.dot[0]) < by.dot[1]
    else:
        covered = descends(by.clock, v.clock) and by.clock != v.clock
        concurrent = not covered and not descends(v.clock, by.clock)
    if concurrent and concurrent_as_descended:
        # BUG concurrent-as-descended: concurrent versions are taken as ordered, the later
        # stamp descending from the other, so a sibling is dropped
        return (by.stamp, by.dot) > (v.stamp, v.dot)
    return covered


def reconcile(versions: Iterable[Version], dotted: bool = True,
              concurrent_as_descended: bool = False) -> tuple[Version, ...]:
    """The siblings of a set of versions: each distinct write once, without those another
    version supersedes, in a canonical order."""
    by_dot: dict[tuple[str, int], Version] = {}
    for v in versions:
        held = by_dot.get(v.dot)
        # one write, one version; should two ever differ, keep one deterministically
        if held is None or order(v) > order(held):
            by_dot[v.dot] = v
    every = list(by_dot.values())
    return tuple(sorted((v for v in every
                         if not any(obsolete(v, w, dotted, concurrent_as_descended)
                                    for w in every)), key=order))


def order(v: Version) -> tuple:
    """A total order on versions, the same in every process."""
    return v.dot, v.clock, repr(_plain(v.value)), v.stamp


def context(versions: Iterable[Version]) -> Clock:
    """What a reader of these siblings has seen: the merge of their clocks and dots."""
    return merge(advance(v.clock, v.dot[0], v.dot[1], v.stamp) for v in versions)
