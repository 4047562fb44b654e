"""Jepsen's set checker: every acknowledged add must be in the final read.

Clients `add` elements and `read` the whole set; the last successful read is the final read.
An acknowledged add missing from it is *lost* (the bug); an element read that nobody tried to
add is *unexpected*; an add whose outcome was unknown (info) or failed but whose element is
present anyway is *recovered* (legal for info).
"""
from __future__ import annotations

from faultlab.checkers.verdict import UNKNOWN, Verdict
from faultlab.histories import FAIL, INFO, INVOKE, OK, History

_SHOWN = 10  # elements listed in an explanation


def check_set(history: History, add: str = "add", read: str = "read") -> Verdict:
    attempts: dict = {}   # element -> its add invoke
    outcome: dict = {}    # element -> ok / fail / info
    final = None
    for op in history:
        if op.f == add:
            if op.type == INVOKE:
                attempts[op.value] = op
                outcome.setdefault(op.value, INFO)
            elif op.type in (OK, FAIL):
                outcome[op.value] = op.type
        elif op.f == read and op.type == OK:
            final = op
    if final is None:
        return Verdict("set", UNKNOWN, "no read succeeded, so nothing can be said of the set")
    present = set(final.value or ())
    acked = {e for e, o in outcome.items() if o == OK}
    lost = sorted(acked - present)
    unexpected = sorted(present - set(attempts))
    failed_present = sorted(e for e in present if outcome.get(e) == FAIL)
    recovered = sorted(e for e in present if outcome.get(e) == INFO)
    anomalies = {}
    if lost:
        anomalies["lost"] = [{"element": e, "add_index": attempts[e].index,
                              "add_time": attempts[e].time} for e in lost]
    if unexpected:
        anomalies["unexpected"] = unexpected
    if failed_present:
        anomalies["failed-but-present"] = failed_present
    valid = not (lost or unexpected or failed_present)
    parts = [f"{len(acked)} acknowledged, {len(present)} in the final read "
             f"(op {final.index} at t={final.time})"]
    if lost:
        parts.append(f"{len(lost)} acknowledged lost: {_head(lost)}")
    if unexpected:
        parts.append(f"{len(unexpected)} never added: {_head(unexpected)}")
    if failed_present:
        parts.append(f"{len(failed_present)} failed adds present: {_head(failed_present)}")
    if recovered:
        parts.append(f"{len(recovered)} indeterminate adds recovered")
    involved = [attempts[e].index for e in (lost + unexpected + failed_present)[:_SHOWN - 1]
                if e in attempts]
    return Verdict("set", valid, "; ".join(parts), anomalies,
                   witness={"final_read": final.index, "lost": lost[:_SHOWN]} if lost else None,
                   ops=(*involved, final.index) if not valid else (),
                   time=min((attempts[e].time for e in lost), default=final.time)
                   if not valid else None)


def _head(items: list) -> str:
    shown = ", ".join(map(str, items[:_SHOWN]))
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")
