"""Availability on each side of a partition, read from a history whose ops name the node
their client is attached to (sided clients): what the CAP report measures beside the
consistency checks. Plain data in and out; no simulator.

A side's ops are those its clients invoked; each counts in the phase it was invoked in
(before the cut, during it, after the heal) as ok, fail (definitely did not happen) or
unknown (info, or never answered). "Settled" availability is the share of the ops invoked
in the second half of the partition (once elections and failure detectors have had their
time) that completed ok before the heal: an op blocked until the heal was not available.
"""
from __future__ import annotations

from collections.abc import Mapping

from faultlab.histories import FAIL, OK, History

PHASES = ("before", "during", "after")
OUTCOMES = ("ok", "fail", "unknown")
BUCKET_US = 100_000  # throughput is counted per tenth of a second


def side_measures(history: History, sides: Mapping[str, tuple[str, ...]], cut_at: int,
                  heal_at: int, end: int) -> dict[str, dict]:
    """Per side: its nodes, per phase the counts of each outcome and the latencies (µs) of
    the ok ops, the settled counts, the time from the heal to the first ok op invoked after
    it (None: none), and ok completions per `BUCKET_US` from 0 to `end`."""
    side_of = {n: label for label, nodes in sides.items() for n in nodes}
    settle_at = cut_at + (heal_at - cut_at) // 2
    out = {label: {"nodes": list(nodes),
                   "phases": {p: {**dict.fromkeys(OUTCOMES, 0), "latency_us": []}
                              for p in PHASES},
                   "settled": dict.fromkeys(OUTCOMES, 0),
                   "recovery_us": None,
                   "throughput": [0] * (max(end, 1) // BUCKET_US + 1)}
           for label, nodes in sides.items()}
    for o in history.operations():
        op, done = o.invoke, o.complete
        label = side_of.get(op.node)
        if label is None or op.time >= end:
            continue  # a client of no side, or a final op after the recovery
        side = out[label]
        outcome = ("ok" if done.type == OK else "fail" if done.type == FAIL
                   else "unknown") if done is not None else "unknown"
        phase = side["phases"][PHASES[(op.time >= cut_at) + (op.time >= heal_at)]]
        phase[outcome] += 1
        if settle_at <= op.time < heal_at:
            late = outcome == "ok" and done.time >= heal_at
            side["settled"]["unknown" if late else outcome] += 1
        if outcome != "ok":
            continue
        phase["latency_us"].append(done.time - op.time)
        if done.time < end:
            side["throughput"][done.time // BUCKET_US] += 1
        if op.time >= heal_at:
            late = done.time - heal_at
            if side["recovery_us"] is None or late < side["recovery_us"]:
                side["recovery_us"] = late
    return out


def open_waits(announcements, opens: str, closes: str, key: str, since: int, until: int,
               end: int) -> dict[str, list[int]]:
    """Per node, how long each of its waits open from `since` to `until` lasted (µs, until
    it closed or `end`): a wait opens at the node's `opens` announcement and closes at the
    `closes` one with the same `key` field. Announcements are (time, node, event, data)."""
    started: dict[tuple, int] = {}
    spans = []
    for time, node, event, data in announcements:
        if event == opens:
            started[(node, data.get(key))] = time
        elif event == closes:
            t0 = started.pop((node, data.get(key)), None)
            if t0 is not None:
                spans.append((node, t0, time))
    spans += [(node, t0, end) for (node, _), t0 in started.items()]
    out: dict[str, list[int]] = {}
    for node, t0, t1 in spans:
        if t0 <= since and t1 >= until:
            out.setdefault(node, []).append(t1 - t0)
    return out


def share(counts: Mapping[str, int], outcome: str = "ok") -> float | None:
    """The share of ops with `outcome` (None when there were none)."""
    n = sum(counts[o] for o in OUTCOMES)
    return counts[outcome] / n if n else None


def percentile(values: list[int], q: float) -> int | None:
    """The q-th percentile (0-100) by nearest rank, of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]
