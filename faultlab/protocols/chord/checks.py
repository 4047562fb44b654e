"""How a Chord run is judged once it is over: the ring is ideal after the heal, lookups in
the quiet ring name the true owner, and no acknowledged put is lost. (Zave's properties are
checked after every step by the monitor.)"""
from __future__ import annotations

import bisect

from faultlab.checkers.linearizability import check_linearizable
from faultlab.checkers.models import get_model
from faultlab.checkers.stale_reads import missed_writes
from faultlab.checkers.verdict import Verdict
from faultlab.histories import History
from faultlab.histories.record import RunRecord
from faultlab.protocols.chord.invariants import Snapshot
from faultlab.protocols.common.ring import ring_id

LINEARIZABILITY_LIMIT_S = 5.0


def final_ring(record: RunRecord) -> Snapshot:
    """The members' pointers at the end of the run."""
    m, r = record.config["m"], record.config["r"]
    pointers = {}
    for name in record.members:
        state = record.states.get(name)
        if state is not None:
            state = dict(state)
            if state["joined"]:
                pointers[name] = (tuple(state["succ"]), state["pred"])
    ids = {n: ring_id(n, m) for n in record.states}
    return Snapshot(pointers, ids, m, r)


def ideal_after_heal(record: RunRecord) -> Verdict:
    """After churn stops, the ring becomes ideal (checked at the end of the run, at least
    the recovery period after the heal)."""
    ring = final_ring(record)
    waiting = [n for n in record.members if n not in ring.pointers]
    problem = (f"{', '.join(waiting)} never finished joining" if waiting
               else ring.ideal())
    if problem:
        return Verdict("ideal-after-heal", False, f"at the end, after the heal: {problem}",
                       {"members": len(record.members)})
    return Verdict("ideal-after-heal", True, f"the {len(ring.pointers)} members form the "
                   "ideal ring")


def _quiet(record: RunRecord) -> int:
    """From when the ring must be quiet and ideal: the liveness bound after the heal, or
    after the last join if one finished later (a slow join changes the ring then)."""
    joined = [a[0] for a in record.announcements if a[2] == "joined"]
    return max([record.heal_at, *joined]) + record.liveness_bound_us


def lookups_correct(record: RunRecord) -> Verdict:
    """In the quiet ideal ring, every lookup returns the true owner: the first member
    clockwise at or after the point. (Lookups during churn may be wrong: not judged.)"""
    ring = final_ring(record)
    order = ring.order()
    points = [ring.ids[n] for n in order]
    since = _quiet(record)
    judged = 0
    for o in record.history.operations():
        op, done = o.invoke, o.complete
        if op.f != "lookup" or op.time < since or done is None or not order:
            continue
        judged += 1
        owner = _owner(order, points, op.value)
        got = done.value[0] if done.type == "ok" else None
        if got != owner:
            what = f"returned {got}" if done.type == "ok" else \
                f"ended {done.type} ({done.error})"
            return Verdict("lookups-correct", False,
                           f"op {op.index}: the lookup of {op.value} {what}, in the quiet "
                           f"ideal ring whose owner of it is {owner}", {"point": op.value},
                           ops=(op.index,), time=op.time)
    return Verdict("lookups-correct", True, f"{judged} lookups in the quiet ring")


def _owner(order: list[str], points: list[int], point: int) -> str:
    i = bisect.bisect_left(points, point)
    return order[i % len(order)]


def no_lost_puts(record: RunRecord) -> Verdict:
    """Every put, and every get once the ring is quiet, is linearizable per key: a get
    after the heal never misses an acknowledged put (nor returns a value never put)."""
    since = _quiet(record)
    as_register = {"put": "write", "get": "read"}
    kept = sorted((op for o in record.history.operations()
                   if o.f == "put" or (o.f == "get" and o.invoke.time >= since)
                   for op in (o.invoke, o.complete) if op is not None),
                  key=lambda op: op.index)
    history = History(op._replace(f=as_register[op.f]) for op in kept)
    model = get_model("register", independent=True)
    verdict = check_linearizable(history, model, time_limit=LINEARIZABILITY_LIMIT_S, jobs=1)
    text = verdict.explanation
    return Verdict("no-lost-puts", verdict.valid,
                   text if verdict.valid is not True else f"no put lost ({text})",
                   verdict.anomalies, verdict.witness, verdict.ops, verdict.time)


def stale_gets(record: RunRecord) -> Verdict:
    """Measured, over the whole run: gets that missed a put acknowledged before they began
    (during churn or a cut each side's ring answers from what it holds)."""
    reads = missed_writes(record.history, "put", "get")
    stale = sum(1 for _, _, missed in reads if missed is not None)
    n = len(reads)
    return Verdict("stale-reads", True, f"{stale} of {n} gets stale",
                   {"measured": {"reads-judged": n, "stale-reads": stale}})


def replicas_after_heal(record: RunRecord) -> Verdict:
    """Once the ring is quiet, each key's value (as the last get read it) is on at least r
    members: every departure's copies were made again, by a leave's hand-over or by the
    repair after a failure."""
    r = record.config["r"]
    stores = {}
    for name in record.members:
        state = record.states.get(name)
        if state is not None:
            stores[name] = dict(dict(state)["store"])
    need = min(r, len(stores))
    last_read: dict = {}  # key -> its last get, if no put ran alongside or after it
    writing: dict = {}    # key -> puts invoked and not yet completed
    since = _quiet(record)
    for op in record.history:
        key = op.value[0] if op.f in ("get", "put") else None
        if op.f == "put":
            writing[key] = writing.get(key, 0) + (1 if op.type == "invoke" else -1)
            last_read.pop(key, None)
        elif op.f == "get" and op.type == "ok" and op.time >= since \
                and op.value[1] is not None and not writing.get(key):
            last_read[key] = op
    for key, op in sorted(last_read.items()):
        value = op.value[1]
        holders = sorted(n for n, store in stores.items()
                         if key in store and store[key][1] == value)
        if len(holders) < need:
            return Verdict("replicas-after-heal", False,
                           f"key {key}'s value {value} (op {op.index}) is on "
                           f"{len(holders)} member(s) ({' '.join(holders) or 'none'}), "
                           f"fewer than r = {need}", {"key": key, "holders": holders},
                           ops=(op.index,), time=op.time)
    return Verdict("replicas-after-heal", True, f"{len(last_read)} keys each on at least "
                   f"{need} members")

