"""Dynamo's consistent hashing: each member owns `tokens` points (virtual nodes) on a ring
of 2^32; a key's preference list is the distinct members met walking clockwise from the
key's point. The first N are its owners; the walk goes on past them to the fallbacks a
sloppy quorum writes to when owners are unreachable."""
from __future__ import annotations

import bisect
import functools

from faultlab.protocols.common.ring import ring_id

BITS = 32


def key_point(key) -> int:
    """Where a key lies on the ring."""
    return ring_id(f"key:{key}", BITS)


@functools.cache
def _tokens(node: str, tokens: int) -> tuple[int, ...]:
    return tuple(ring_id(f"{node}#{t}", BITS) for t in range(tokens))


class Ring:
    """The ring of one membership view."""

    def __init__(self, members, tokens: int):
        self.members = tuple(sorted(members))
        points = sorted((p, n) for n in self.members for p in _tokens(n, tokens))
        self.points = [p for p, _ in points]
        self.owners_at = [n for _, n in points]
        self._walks: dict = {}

    def walk(self, key) -> tuple[str, ...]:
        """Every member, in preference order for `key`."""
        walk = self._walks.get(key)
        if walk is None:
            seen: list[str] = []
            if self.points:
                start = bisect.bisect_left(self.points, key_point(key))
                for i in range(len(self.points)):
                    n = self.owners_at[(start + i) % len(self.points)]
                    if n not in seen:
                        seen.append(n)
                        if len(seen) == len(self.members):
                            break
            walk = self._walks[key] = tuple(seen)
        return walk

    def owners(self, key, n: int) -> tuple[str, ...]:
        """The key's top N: the nodes that hold it when all is well."""
        return self.walk(key)[:n]
