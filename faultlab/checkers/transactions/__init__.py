"""Transaction checking, as Elle does it: infer the dependencies between transactions from
what their reads saw, and name the anomalies — the cycles of Adya's classes and what single
reads show — that the chosen consistency model forbids.

`check_transactions(history, workload, consistency)` judges a history of `:txn` ops (or a
bank test's reads and transfers) and returns a Verdict named after the consistency model.
Like the linearizability checker it needs no simulator, and a time budget turns a search
that would run long into an unknown verdict.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

from faultlab.checkers.verdict import UNKNOWN, Verdict, witness_lines
from faultlab.errors import FaultlabError
from faultlab.gc_pause import gc_paused
from faultlab.histories.op import Op

WORKLOADS = ("list-append", "rw-register", "bank")
# strongest first: each forbids all that the ones after it forbid
CONSISTENCY = ("strict-serializable", "strong-session-serializable", "serializable",
               "snapshot-isolation", "read-committed")
# Anomalies no consistency model allows: the data itself is wrong.
DATA = {"internal", "future-read", "duplicate-elements", "incompatible-order", "garbage",
        "wrong-total", "negative-balance"}
_CYCLES = ("G0", "G1c", "G-single", "G2-item")
_READ_COMMITTED = {"G0", "G1a", "G1b", "G1c"}
_SERIALIZABLE = _READ_COMMITTED | {"G-single", "G2-item"}
_SESSION = _SERIALIZABLE | {f"{c}-process" for c in _CYCLES}
FORBIDS = {
    "read-committed": _READ_COMMITTED,
    "snapshot-isolation": _READ_COMMITTED | {"G-single"},
    "serializable": _SERIALIZABLE,
    "strong-session-serializable": _SESSION,
    "strict-serializable": _SESSION | {f"{c}-realtime" for c in _CYCLES} | {"lost-append"},
}


def check_transactions(history: Iterable[Op], workload: str = "list-append",
                       consistency: str = "strict-serializable", *,
                       time_limit: float | None = None, deadline: float | None = None,
                       initial_total: int | None = None) -> Verdict:
    """Whether a transactional history satisfies `consistency`, and if not which anomalies
    it shows, each with an explaining cycle or read."""
    with gc_paused():
        return _check(history, workload, consistency, time_limit, deadline, initial_total)


def _check(history, workload, consistency, time_limit, deadline, initial_total) -> Verdict:
    # imported here, so that naming the workloads (the CLI does) costs nothing
    from faultlab.checkers.transactions import bank, list_append, rw_register
    from faultlab.checkers.transactions.graph import (
        OutOfBudget,
        find_cycles,
        process_edges,
        realtime_edges,
    )
    from faultlab.checkers.transactions.txns import read_txns

    if workload not in WORKLOADS:
        raise FaultlabError(f"unknown transactional workload {workload!r}; choose from "
                            f"{', '.join(WORKLOADS)}")
    if consistency not in CONSISTENCY:
        raise FaultlabError(f"unknown consistency model {consistency!r}; choose from "
                            f"{', '.join(CONSISTENCY)}")
    started = time.monotonic()
    if time_limit is not None:
        deadline = started + time_limit if deadline is None else min(deadline,
                                                                    started + time_limit)
    history = list(history)
    if workload == "bank":
        found, n, total = bank.analyze(history, initial_total)
        stats = {"reads": n, "total": total}
        cycles, txns = [], []
    else:
        analysis = list_append if workload == "list-append" else rw_register
        txns = read_txns(history, analysis.MICRO_OPS)
        deps, found, effective = analysis.analyze(txns)
        ordered = [t for t in txns if t.name in effective]
        if consistency == "strict-serializable":  # real-time order implies process order
            realtime_edges(deps, [(t.name, t.start, t.end) for t in ordered])
        elif consistency == "strong-session-serializable":
            process_edges(deps, ordered)
        try:
            cycles = find_cycles(deps, deadline)
        except OutOfBudget:
            return _verdict(consistency, UNKNOWN, "the time limit ran out searching for "
                            "cycles", found, [], txns, started,
                            {"transactions": len(txns)})
        stats = {"transactions": len(txns), "edges": {k: deps.count(k) for k in
                                                      ("ww", "wr", "rw", "process",
                                                                "realtime")}}
    if consistency != "strict-serializable":  # only realtime order makes it an anomaly
        found = [a for a in found if a["anomaly"] != "lost-append"]
    names = sorted({a["anomaly"] for a in found} | {c.anomaly for c in cycles})
    bad = [n for n in names if n in DATA or n in FORBIDS[consistency]]
    label = consistency.replace("-", " ")
    if bad:
        text = f"not {label}: {', '.join(bad)}"
    else:
        text = f"{label} ({stats.get('transactions', stats.get('reads'))} " \
               f"{'transactions' if workload != 'bank' else 'reads'})"
        if names:
            text += f"; allowed anomalies seen: {', '.join(names)}"
    return _verdict(consistency, not bad, text, found, cycles, txns, started, stats,
                    names=names)


def _verdict(consistency, valid, text, found, cycles, txns, started, stats,
             names=()) -> Verdict:
    by_name = {t.name: t for t in txns}
    involved = set()
    for c in cycles:
        involved.update(a for a, _, _, _ in c.steps)
    for a in found:
        involved.update(x for x in (a.get("txn"), a.get("writer")) if x)
        involved.update(a.get("txns", ()))
    ops = sorted(by_name[n].invoke.index for n in involved if n in by_name)
    times = [by_name[n].invoke.time for n in involved
             if n in by_name and by_name[n].invoke.time is not None]
    # only the models the search could judge: the requested one and those weaker than it,
    # but for session order, which a strict search does not add (real time implies it)
    judged = [m for m in CONSISTENCY[CONSISTENCY.index(consistency):]
              if m != "strong-session-serializable" or m == consistency]
    satisfied = [m for m in reversed(judged)
                 if not any(n in DATA or n in FORBIDS[m] for n in names)]
    stats = {**stats, "seconds": round(time.monotonic() - started, 6)}
    return Verdict(consistency, valid, text, {
        "anomalies": sorted(names), "stats": stats,
        "satisfies": satisfied[-1] if satisfied else None},
        witness=[c.to_dict() for c in cycles] + found if (cycles or found) else None,
        ops=ops, time=min(times, default=None))


def render(verdict: Verdict, shown: int = 6) -> list[str]:
    """A few readable lines: each anomaly with its cycle, step by step, or its read."""
    lines = [verdict.explanation]
    if verdict.anomalies.get("satisfies") and verdict.valid is False:
        lines.append(f"the strongest model it satisfies: "
                     f"{verdict.anomalies['satisfies'].replace('-', ' ')}")
    return lines + witness_lines(verdict.witness, shown)
