"""The dependency graph between transactions and the cycles that name Adya's anomalies.

Edges are write-write (`ww`: one version after another), write-read (`wr`: a read saw a
write), read-write (`rw`: a read saw a version a write then replaced) and `process` (one
transaction followed another on the same client process) and `realtime` (one completed
before another began). Each edge keeps the first reason found, so a cycle reads as a sentence
per step. Cycles are classified as Elle names them: G0 (only ww), G1c (ww and wr), G-single
(exactly one rw), G2-item (two or more rw), and the same classes closed by process or
realtime order: G0-process ... G2-item-realtime.
"""
from __future__ import annotations

import time
from collections import deque

import attrs

WW, WR, RW, PROCESS, RT = "ww", "wr", "rw", "process", "realtime"
CYCLES_PER_CLASS = 3    # example cycles kept for each anomaly class
TRIES_PER_CLASS = 200   # candidate edges tried per class and component


class OutOfBudget(Exception):
    """The cycle search ran past its deadline."""


@attrs.frozen
class Reason:
    """Why an edge holds, in a sentence."""

    text: str

    def __str__(self) -> str:
        return self.text


@attrs.define
class Dependencies:
    """Edges a -> b of each kind, with the reason the first one was added."""

    edges: dict = attrs.field(factory=dict)  # (a, b) -> {kind: reason}

    def add(self, a: str, b: str, kind: str, why) -> None:
        if a != b:
            kinds = self.edges.setdefault((a, b), {})
            if kind not in kinds:
                kinds[kind] = why

    def count(self, kind: str) -> int:
        return sum(1 for kinds in self.edges.values() if kind in kinds)


def realtime_edges(deps: Dependencies, spans: list[tuple[str, int, int | None]]) -> None:
    """Add realtime edges for transactions (name, start, end; end None: never completed),
    only the transitive reduction of "completed before it began": a sweep keeps the
    transactions completed and not yet superseded by a later one, and links each new
    transaction from them."""
    events = []
    for name, start, end in spans:
        events.append((start, 1, name))
        if end is not None:
            events.append((end, 0, name))
    events.sort()
    frontier: set[str] = set()
    preds: dict[str, set[str]] = {}
    for _, kind, name in events:
        if kind == 1:  # begins: every frontier transaction precedes it
            preds[name] = set(frontier)
            for a in frontier:
                deps.add(a, name, RT, _RealtimeReason(a, name))
        else:  # completes: it supersedes what preceded it
            frontier -= preds.get(name, set())
            frontier.add(name)


def process_edges(deps: Dependencies, txns) -> None:
    """Add an edge from each transaction to the next one its client process ran."""
    last: dict = {}
    for t in txns:
        if t.process in last:
            deps.add(last[t.process], t.name, PROCESS, _ProcessReason(last[t.process],
                                                                     t.name, t.process))
        last[t.process] = t.name


@attrs.frozen
class _ProcessReason:
    a: str
    b: str
    process: object

    def __str__(self) -> str:
        return f"process {self.process} ran {self.a} and then {self.b}"


@attrs.frozen
class _RealtimeReason:
    a: str
    b: str

    def __str__(self) -> str:
        return f"{self.a} completed before {self.b} began"


@attrs.frozen
class Cycle:
    """An anomaly's cycle: (from, kind, to, reason) steps, closing on the first."""

    anomaly: str
    steps: tuple

    def to_dict(self) -> dict:
        return {"anomaly": self.anomaly,
                "cycle": [{"from": a, "kind": k, "to": b, "why": str(why)}
                          for a, k, b, why in self.steps]}

    def lines(self) -> list[str]:
        return [f"{a} -{k}-> {b}: {why}" for a, k, b, why in self.steps]


def find_cycles(deps: Dependencies, deadline: float | None) -> list[Cycle]:
    """Example cycles of each anomaly class, up to CYCLES_PER_CLASS each, searched per
    strongly connected component; the process and realtime variants where those edges
    were added."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_edges_from(deps.edges)
    found: dict[str, list[Cycle]] = {}
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        edges = {e: deps.edges[e] for e in graph.subgraph(component).edges}
        for spec in _CLASSES:
            if spec.start in (PROCESS, RT) and not deps.count(spec.start):
                continue
            if len(found.get(spec.anomaly, ())) >= CYCLES_PER_CLASS:
                continue
            cycle = _cycle(edges, spec, deadline)
            if cycle is not None:
                cycle = _through_hubs(cycle)
                found.setdefault(spec.anomaly, []).append(Cycle(spec.anomaly, cycle))
    return [c for spec in _CLASSES for c in found.get(spec.anomaly, ())]


def _through_hubs(steps: tuple) -> tuple:
    """The cycle with each pass through a hub node ("~..."; it stands for edges to many
    transactions at once) written as the one direct step it stands for."""
    out = []
    for a, kind, b, why in steps:
        if out and out[-1][2].startswith("~"):
            a0, kind0, _, why0 = out.pop()
            out.append((a0, kind0, b, Reason(str(why0).replace("{later}", str(why)))))
        else:
            out.append((a, kind, b, why))
    if out and out[-1][2].startswith("~"):  # the cycle closes through a hub
        a0, kind0, _, why0 = out.pop()
        a, kind, b, why = out.pop(0)
        out.insert(0, (a0, kind0, b, Reason(str(why0).replace("{later}", str(why)))))
    return tuple(out)


@attrs.frozen
class _Class:
    """How to find a cycle of one anomaly class: start from an edge of kind `start`, come
    back over edges of the `back` kinds, with at least `at_least` (or exactly `exactly`)
    more edges of kind `counted` on the way back."""

    anomaly: str
    start: str
    back: frozenset
    counted: str | None = None
    at_least: int = 0
    exactly: int | None = None


def _ordered(order: str, also: frozenset = frozenset()) -> tuple[_Class, ...]:
    """The classes closed by an `order` edge (process or realtime; `also` are the order
    kinds that may appear on the way back)."""
    back = frozenset({order}) | also
    return (_Class(f"G0-{order}", order, frozenset({WW}) | back),
            _Class(f"G1c-{order}", order, frozenset({WW, WR}) | back, WR, at_least=1),
            _Class(f"G-single-{order}", order, frozenset({WW, WR, RW}) | back, RW,
                   exactly=1),
            _Class(f"G2-item-{order}", order, frozenset({WW, WR, RW}) | back, RW,
                   at_least=2))


_CLASSES = (
    _Class("G0", WW, frozenset({WW})),
    _Class("G1c", WR, frozenset({WW, WR})),
    _Class("G-single", RW, frozenset({WW, WR})),
    _Class("G2-item", RW, frozenset({WW, WR, RW}), RW, at_least=1),
    *_ordered(PROCESS),
    *_ordered(RT, frozenset({PROCESS})),
)


def _cycle(edges: dict, spec: _Class, deadline: float | None):
    """The shortest cycle of the class found from the first TRIES_PER_CLASS edges of its
    starting kind, as (from, kind, to, reason) steps; None if there is none."""
    adj: dict[str, list[tuple[str, str]]] = {}
    for (a, b), kinds in edges.items():
        for kind in kinds:
            if kind in spec.back:
                adj.setdefault(a, []).append((b, kind))
    best = None
    tries = 0
    for (a, b), kinds in edges.items():
        if spec.start not in kinds:
            continue
        tries += 1
        if tries > TRIES_PER_CLASS:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise OutOfBudget
        path = _path(adj, b, a, spec)
        if path is not None:
            visited = [x for x, _, _ in path]
            if len(set(visited)) < len(visited) or a in visited:
                path = None  # a walk that repeats a transaction is no cycle of its own
        if path is not None and (best is None or len(path) + 1 < len(best)):
            best = [(a, spec.start, b, kinds[spec.start])] + [
                (x, k, y, edges[(x, y)][k]) for x, k, y in path]
            if len(best) == 2:
                break
    return tuple(best) if best is not None else None


def _path(adj: dict, src: str, dst: str, spec: _Class):
    """A shortest path src ->* dst as (from, kind, to) steps whose count of `spec.counted`
    edges meets the class's bound, by breadth-first search over (node, count so far)."""
    cap = spec.exactly + 1 if spec.exactly is not None else spec.at_least
    counted = spec.counted

    def done(count: int) -> bool:
        return count == spec.exactly if spec.exactly is not None else count >= spec.at_least

    start = (src, 0)
    if src == dst and done(0):
        return []
    prev: dict[tuple[str, int], tuple] = {start: None}
    queue = deque([start])
    while queue:
        node, count = state = queue.popleft()
        for y, kind in adj.get(node, ()):
            c = min(count + (kind == counted), cap) if counted else 0
            if spec.exactly is not None and c > spec.exactly:
                continue
            nxt = (y, c)
            if nxt in prev:
                continue
            prev[nxt] = (state, kind)
            if y == dst and done(c):
                steps = []
                while prev[nxt] is not None:
                    (p, kind), cur = prev[nxt], nxt
                    steps.append((p[0], kind, cur[0]))
                    nxt = p
                return steps[::-1]
            queue.append(nxt)
    return None
