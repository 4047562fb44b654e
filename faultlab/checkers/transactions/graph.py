"""The dependency graph between transactions and the cycles that name Adya's anomalies.

Edges are write-write (`ww`: one version after another), write-read (`wr`: a read saw a
write), read-write (`rw`: a read saw a version a write then replaced), `process` (one
transaction followed another on the same client process) and `realtime` (one completed
before another began). Each edge keeps the first reason found, so a cycle reads as a sentence
per step. Cycles are classified as Elle names them: G0 (only ww), G1c (ww and wr), G-single
(exactly one rw), G2-item (two or more rw), and the same classes closed by process or
realtime order: G0-process ... G2-item-realtime.

Some edges go through hub nodes (names starting with "~") that stand for many edges at
once; a cycle through a hub is written out as the direct step it stands for.
"""
from __future__ import annotations

import time
from collections import deque

import attrs

WW, WR, RW, PROCESS, RT = "ww", "wr", "rw", "process", "realtime"
KINDS = (WW, WR, RW, PROCESS, RT)
CYCLES_PER_CLASS = 3    # example cycles kept for each anomaly class
TRIES_PER_CLASS = 200   # candidate edges tried per class and component, at most
TRIES_AFTER_FOUND = 8   # more candidates tried for a shorter cycle once one is found
SEARCHES_PER_CLASS = 100  # whole-component searches' worth of work per class and component


class OutOfBudget(Exception):
    """The cycle search ran past its deadline."""


class Reason:
    """Why an edge holds, in a sentence: `say(*args)`, written only if a cycle shows it (a
    long history has millions of edges and shows a handful)."""

    __slots__ = ("say", "args")

    def __init__(self, say, *args):
        self.say, self.args = say, args

    def __str__(self) -> str:
        return self.say(*self.args)


class Dependencies:
    """Edges a -> b of each kind, with the reason the first one of each was added."""

    def __init__(self):
        self.by_kind: dict[str, dict[tuple[str, str], Reason]] = {k: {} for k in KINDS}

    def add(self, a: str, b: str, kind: str, why: Reason) -> None:
        if a != b:
            self.by_kind[kind].setdefault((a, b), why)

    def count(self, kind: str) -> int:
        return len(self.by_kind[kind])

    def kinds(self, a: str, b: str) -> dict[str, Reason]:
        """The kinds of edge a -> b, each with its reason."""
        return {k: edges[(a, b)] for k, edges in self.by_kind.items() if (a, b) in edges}


def process_edges(deps: Dependencies, txns) -> None:
    """Add an edge from each transaction to the next one its client process ran."""
    last: dict = {}
    for t in txns:
        if t.process in last:
            deps.add(last[t.process], t.name, PROCESS,
                     Reason(_ran, t.process, last[t.process], t.name))
        last[t.process] = t.name


def _ran(process, a: str, b: str) -> str:
    return f"process {process} ran {a} and then {b}"


def realtime_edges(deps: Dependencies, spans: list[tuple[str, int, int | None]]) -> None:
    """Add realtime order for transactions (name, start, end; end None: never completed):
    a completed before b began. Not as an edge for each such pair, nor for each pair of the
    transitive reduction (one per concurrent client and transaction), but through a chain
    of hubs, one per completion in time order: a -> its completion -> later completions
    ... -> the last completion before b began -> b. A path along the chain says exactly
    "a completed before b began", in linear space."""
    events = []
    for name, start, end in spans:
        events.append((start, 1, name))
        if end is not None:
            events.append((end, 0, name))
    events.sort()
    last = None
    for i, (_, begins, name) in enumerate(events):
        if begins:
            if last is not None:
                deps.add(last, name, RT, _IN_ORDER)
        else:
            hub = f"~rt{i}"
            deps.add(name, hub, RT, _IN_ORDER)
            if last is not None:
                deps.add(last, hub, RT, _IN_ORDER)
            last = hub


_IN_ORDER = Reason(str, "in real-time order")  # only ever shown merged, by _through_hubs


@attrs.frozen
class Cycle:
    """An anomaly's cycle: (from, kind, to, reason) steps, closing on the first."""

    anomaly: str
    steps: tuple

    def to_dict(self) -> dict:
        return {"anomaly": self.anomaly,
                "cycle": [{"from": a, "kind": k, "to": b, "why": str(why)}
                          for a, k, b, why in self.steps]}


def find_cycles(deps: Dependencies, deadline: float | None) -> list[Cycle]:
    """Example cycles of each anomaly class, up to CYCLES_PER_CLASS each, searched per
    strongly connected component; the process and realtime variants where those edges
    were added."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_edges_from(_on_cycles(deps))
    found: dict[str, list[Cycle]] = {}
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    where = {node: i for i, c in enumerate(components) for node in c}
    inside: list[dict] = [{} for _ in components]
    for a, b in graph.edges:  # in the graph's own order, not the sets' hash order
        i = where.get(a)
        if i is not None and where.get(b) == i:
            inside[i][(a, b)] = deps.kinds(a, b)
    for edges in inside:
        named = False
        for spec in _CLASSES:
            if spec.start in (PROCESS, RT) and not deps.count(spec.start):
                continue
            if len(found.get(spec.anomaly, ())) >= CYCLES_PER_CLASS:
                named = True
                continue
            cycle = _cycle(edges, spec, deadline)
            if cycle is not None:
                named = True
                found.setdefault(spec.anomaly, []).append(
                    Cycle(spec.anomaly, _through_hubs(cycle)))
        if not named:  # the searches ran out of budget: any cycle, named by its edges
            cycle = _any_cycle(nx.find_cycle(nx.DiGraph(list(edges))), edges)
            found.setdefault(cycle.anomaly, []).append(cycle)
    return [c for spec in _CLASSES for c in found.get(spec.anomaly, ())]


def _any_cycle(pairs, edges: dict) -> Cycle:
    """A cycle given as node pairs, each step of its mildest kind, named by what it holds."""
    steps = []
    for a, b in pairs:
        kinds = edges[(a, b)]
        kind = next(k for k in (WW, WR, RW, PROCESS, RT) if k in kinds)
        steps.append((a, kind, b, kinds[kind]))
    steps = _through_hubs(tuple(steps))
    used = [k for _, k, _, _ in steps]
    rw = used.count(RW)
    name = "G0" if not rw and WR not in used else "G1c" if not rw else \
        "G-single" if rw == 1 else "G2-item"
    order = RT if RT in used else PROCESS if PROCESS in used else None
    return Cycle(f"{name}-{order}" if order else name, steps)


def _on_cycles(deps: Dependencies) -> list[tuple[str, str]]:
    """The edges that may lie on a cycle: what is left after peeling off, again and again,
    every node with no edge in, then every node with no edge out. All of a valid history
    peels away, and most of one with a few anomalies, so the strongly connected
    components are searched only in what is left."""
    succ: dict[str, list[str]] = {}
    for edges in deps.by_kind.values():
        for a, b in edges:
            succ.setdefault(a, []).append(b)
    left = _peel(succ)
    if not left:
        return []
    pred: dict[str, list[str]] = {}
    for a, targets in succ.items():  # in insertion order: the same in every process
        if a in left:
            for b in targets:
                if b in left:
                    pred.setdefault(b, []).append(a)
    left = _peel(pred)
    return [(a, b) for b, sources in pred.items() if b in left for a in sources if a in left]


def _peel(succ: dict[str, list[str]]) -> set[str]:
    """The nodes left after removing, again and again, those with no edge in (Kahn)."""
    n_in: dict[str, int] = {}
    for targets in succ.values():
        for b in targets:
            n_in[b] = n_in.get(b, 0) + 1
    stack = [a for a in succ if a not in n_in]
    while stack:
        for b in succ.get(stack.pop(), ()):
            n_in[b] -= 1
            if not n_in[b]:
                stack.append(b)
    return {x for x, n in n_in.items() if n}


def _through_hubs(steps: tuple) -> tuple:
    """The cycle with each pass through hubs written as the one direct step it stands
    for, starting at a transaction."""
    steps = list(steps)
    while steps[0][0].startswith("~"):
        steps.append(steps.pop(0))
    out: list[tuple] = []
    for a, kind, b, why in steps:
        if out and out[-1][2].startswith("~"):
            a0, kind0, _, why0 = out.pop()
            why = Reason(_before, a0, b) if kind0 == RT else Reason(_later, why0, why)
            out.append((a0, kind0, b, why))
        else:
            out.append((a, kind, b, why))
    return tuple(out)


def _before(a: str, b: str) -> str:
    return f"{a} completed before {b} began"


def _later(into_hub: Reason, out_of_hub: Reason) -> str:
    """An edge into the unseen-appends hub says {later} where the append it reaches goes."""
    return str(into_hub).replace("{later}", str(out_of_hub))


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
    """The shortest cycle of the class found from the edges of its starting kind (the
    first TRIES_PER_CLASS, within a budget of work), as (from, kind, to, reason) steps;
    None if none was found."""
    adj: dict[str, list[tuple[str, str]]] = {}
    for (a, b), kinds in edges.items():
        for kind in kinds:
            if kind in spec.back:
                adj.setdefault(a, []).append((b, kind))
    budget = [SEARCHES_PER_CLASS * (len(adj) + 1) * ((spec.exactly or spec.at_least) + 1)]
    best = None
    tries = since_best = 0
    for (a, b), kinds in edges.items():
        if spec.start not in kinds:
            continue
        tries += 1
        if tries > TRIES_PER_CLASS or since_best > TRIES_AFTER_FOUND or budget[0] <= 0:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise OutOfBudget
        since_best += best is not None
        path = _path(adj, b, a, spec, budget)
        if path is not None:
            visited = [x for x, _, _ in path]
            if len(set(visited)) < len(visited) or a in visited:
                path = None  # a walk that repeats a transaction is no cycle of its own
        if path is not None and (best is None or len(path) + 1 < len(best)):
            best = [(a, spec.start, b, kinds[spec.start])] + [
                (x, k, y, edges[(x, y)][k]) for x, k, y in path]
            since_best = 0
            if len(best) == 2:
                break
    return tuple(best) if best is not None else None


def _path(adj: dict, src: str, dst: str, spec: _Class, budget: list[int]):
    """A shortest path src ->* dst as (from, kind, to) steps whose count of `spec.counted`
    edges meets the class's bound, by breadth-first search over (node, count so far);
    each state visited is taken from `budget[0]`."""
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
        budget[0] -= 1
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
