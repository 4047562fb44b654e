"""Stale reads of a key-value register: reads that missed a write acknowledged before they
began. A measure, not a verdict: stores that promise no fresh reads (Dynamo's sloppy
quorums, Chord during a cut) are held to it only in the CAP report."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from faultlab.histories import OK, History, Op


def missed_writes(history: History, write: str = "write", read: str = "read",
                seen: Callable[[object], Iterable] = lambda v: (v,)
                ) -> list[tuple[Op, Op, Op | None]]:
    """Every ok read (op values are [key, value], written values unique per key), with the
    write it should have seen if it saw none of the values it could have returned, or None.
    It could return the value of any write acknowledged before it began that no write
    acknowledged before it began had certainly overwritten, or of a write still in flight.
    `seen(value)` gives the values a read returned (several for a read of siblings)."""
    writes: dict = {}
    reads = []
    for o in history.operations():
        if o.invoke.f == write:
            writes.setdefault(o.invoke.value[0], []).append((o.invoke, o.complete))
        elif o.invoke.f == read and _ok(o.complete):
            reads.append((o.invoke, o.complete))
    out = []
    for op, done in reads:
        ws = writes.get(op.value[0], [])
        before = [(w, d) for w, d in ws if _ok(d) and d.time < op.time]
        latest = [(w, d) for w, d in before
                  if not any(w2.time > d.time for w2, _ in before)]
        possible = {w.value[1] for w, _ in latest}
        possible |= {w.value[1] for w, d in ws if w.time < done.time
                     and not (_ok(d) and d.time < op.time)}
        missed = None
        if latest and not possible & set(seen(done.value[1])):
            missed = max(latest, key=lambda wd: wd[1].time)[0]
        out.append((op, done, missed))
    return out


def _ok(done: Op | None) -> bool:
    return done is not None and done.type == OK
