"""Readable accounts of a run: what failed, the ops each verdict names, and a timeline of
the faults and protocol events around the moment it went wrong. Works for any check: it reads
only a verdict's explanation, ops, time, the steps of a witness that explains itself (items
with a `why`, or a `cycle` of them) and, when the verdict names what it is about
(`anomalies["about"]`, e.g. {"txn": 17}), every protocol event announced about that."""
from __future__ import annotations

from faultlab.campaign.runner import RunResult
from faultlab.checkers.verdict import Verdict, witness_lines
from faultlab.histories import History, Op

WINDOW_US = 500_000  # faults and events this close to an anomaly are shown beside it
OPS_SHOWN = 10
EVENTS_SHOWN = 12
WITNESSES_SHOWN = 3


def _seconds(us: int) -> str:
    return f"{us / 1e6:8.3f}s"


def anomaly_time(result: RunResult) -> int | None:
    """When the first failing verdict says things went wrong (or its earliest op)."""
    times = []
    for v in result.failed:
        if v.time is not None:
            times.append(v.time)
        else:
            times.extend(result.history[i].time for i in v.ops
                         if i < len(result.history) and result.history[i].time is not None)
    return min(times, default=None)


def faults_near(log, at: int | None) -> list:
    """Fault records within WINDOW_US of `at`, plus faults already on by then."""
    if at is None:
        return list(log)
    lo, hi = at - WINDOW_US, at + WINDOW_US
    ends = {r.index: r.time for r in log if r.phase == "end"}
    return [r for r in log
            if lo <= r.time <= hi
            or (r.phase == "start" and r.time < lo and ends.get(r.index, hi) > lo)]


def describe_op(history: History, index: int) -> str:
    """One line for an op and its completion: what, by whom, where, when, and how it ended."""
    op = history[_invocation_index(history, index)]
    line = (f"op {op.index}: {op.f} {_short(op.value)} by process {op.process}"
            f"{f' on {op.node}' if op.node else ''}, invoked at {_seconds(op.time).strip()}")
    done = _completion(history, op)
    if done is None:
        return line + ", never completed"
    by = f" by {done.node}" if done.node else ""
    value = f" {_short(done.value)}" if done.type == "ok" and done.value != op.value else ""
    error = f" ({done.error})" if done.error else ""
    return line + f", {done.type}{value}{error}{by} at {_seconds(done.time).strip()}"


def account(result: RunResult) -> list[str]:
    """Lines describing why the run failed: each failing check with the ops it names, then
    a timeline of the faults and protocol events around the first anomaly."""
    lines = []
    for verdict in result.failed:
        lines.extend(_verdict_lines(verdict, result.history))
    at = anomaly_time(result)
    records = [(r.time, f"{r.phase:5}  #{r.index:<3} {r.text}"
                + (f" on {', '.join(r.nodes)}" if r.nodes else ""))
               for r in faults_near(result.fault_log, at)]
    about_verdict = next((v for v in result.failed
                          if isinstance(v.anomalies.get("about"), dict)), None)
    about = about_verdict.anomalies["about"] if about_verdict else None
    if about:  # the events of what the verdict is about, whenever they happened
        events = [(t, f"event  {event} at {node}" + (f" {_data(data)}" if data else ""))
                  for t, node, event, data in result.announcements
                  if all(data.get(k) == v for k, v in about.items())]
        if events:
            at = events[0][0]
            records = [(r.time, f"{r.phase:5}  #{r.index:<3} {r.text}"
                        + (f" on {', '.join(r.nodes)}" if r.nodes else ""))
                       for r in faults_near(result.fault_log, at)
                       if r.time <= events[-1][0] + WINDOW_US]
    else:
        events = [(t, f"event  {event} at {node}" + (f" {_data(data)}" if data else ""))
                  for t, node, event, data in result.announcements
                  if at is not None and abs(t - at) <= WINDOW_US][-EVENTS_SHOWN:]
    if records or events:
        subject = about_verdict.anomalies.get("subject", _data(about)) if about else ""
        what = f"the events of {subject} and the faults around them" if about else \
            f"faults and events within {WINDOW_US / 1e6:.1f}s of the first anomaly"
        lines.append(f"{what} (t={at / 1e6:.3f}s):" if at is not None else "fault timeline:")
        for t, text in sorted(records + events, key=lambda item: item[0]):
            lines.append(f"  {_seconds(t)}  {text}")
    return lines


def _verdict_lines(verdict: Verdict, history: History) -> list[str]:
    lines = [f"check {verdict.name!r} failed: {verdict.explanation}"]
    invocations = list(dict.fromkeys(_invocation_index(history, i) for i in verdict.ops
                                     if 0 <= i < len(history)))
    for i in invocations[:OPS_SHOWN]:
        lines.append("  " + describe_op(history, i))
    if len(invocations) > OPS_SHOWN:
        lines.append(f"  ... and {len(invocations) - OPS_SHOWN} more ops")
    if isinstance(verdict.witness, str):  # a textual witness (a traceback): its end
        lines.extend("  " + ln for ln in verdict.witness.rstrip().splitlines()[-6:])
    else:
        lines.extend("  " + ln for ln in witness_lines(verdict.witness, WITNESSES_SHOWN))
    return lines


def _short(value, limit: int = 60) -> str:
    """A value as it reads in a line: a long list keeps its first items and its length."""
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, (list, tuple)):
        head = repr(list(value[:8]))[:-1]
        return f"{head}, ...] ({len(value):,} items)"
    return text[:limit - 3] + "..."


def _data(data: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(data.items()))


def _invocation_index(history: History, index: int) -> int:
    """The index of the invocation an op completes (the op's own for an invocation)."""
    if history[index].type == "invoke":
        return index
    process = history[index].process
    for op in reversed(history.ops[:index]):
        if op.process == process:
            return op.index if op.type == "invoke" else index
    return index


def _completion(history: History, invoke: Op) -> Op | None:
    """The op that completed `invoke`, if any."""
    for op in history.ops[invoke.index + 1:]:
        if op.process == invoke.process:
            return op
    return None
