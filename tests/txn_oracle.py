"""Transactional histories for tests: a builder for hand-written ones, a generator of small
random ones, and a brute-force serializability oracle that knows nothing of dependency
graphs — it tries every order of the transactions that may have happened."""
from __future__ import annotations

import itertools
import random

from faultlab.histories import History, Op


def history(*events) -> History:
    """Ops from (step, process, type, mops) events: `type` invoke writes the micro-ops
    with reads blanked, as Jepsen does; ok/fail/info complete the process's open txn."""
    ops = []
    for step, process, type_, mops in events:
        value = [[f, k, None if f == "r" and type_ == "invoke" else v] for f, k, v in mops]
        ops.append(Op(len(ops), type_, process, "txn", value, time=step))
    return History(ops)


def serial(*txns) -> History:
    """Each (process, type, mops) transaction completes before the next begins."""
    events = []
    for p, type_, mops in txns:
        events += [(len(events), p, "invoke", mops), (len(events) + 1, p, type_, mops)]
    return history(*events)


def concurrent(*txns) -> History:
    """All (process, type, mops) transactions invoked, then all completed: no real-time
    order between them."""
    events = [(i, p, "invoke", m) for i, (p, _, m) in enumerate(txns)]
    events += [(len(txns) + i, p, t, m) for i, (p, t, m) in enumerate(txns)]
    return history(*events)


def random_history(rng: random.Random, n_txns: int = 4, keys: int = 2, max_mops: int = 3,
                   workload: str = "list-append") -> History:
    """A small list-append (or rw-register) history: transactions run in a random serial
    order (so reads are consistent), then some reads are bent to another version of their
    key, some transactions fail or end in info, and invocations overlap at random."""
    appending = workload == "list-append"
    state: dict = {k: [] for k in range(keys)}  # every version of each key, in order
    next_value = itertools.count(1)
    txns = []
    for _ in range(n_txns):
        mops = []
        for _ in range(rng.randint(1, max_mops)):
            k = rng.randrange(keys)
            if rng.random() < 0.5:
                v = next(next_value)
                state[k].append(v)
                mops.append(["append" if appending else "w", k, v])
            else:
                mops.append(["r", k, _version(state[k], len(state[k]), appending)])
        txns.append(mops)
    for mops in txns:  # bend reads: another version of the key
        for mop in mops:
            if mop[0] == "r" and rng.random() < 0.25:
                versions = state[mop[1]]
                mop[2] = _version(versions, rng.randint(0, len(versions)), appending)
    rng.shuffle(txns)  # the serial order is not the invocation order
    types = [rng.choices(["ok", "fail", "info"], [0.8, 0.1, 0.1])[0] for _ in txns]
    # random overlapping intervals: each txn gets an invoke and a later completion
    points = []
    for i in range(len(txns)):
        a, b = sorted(rng.sample(range(4 * n_txns), 2))
        points += [(a, 0, i), (b, 1, i)]
    events = []
    for step, end, i in sorted(points):
        if end and types[i] == "info" and rng.random() < 0.5:
            continue  # never completed
        events.append((step, i, "invoke" if not end else types[i], txns[i]))
    return history(*events)


def _version(writes: list, n: int, appending: bool):
    """The key after its first n writes: the list of them, or the last one (nil if none)."""
    return list(writes[:n]) if appending else (writes[n - 1] if n else None)


def oracle_serializable(h: History, strict: bool) -> bool:
    """Whether some order of the transactions that may have happened (every ok one, any
    subset of the info ones) replays every ok read exactly; with `strict`, an order that
    also keeps each transaction after those that completed before it began."""
    open_, txns = {}, []
    for pos, op in enumerate(h):
        if op.type == "invoke":
            open_[op.process] = (pos, op)
        else:
            start, inv = open_.pop(op.process)
            if op.type != "fail":
                txns.append((start, pos if op.type == "ok" else None, op.type,
                             op.value if op.type == "ok" else inv.value))
    txns += [(start, None, "info", inv.value) for start, inv in open_.values()]
    ok = [t for t in txns if t[2] == "ok"]
    maybe = [t for t in txns if t[2] == "info"]
    for r in range(len(maybe) + 1):
        for extra in itertools.combinations(maybe, r):
            for order in itertools.permutations(ok + list(extra)):
                if strict and not _respects_realtime(order):
                    continue
                if _replays(order):
                    return True
    return False


def _respects_realtime(order) -> bool:
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if b[1] is not None and b[1] < a[0]:  # b completed before a began
                return False
    return True


def _replays(order) -> bool:
    lists: dict = {}
    registers: dict = {}
    for _, _, type_, mops in order:
        for f, k, v in mops:
            if f == "append":
                lists.setdefault(k, []).append(v)
            elif f == "w":
                registers[k] = v
            elif type_ == "ok":
                now = lists.get(k, []) if isinstance(v, list) else registers.get(k)
                if now != v:
                    return False
    return True
