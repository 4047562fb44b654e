"""An identifier ring: names and keys hashed onto a circle of 2^m points, and the
intervals on it that ring protocols reason with (Chord's `between`, Dynamo's preference
lists)."""
from __future__ import annotations

import functools
import hashlib


def ring_id(name: str, m: int) -> int:
    """A stable point on the ring of 2^m for `name` (SHA-1, as Chord does): the same in
    every process and run."""
    return int.from_bytes(hashlib.sha1(name.encode()).digest(), "big") % (1 << m)


@functools.cache
def ring_ids(names: tuple[str, ...], m: int) -> dict[str, int]:
    """`ring_id` of every name, computed once per set of names (callers must not change
    the dict)."""
    return {n: ring_id(n, m) for n in names}


def between(a: int, x: int, b: int) -> bool:
    """x lies strictly inside the clockwise arc from a to b: x in (a, b). With a == b the
    arc is the whole ring but a itself."""
    if a < b:
        return a < x < b
    return x > a or x < b if a > b else x != a


def between_right(a: int, x: int, b: int) -> bool:
    """x lies in (a, b], clockwise; with a == b, anywhere on the ring."""
    return x == b or between(a, x, b)


def clockwise(a: int, b: int, m: int) -> int:
    """How far b lies clockwise from a, in [0, 2^m)."""
    return (b - a) % (1 << m)
