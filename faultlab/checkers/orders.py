"""Derived orders: what the values reads return say about the order of operations (Elle-style).

A model that can tell, from a read's value, exactly which writes produced it (kv appends of
unique tokens) reports `Observation`s. Together with real time they give orderings every
linearization must respect. A cycle in them proves the history is not linearizable, with a
short readable witness; otherwise the orderings prune the search.

All orderings are between operations that certainly took effect: ok operations and info
operations some read observed. Ignoring the other info operations only loses constraints.
"""
from __future__ import annotations

import bisect
import dataclasses
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from faultlab.checkers.linearizability import Entry
    from faultlab.checkers.models import Model


class Observation(NamedTuple):
    """Read `read` saw exactly the effects of the writes `chain`, in that order, since
    `chain[0]` (a write that replaced the whole state) or, with `from_start`, since the start.

    So chain[0] < chain[1] < ... < read, and every other write that took effect did so before
    chain[0] (never, with `from_start`) or after the read. Indices are into the calls given
    to `Model.observations`.
    """

    read: int
    chain: tuple[int, ...]
    from_start: bool = False


@dataclasses.dataclass(slots=True)
class Orders:
    """The result: `before[i]` is the bitset of ops that must precede op i; `cycle` (when
    not None) is a contradiction, as the edges of a cycle, each with its reason."""

    before: list[int]
    observations: list[Observation]
    cycle: list[dict] | None = None
    read: int | None = None  # with a cycle: the read whose value closed it


class _Cycle(Exception):
    """Adding an ordering closed a cycle: the history is not linearizable."""


def derive_orders(entries: Sequence[Entry], model: Model) -> Orders | None:
    """Orderings every linearization of `entries` (sorted by invoke) must respect, or None
    when the model reports no observations."""
    obs = model.observations([e.call for e in entries])
    if not obs:
        return None
    return _Graph(entries, model, obs).solve()


class _Graph:
    """The transitively closed "must precede" relation, kept as bitsets in both directions."""

    def __init__(self, entries: Sequence[Entry], model: Model, obs: list[Observation]):
        self.entries, self.model, self.obs = entries, model, obs
        n = self.n = len(entries)
        self.why: list[tuple[int, int, str]] = []  # edges added (us before vs), with reasons
        self.current = 0  # the read whose observation is being applied
        # Real time: j precedes i when j completed before i was invoked. Entries are sorted
        # by invoke, so "invoked after x completed" is a suffix of the indices.
        done = sorted((e.complete, j) for j, e in enumerate(entries) if e.complete is not None)
        completes = [c for c, _ in done]
        prefix = [0]
        for _, j in done:
            prefix.append(prefix[-1] | 1 << j)
        invokes = [e.invoke for e in entries]
        full = (1 << n) - 1
        self.before = [prefix[bisect.bisect_left(completes, e.invoke)] for e in entries]
        self.after = [0 if e.complete is None
                      else full & ~((1 << bisect.bisect_right(invokes, e.complete)) - 1)
                      for e in entries]
        happened = 0
        for o in obs:
            for j in o.chain:
                happened |= 1 << j
        writes = 0
        for j, e in enumerate(entries):
            if not model.read_only(e.call):
                writes |= 1 << j
                if e.complete is not None:
                    happened |= 1 << j
        self.writes = writes & happened
        # For each observation, the writes that must not fall between its chain and its read.
        self.others = [self.writes & ~_mask(o.chain) for o in obs]

    def solve(self) -> Orders:
        try:
            for o, others in zip(self.obs, self.others):
                self.current = o.read
                seq = (*o.chain, o.read)
                for a, b in zip(seq, seq[1:]):
                    self.add(1 << a, 1 << b,
                             f"op {self._index(o.read)} read their effects in this order"
                             if b != o.read else "the read saw its effect")
                if o.from_start:
                    self.add(1 << o.read, others, "the read saw a value built from the "
                                                  "initial state without it")
            self._propagate()
        except _Cycle as cycle:
            return Orders(self.before, self.obs, cycle.args[0], self.current)
        return Orders(self.before, self.obs)

    def _propagate(self) -> None:
        """No other write falls between a chain's first write p and its read g: a write c
        known to follow p must follow g, one known to precede g must precede p. Repeat until
        nothing changes."""
        changed = True
        while changed:
            changed = False
            for o, others in zip(self.obs, self.others):
                if o.from_start or not o.chain:
                    continue
                p, g = o.chain[0], o.read
                self.current = g
                late = self.after[p] & others & ~self.after[g]
                if late:
                    changed = True
                    self.add(1 << g, late, f"the read saw a value built on op "
                                           f"{self._index(p)} without this op, which op "
                                           f"{self._index(p)} precedes")
                early = self.before[g] & others & ~self.before[p]
                if early:
                    changed = True
                    self.add(early, 1 << p, f"op {self._index(g)} read a value built on this "
                                            "op without it, yet it precedes that read")

    def add(self, us: int, vs: int, why: str) -> None:
        """Record that every op in bitset `us` precedes every op in `vs`, and close
        transitively (one pass for the lot); raise _Cycle if some v already precedes a u."""
        if us & (us - 1) == 0:  # one u: drop the vs already known to follow it
            vs &= ~self.after[us.bit_length() - 1]
        elif vs & (vs - 1) == 0:
            us &= ~self.before[vs.bit_length() - 1]
        if not us or not vs:
            return
        b = a = 0
        for u in _bits(us):
            b |= self.before[u] | 1 << u
        for v in _bits(vs):
            a |= self.after[v] | 1 << v
        if b & a:  # some x with v <= x <= u: name one such pair for the witness
            x = (b & a).bit_length() - 1
            u = next(u for u in _bits(us) if (self.before[u] | 1 << u) >> x & 1)
            v = next(v for v in _bits(vs) if (self.after[v] | 1 << v) >> x & 1)
            raise _Cycle(self._witness(u, v, why))
        self.why.append((us, vs, why))
        # An op already after every u has every u's predecessors among its own (the relation
        # is closed): it gains nothing. Likewise for an op already before every v. Skipping
        # those is most of the work saved: real time already orders most pairs.
        done_a, done_b = -1, -1
        for u in _bits(us):
            done_a &= self.after[u]
        for v in _bits(vs):
            done_b &= self.before[v]
        for x in _bits(a & ~done_a):
            self.before[x] |= b
        for y in _bits(b & ~done_b):
            self.after[y] |= a

    def _witness(self, u: int, v: int, why: str) -> list[dict]:
        """The cycle u -> v ->* u: the new edge, then a shortest path of recorded edges."""
        path = self._path(v, u)
        edges = [(u, v, why)] + [(a, b, self._reason(a, b)) for a, b in zip(path, path[1:])]
        return [{"before": self.entries[a].describe(self.model),
                 "after": self.entries[b].describe(self.model), "why": text}
                for a, b, text in edges]

    def _path(self, src: int, dst: int) -> list[int]:
        """A shortest path src ->* dst over real-time and recorded edges (one exists, since
        the closure was built from exactly those)."""
        entries = self.entries
        prev: dict[int, int] = {src: src}
        queue = deque([src])
        while queue:
            x = queue.popleft()
            if x == dst:
                break
            nxt = [v for us, vs, _ in self.why if us >> x & 1 for v in _bits(vs)]
            if entries[x].complete is not None:
                nxt += [y for y in range(self.n) if entries[y].invoke > entries[x].complete]
            for y in nxt:
                if y not in prev:
                    prev[y] = x
                    queue.append(y)
        path = [dst]
        while path[-1] != src:
            path.append(prev[path[-1]])
        return path[::-1]

    def _reason(self, a: int, b: int) -> str:
        """Why a must precede b: the first recorded edge, else real time."""
        for us, vs, why in self.why:
            if us >> a & 1 and vs >> b & 1:
                return why
        return "real time: it completed before the other was invoked"

    def _index(self, i: int) -> int:
        return self.entries[i].op.index


def _mask(indices: Any) -> int:
    m = 0
    for i in indices:
        m |= 1 << i
    return m


def _bits(mask: int):
    """The indices of the set bits of mask, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
