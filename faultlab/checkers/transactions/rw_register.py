"""What read-write register histories reveal: writes of values unique per key, and reads of
one value.

A read names the write it saw, so write-read edges are certain. The order of versions is
not: it is known only where the history shows it — the initial nil comes first, and a
transaction that read v and then wrote w put w after v. Those known orders give write-write
and read-write edges; other anomalies a single read shows are a read of a failed write
(G1a), of a value its writer overwrote in the same transaction (G1b), of a value nobody
wrote (garbage), and a read that disagrees with its own transaction's earlier write
(internal).
"""
from __future__ import annotations

from typing import Any

from faultlab.checkers.transactions.graph import RW, WR, WW, Dependencies, Reason
from faultlab.checkers.transactions.txns import READ, WRITE, Txn
from faultlab.histories.op import FAIL, INFO, OK

MICRO_OPS = (READ, WRITE)


def analyze(txns: list[Txn]) -> tuple[Dependencies, list[dict], set[str]]:
    """The dependency edges, the anomalies single reads show, and the transactions that
    took effect."""
    anomalies: list[dict] = []
    writer: dict[tuple, Txn] = {}
    final: dict[tuple, Any] = {}  # (txn, key) -> its last write to the key
    for t in txns:
        for f, k, v in t.mops:
            if f != WRITE:
                continue
            if v is None:
                raise t.error(f"{t.name} writes nil to key {k!r}; nil is the initial value")
            try:
                hash(v)
            except TypeError:
                raise t.error(f"written value {v!r} is not a scalar") from None
            if (k, v) in writer and writer[(k, v)] is not t:
                raise t.error(f"{t.name} and {writer[(k, v)].name} both write {v!r} to key "
                              f"{k!r}; rw-register needs values unique per key")
            writer[(k, v)] = t
            final[(t.name, k)] = v
    reads = []   # (txn, key, value it saw of others)
    after: dict[Any, dict[tuple, None]] = {}  # key -> known (earlier, later) version pairs,
    #                                             in the order found (the same everywhere)
    for t in txns:
        if t.type != OK:
            continue
        mine: dict = {}
        seen: dict = {}
        for f, k, v in t.mops:
            if f == WRITE:
                if k in seen and seen[k] != v:
                    after.setdefault(k, {})[(seen[k], v)] = None
                elif k in mine and mine[k] != v:
                    after.setdefault(k, {})[(mine[k], v)] = None
                mine[k] = v
                continue
            if isinstance(v, (list, dict)):
                raise t.error(f"{t.name} reads key {k!r} as {v!r}; a register read returns "
                              "one value (is this a list-append history?)", completion=True)
            if k in mine or k in seen:  # it knows what the key holds: its own write or read
                before = f"wrote {mine[k]!r} to" if k in mine else f"read {seen[k]!r} in"
                if v != (mine[k] if k in mine else seen[k]):
                    anomalies.append({"anomaly": "internal", "txn": t.name, "key": k,
                                      "why": f"{t.name} {before} key {k!r} and then read "
                                             f"{v!r}"})
                continue
            seen[k] = v
            reads.append((t, k, v))
            if v is None:
                continue
            w = writer.get((k, v))
            if w is None:
                anomalies.append({"anomaly": "garbage", "txn": t.name, "key": k, "value": v,
                                  "why": f"{t.name} read {v!r} in key {k!r}, which nobody "
                                         "wrote"})
            elif w.type == FAIL:
                anomalies.append({"anomaly": "G1a", "txn": t.name, "key": k, "value": v,
                                  "writer": w.name, "why": f"{t.name} read {v!r} in key "
                                  f"{k!r}, written by {w.name}, which failed"})
            elif final.get((w.name, k)) != v:
                anomalies.append({"anomaly": "G1b", "txn": t.name, "key": k, "writer": w.name,
                                  "why": f"{t.name} read {v!r} in key {k!r}, an intermediate "
                                         f"write of {w.name}, which then wrote "
                                         f"{final[(w.name, k)]!r}"})
    effective = {t.name for t in txns if t.type == OK}
    effective |= {writer[(k, v)].name for _, k, v in reads
                  if v is not None and (k, v) in writer and writer[(k, v)].type == INFO}
    deps = Dependencies()
    for k, pairs in after.items():
        for a, b in pairs:
            wa, wb = writer.get((k, a)), writer.get((k, b))
            if wa and wb and wa.name in effective and wb.name in effective:
                deps.add(wa.name, wb.name, WW, Reason(
                    "{} wrote {!r} to key {!r} after {!r}, which {} wrote, as a transaction "
                    "that read {!r} and then wrote {!r} shows".format, wb.name, b, k, a,
                    wa.name, a, b))
    successors: dict[tuple, list] = {}
    for k, pairs in after.items():
        for a, b in pairs:
            successors.setdefault((k, a), []).append(b)
    for (k, b), wb in writer.items():  # every write comes after the initial nil
        if wb.type != FAIL:
            successors.setdefault((k, None), []).append(b)
    for t, k, v in reads:
        w = writer.get((k, v)) if v is not None else None
        if w is not None and w.type != FAIL:
            deps.add(w.name, t.name, WR, Reason("{} read key {!r} = {!r}, written by {}".format,
                                                t.name, k, v, w.name))
        for b in successors.get((k, v), ()):
            wb = writer.get((k, b))
            if wb is not None and wb.name in effective:
                deps.add(t.name, wb.name, RW, Reason(
                    "{} read key {!r} = {!r}, before {} wrote {!r} over it".format, t.name, k,
                    v, wb.name, b))
    return deps, anomalies, effective
