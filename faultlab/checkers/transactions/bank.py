"""Jepsen's bank test: transfers between accounts never change the total, so every read of
all accounts must sum to it, and no balance may go negative.

Ops: `{:f :transfer, :value {:from 1, :to 2, :amount 5}}` and `{:f :read, :value {0 10, 1
20, ...}}`. The total is the initial one when given, else the total most reads agree on.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from faultlab.checkers.transactions.txns import TxnError
from faultlab.histories.op import OK, Op


def analyze(history: Iterable[Op], initial_total: int | None) -> tuple[list[dict], int, int]:
    """(anomalies, reads checked, the total they were held to)."""
    reads = []
    for pos, op in enumerate(history):
        if op.type != OK:
            continue
        if op.f == "read":
            if not isinstance(op.value, dict) or not all(
                    isinstance(b, (int, float)) and not isinstance(b, bool)
                    for b in op.value.values()):
                raise TxnError(f"a bank read returns a map of accounts to balances, got "
                               f"{op.value!r}", op, pos)
            reads.append(op)
        elif op.f != "transfer":
            raise TxnError(f"the bank workload has :read and :transfer, not :{op.f}", op,
                           pos)
    if not reads:
        return [], 0, initial_total or 0
    totals = [sum(op.value.values()) for op in reads]
    total = initial_total if initial_total is not None else \
        Counter(totals).most_common(1)[0][0]
    anomalies = []
    for op, t in zip(reads, totals):
        if t != total:
            anomalies.append({"anomaly": "wrong-total", "op": op.index, "why":
                              f"op {op.index} read balances totalling {t}, not {total}: "
                              f"{dict(sorted(op.value.items(), key=repr))}"})
        negative = {a: b for a, b in op.value.items() if b < 0}
        if negative:
            anomalies.append({"anomaly": "negative-balance", "op": op.index, "why":
                              f"op {op.index} read negative balances {negative}"})
    return anomalies, len(reads), total
