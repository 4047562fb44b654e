"""Readable accounts of a run: what failed, which ops were involved, and the faults around."""
from __future__ import annotations

from faultlab.campaign.runner import RunResult
from faultlab.nemesis.inject import FaultRecord

WINDOW_US = 500_000  # faults this close to an anomaly are shown beside it


def _seconds(us: int) -> str:
    return f"{us / 1e6:8.3f}s"


def anomaly_times(result: RunResult) -> list[int]:
    """Times of the ops a failing check points at (e.g. the adds of lost elements)."""
    times = []
    for verdict in result.failed:
        for items in verdict.anomalies.values():
            if isinstance(items, list):
                times.extend(i["add_time"] for i in items
                             if isinstance(i, dict) and i.get("add_time") is not None)
        if isinstance(verdict.anomalies.get("time"), int):
            times.append(verdict.anomalies["time"])
    return sorted(times)


def faults_near(log: tuple[FaultRecord, ...], times: list[int]) -> list[FaultRecord]:
    """Fault records within WINDOW_US of the anomalies, plus faults already on by then."""
    if not times:
        return list(log)
    lo, hi = times[0] - WINDOW_US, times[-1] + WINDOW_US
    ends = {r.index: r.time for r in log if r.phase == "end"}
    return [r for r in log
            if lo <= r.time <= hi
            or (r.phase == "start" and r.time < lo and ends.get(r.index, hi) > lo)]


def account(result: RunResult) -> list[str]:
    """Lines describing why the run failed: each failing check, then a fault timeline."""
    lines = []
    for verdict in result.failed:
        lines.append(f"check {verdict.name!r} failed: {verdict.explanation}")
        lost = verdict.anomalies.get("lost")
        if isinstance(lost, list):
            ops = result.history
            for item in lost[:10]:
                done = _completion(ops, item["add_index"])
                by = f", acknowledged by {done.node} at {_seconds(done.time).strip()}" if done \
                    else ""
                lines.append(f"  lost element {item['element']}: add op {item['add_index']} "
                             f"invoked at {_seconds(item['add_time']).strip()}{by}")
            if len(lost) > 10:
                lines.append(f"  ... and {len(lost) - 10} more lost elements")
    times = anomaly_times(result)[:1]  # the first anomaly is where things went wrong
    records = faults_near(result.fault_log, times)
    if records:
        lines.append(f"faults within {WINDOW_US / 1e6:.1f}s of the first anomaly "
                     f"(t={times[0] / 1e6:.3f}s):" if times else "fault timeline:")
        for r in records:
            nodes = f" on {', '.join(r.nodes)}" if r.nodes else ""
            lines.append(f"  {_seconds(r.time)}  {r.phase:5}  #{r.index:<3} {r.text}{nodes}")
    return lines


def _completion(history, invoke_index: int):
    """The op that completed the invocation at `invoke_index`, if any."""
    process = history[invoke_index].process
    for op in history.ops[invoke_index + 1:]:
        if op.process == process:
            return op
    return None
