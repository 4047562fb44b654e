"""Zave's properties of a Chord ring, on a snapshot of every member's pointers.

Terms, as Zave defines them: a member's *best successor* is the first live member in its
successor list; following best successors from any member leads to a cycle, and the members
on a cycle form a *ring*; the others are *appendages*. A member is *skipped* by a member's
extended list (itself, then its successor list) if it lies strictly between two adjacent
entries; a member no list skips is a *principal*. The properties, in the order checked:

- live-successor: every member has a live member in its successor list;
- at-least-one-ring and at-most-one-ring: exactly one ring;
- ordered-ring: going round the ring, identifiers increase with one wrap (no ring member
  lies between a ring member and its best successor);
- connected-appendages: every appendage reaches the ring;
- ordered-appendages: an appendage's path to the ring climbs towards the ring member it
  reaches, never passing it (so it can later be spliced in where it belongs);
- ordered-successor-lists: each successor list runs clockwise from its owner, without
  repeats;
- principals (the corrected protocol's stable base): at least r+1 principal members;
- predecessors-advance (between two snapshots): a member's predecessor is only replaced by
  one closer to it, unless the old one left or failed — the rule of notify (2001) and
  rectify (Zave) alike; a predecessor that moves back makes a member serve keys it does
  not own.

`ideal` says whether the ring is as it should be once churn stops: every member's
successor list holds the next r members and its predecessor is the previous one.
"""
from __future__ import annotations

import bisect

import attrs

from faultlab.protocols.common.ring import between, clockwise

PROPERTIES = ("live-successor", "at-least-one-ring", "at-most-one-ring", "ordered-ring",
              "connected-appendages", "ordered-appendages", "ordered-successor-lists",
              "principals", "predecessors-advance")


@attrs.frozen
class Snapshot:
    """Pointers of the live members that have joined: name -> (successor list,
    predecessor); `ids` places every node on the ring of 2^m."""

    pointers: dict[str, tuple[tuple[str, ...], str | None]]
    ids: dict[str, int]
    m: int
    r: int

    def best(self, n: str) -> str | None:
        return next((s for s in self.pointers[n][0] if s in self.pointers), None)

    def order(self) -> list[str]:
        return sorted(self.pointers, key=self.ids.__getitem__)

    def rings(self) -> list[list[str]]:
        """Each cycle of best successors, starting at its lowest identifier."""
        state: dict[str, int] = {}  # 1: on the path being walked, 2: done
        rings = []
        for start in self.order():
            path, n = [], start
            while n is not None and n not in state:
                state[n] = 1
                path.append(n)
                n = self.best(n)
            if n is not None and state.get(n) == 1:
                cycle = path[path.index(n):]
                low = min(range(len(cycle)), key=lambda i: self.ids[cycle[i]])
                rings.append(cycle[low:] + cycle[:low])
            for x in path:
                state[x] = 2
        return rings

    def violation(self, principals: bool) -> tuple[str, str] | None:
        """The first property that does not hold, with a sentence, or None."""
        ids, best = self.ids, self.best
        for n in self.order():
            if best(n) is None:
                return ("live-successor", f"{n}'s successor list [{' '.join(self.pointers[n][0])}]"
                        " holds no live member")
        rings = self.rings()
        if not rings:
            return ("at-least-one-ring", "no member is on a ring: none has joined (the "
                    "last on the ring left or failed)")
        if len(rings) > 1:
            shown = " and ".join(_ring_text(r) for r in rings)
            return ("at-most-one-ring", f"{len(rings)} separate rings: {shown}")
        ring = rings[0]
        on_ring = set(ring)
        # ordered: the ring, from its lowest identifier, is the ring members sorted
        in_order = sorted(ring, key=ids.__getitem__)
        if ring != in_order:
            i = next(i for i, (x, y) in enumerate(zip(ring, in_order)) if x != y)
            n, s = ring[i - 1], ring[i]
            return ("ordered-ring", f"on the ring {_ring_text(ring)}, {n}'s successor is "
                    f"{s}, but ring member {in_order[i]} lies between them")
        for a in self.order():
            if a in on_ring:
                continue
            path, n = [a], best(a)
            while n not in on_ring:
                if n in path:
                    return ("connected-appendages", f"{a} never reaches the ring")
                path.append(n)
                n = best(n)
            left = [clockwise(ids[x], ids[n], self.m) for x in path + [n]]
            if any(b <= c for b, c in zip(left, left[1:])):
                return ("ordered-appendages", f"appendage {a} reaches the ring at {n} by "
                        f"{' -> '.join(path + [n])}, which does not climb towards {n}")
        for n in self.order():
            succ = self.pointers[n][0]
            far = [clockwise(ids[n], ids[s], self.m) or 1 << self.m for s in succ]
            if any(b <= a for a, b in zip(far, far[1:])):
                return ("ordered-successor-lists", f"{n}'s successor list "
                        f"[{' '.join(succ)}] does not run clockwise from it")
        if principals:
            found = self.principals()
            if len(found) < self.r + 1:
                return ("principals", f"only {len(found)} principal members "
                        f"({' '.join(found) or 'none'}), fewer than r+1 = {self.r + 1}")
        return None

    def describe(self) -> str:
        """The rings and what hangs off them, for a person reading a violation: "rings
        n1 -> n4 -> n1 and n2 -> n5 -> n2; n3 -> n4; n8 has no live successor"."""
        rings = self.rings()
        on_ring = {n for ring in rings for n in ring}
        parts = [("one ring " if len(rings) == 1 else f"{len(rings)} rings ")
                 + " and ".join(_ring_text(r) for r in rings) if rings else "no ring"]
        for n in self.order():
            if n in on_ring:
                continue
            best = self.best(n)
            if best is None:
                parts.append(f"{n} has no live successor")
            else:
                parts.append(f"{n} -> {best}")
        return "; ".join(parts)

    def principals(self) -> list[str]:
        """Members no member's extended successor list skips."""
        order = self.order()
        points = [self.ids[n] for n in order]
        skipped: set[str] = set()
        for n in order:
            chain = [n, *self.pointers[n][0]]
            for a, b in zip(chain, chain[1:]):
                skipped.update(_strictly_between(order, points, self.ids[a], self.ids[b]))
        return [n for n in order if n not in skipped]

    def ideal(self) -> str | None:
        """None if the ring is ideal, else what is not."""
        order = self.order()
        k = len(order)
        for i, n in enumerate(order):
            want = [order[(i + j) % k] for j in range(1, k + 1)][:self.r]  # then itself
            succ, pred = self.pointers[n]
            if list(succ) != want:
                return f"{n}'s successors are [{' '.join(succ)}], not [{' '.join(want)}]"
            want_pred = order[i - 1] if k > 1 else None
            if k > 1 and pred != want_pred:
                return f"{n}'s predecessor is {pred}, not {want_pred}"
        return None


def predecessor_moved_back(before: dict[str, str | None], now: Snapshot,
                           departed) -> tuple[str, str] | None:
    """predecessors-advance: a member whose predecessor went from p to q, with q not
    between p and it, while p is still there (not in `departed`)."""
    ids = now.ids
    for n, (_, q) in now.pointers.items():
        p = before.get(n)
        if p is None or q is None or p == q or n in (p, q) or p in departed:
            continue
        if not between(ids[p], ids[q], ids[n]):
            return ("predecessors-advance", f"{n}'s predecessor moved back from {p} to {q}, "
                    f"though {p} is still there")
    return None


def _strictly_between(order: list[str], points: list[int], a: int, b: int) -> list[str]:
    """Members whose identifiers lie in (a, b), clockwise."""
    if a < b:
        return order[bisect.bisect_right(points, a):bisect.bisect_left(points, b)]
    if a == b:
        return [n for n, p in zip(order, points) if p != a]
    return order[bisect.bisect_right(points, a):] + order[:bisect.bisect_left(points, b)]


def _ring_text(ring: list[str]) -> str:
    return " -> ".join(ring + ring[:1]) if len(ring) > 1 else f"{ring[0]} alone"
