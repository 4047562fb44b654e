"""What list-append histories reveal (Elle's preferred workload): appends of values unique per
key, and reads that return a key's whole list.

Every read of a key returns a prefix of the key's one true order of appends, so the longest
read gives that order, and every read places the reader exactly: after the appends it saw,
before the next one. From that come the dependency edges (ww between consecutive appends,
wr from the last append a read saw, rw to the first it did not) and the anomalies a single
read shows: a read of an aborted append (G1a), of an append its writer then followed with
another to the same key (G1b), of a value nobody appended (garbage), of an element twice
(duplicate-elements), of its own later append (future-read), two reads no single order can
explain (incompatible-order), a read inside a transaction that disagrees with what it
already read and appended (internal), and an acknowledged append missing from a read that
began after it completed (lost-append).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from faultlab.checkers.transactions.graph import RW, WR, WW, Dependencies, Reason
from faultlab.checkers.transactions.txns import APPEND, READ, Txn
from faultlab.histories.op import FAIL, INFO, OK

MICRO_OPS = (APPEND, READ)
SHOWN = 8  # elements of a list shown in a reason
# direct edges from a transaction that is itself among a key's unseen appends to the others
# (a tail only a pathological history makes long)
UNSEEN_LINKS = 64


def analyze(txns: list[Txn]) -> tuple[Dependencies, list[dict], set[str]]:
    """The dependency edges, the anomalies single reads show, and the transactions that
    took effect (the graph's nodes)."""
    anomalies: list[dict] = []
    writer: dict[tuple, Txn] = {}  # (key, value) -> the transaction that appended it
    for t in txns:
        for k, values in t.appends.items():
            for v in values:
                _hashable(v, t)
                if (k, v) in writer:
                    raise t.error(f"{t.name} and {writer[(k, v)].name} both append {v!r} to "
                                  f"key {k!r}; list-append needs values unique per key")
                writer[(k, v)] = t
    reads = _external_reads(txns, writer, anomalies)
    orders = _version_orders(reads, anomalies)
    effective = {t.name for t in txns if t.type == OK}
    for k, order in orders.items():
        for v in order:
            w = writer.get((k, v))
            if w is not None and w.type == INFO:
                effective.add(w.name)  # an info append someone read took effect
    deps = Dependencies()
    for k, order in orders.items():
        names = [writer[(k, v)].name if (k, v) in writer else None for v in order]
        names = [n if n in effective else None for n in names]
        for i in range(len(order) - 1):
            a, b = names[i], names[i + 1]
            if a and b and a != b:
                deps.add(a, b, WW, Reason(
                    "{} appended {!r} to key {!r} after {} appended {!r}, as the longest "
                    "read {} shows".format, b, order[i + 1], k, a, order[i],
                    _Listed(order, i + 2)))
    unseen = _unseen_appends(txns, orders, effective)
    linkers = {k: _Later(deps, k, later) for k, later in unseen.items()}
    for k, later in linkers.items():
        order = orders.get(k, [])
        w = writer.get((k, order[-1])) if order else None
        if w is not None and w.name in effective:
            later.after(w.name, WW, Reason(
                "{{later}}, which no read shows, came after every append a read shows, the "
                "last {}'s {!r} to key {!r}".format, w.name, order[-1], k))
    for t, k, seen in reads:
        _wr_rw(deps, t, k, seen, orders.get(k, []), writer)
        if k in linkers:
            linkers[k].after(t.name, RW, Reason(
                "{} read key {!r} as {}, without {{later}}, which no read shows, so it came "
                "later".format, t.name, k, _Listed(seen)))
    _lost_appends(txns, orders, reads, anomalies)
    return deps, anomalies, effective


class _Later:
    """The appends to one key that no read shows, which came after every transaction that
    read the key, in no known order among themselves. Rather than an edge from each such
    reader to each of them, readers point at one hub node (a name starting with "~") that
    points at all of them; a cycle through the hub is written out as the direct step. A
    transaction that is itself one of them gets direct edges, since through the hub it
    would reach itself."""

    def __init__(self, deps: Dependencies, key, later: list[tuple[str, Any]]):
        self.deps, self.later = deps, later
        self.hub = f"~{key!r}"
        self.members = {name for name, _ in later}
        for name, v in later:
            deps.add(self.hub, name, WW, Reason("{}'s append of {!r}".format, name, v))

    def after(self, a: str, kind: str, why: Reason) -> None:
        """`a` precedes every append in this set by an edge of `kind`; `why` explains it,
        saying {later} where the later append goes."""
        if a not in self.members:
            self.deps.add(a, self.hub, kind, why)
            return
        others = [(n, v) for n, v in self.later if n != a][:UNSEEN_LINKS]
        for name, v in others:
            self.deps.add(a, name, kind, Reason(_reaching, why, name, v))


def _hashable(v, t: Txn) -> None:
    try:
        hash(v)
    except TypeError:
        raise t.error(f"appended value {v!r} is not a scalar") from None


def _external_reads(txns, writer, anomalies) -> list[tuple[Txn, Any, list]]:
    """Each committed transaction's reads as (txn, key, what it saw of others' appends),
    checking each read against the transaction's own earlier reads and appends (internal),
    and for duplicates, aborted, intermediate and unknown values."""
    out = []
    good: dict = defaultdict(set)  # key -> values already found appended by someone fine
    for t in txns:
        if t.type != OK:
            continue
        known: dict = {}   # key -> the list this txn must see now, once it has read it
        mine: dict = {}    # key -> its own appends so far
        for f, k, v in t.mops:
            if f == APPEND:
                mine.setdefault(k, []).append(v)
                if k in known:
                    known[k] = known[k] + [v]
                continue
            if v is None:
                v = []  # Jepsen reads a key nobody appended to as nil
            elif type(v) is not list:
                raise t.error(f"{t.name} reads key {k!r} as {v!r}; a list-append read "
                              "returns a list (is this an rw-register history?)",
                              completion=True)
            own = mine.get(k)
            expected = known.get(k)
            known[k] = v
            why = None
            if expected is not None and v != expected:
                why = f"{t.name} read key {k!r} as {_show(v)} where it had seen and " \
                      f"appended {_show(expected)}"
            elif own and v[-len(own):] != own:
                why = f"{t.name} appended {_show(own)} to key {k!r} and then read {_show(v)}"
            if why:
                anomalies.append({"anomaly": "internal", "txn": t.name, "key": k,
                                  "read": v, "why": why})
                continue
            if own:
                v = v[:-len(own)]  # its own appends are no news about the others
            try:
                distinct = set(v)
            except TypeError:  # elements that are lists
                v = [_freeze(x) for x in v]
                distinct = set(v)
            if len(distinct) < len(v):
                dup = next(x for x in v if v.count(x) > 1)
                anomalies.append({"anomaly": "duplicate-elements", "txn": t.name, "key": k,
                                  "read": v, "why": f"{t.name} read {dup!r} twice in key "
                                                    f"{k!r}: {_show(v)}"})
                continue
            fine = good[k]
            if not distinct <= fine:
                for x in v:  # in read order, not hash order: the same in every process
                    if x not in fine:
                        _check_element(t, k, x, writer, fine, anomalies)
            if k in t.appends:
                for x in (x for x in v if x in t.appends[k]):
                    anomalies.append({"anomaly": "future-read", "txn": t.name, "key": k,
                                      "value": x, "why": f"{t.name} read {x!r} in key {k!r} "
                                                         "before it appended it"})
            if v:
                w = writer.get((k, v[-1]))
                if w is not None and w is not t and w.type != FAIL:
                    later = w.appends[k]
                    if later[-1] != v[-1]:
                        anomalies.append({"anomaly": "G1b", "txn": t.name, "key": k,
                                          "writer": w.name, "why":
                                          f"{t.name} read key {k!r} ending in {v[-1]!r}, "
                                          f"an intermediate append of {w.name}, which "
                                          f"went on to append {later[-1]!r}"})
            out.append((t, k, v))
    return out


def _check_element(t: Txn, k, x, writer, fine: set, anomalies: list) -> None:
    """A value a read shows must have been appended by a transaction that did not fail
    (one that appended it later in the same transaction is a future read, found apart)."""
    w = writer.get((k, x))
    if w is None:
        anomalies.append({"anomaly": "garbage", "txn": t.name, "key": k, "value": x,
                          "why": f"{t.name} read {x!r} in key {k!r}, which nobody appended"})
    elif w.type == FAIL:
        anomalies.append({"anomaly": "G1a", "txn": t.name, "key": k, "value": x,
                          "writer": w.name, "why": f"{t.name} read {x!r} in key {k!r}, "
                                                   f"appended by {w.name}, which "
                                                      "failed"})
    else:
        fine.add(x)


def _version_orders(reads, anomalies) -> dict[Any, list]:
    """Per key, the order of appends the reads show: the longest read, once every read is
    checked to be a prefix of it."""
    longest: dict[Any, tuple[Txn, list]] = {}
    for t, k, seen in reads:
        if k not in longest or len(seen) > len(longest[k][1]):
            longest[k] = (t, seen)
    orders = {k: order for k, (_, order) in longest.items()}
    for t, k, seen in reads:
        top, order = longest[k]
        if order[:len(seen)] != seen:
            anomalies.append({"anomaly": "incompatible-order", "key": k, "txns":
                              [t.name, top.name], "why":
                              f"{t.name} read key {k!r} as {_show(seen)} and {top.name} as "
                              f"{_show(order)}: neither is a prefix of the other"})
    return orders


def _unseen_appends(txns, orders, effective) -> dict:
    """Per key, the appends of transactions that took effect that no read shows, as
    (txn, value): each came after everything any read shows (reads return prefixes)."""
    shown = {k: set(order) for k, order in orders.items()}
    out: dict = {}
    for t in txns:
        if t.name in effective:
            for k, values in t.appends.items():
                seen = shown.get(k, ())
                out.setdefault(k, []).extend((t.name, v) for v in values if v not in seen)
    return {k: later for k, later in out.items() if later}


def _wr_rw(deps, t: Txn, k, seen: list, order: list, writer) -> None:
    if order[:len(seen)] != seen:
        return  # incompatible with the order: already reported
    if seen:
        w = writer.get((k, seen[-1]))
        if w is not None and w.type != FAIL:
            deps.add(w.name, t.name, WR, Reason(
                "{} read key {!r} as {}, which ends with {}'s append of {!r}".format,
                t.name, k, _Listed(seen), w.name, seen[-1]))
    if len(order) > len(seen):
        nxt = order[len(seen)]
        w = writer.get((k, nxt))
        if w is not None and w.type != FAIL:
            deps.add(t.name, w.name, RW, Reason(
                "{} read key {!r} as {}, before {} appended {!r}".format, t.name, k,
                _Listed(seen), w.name, nxt))


def _lost_appends(txns, orders, reads, anomalies) -> None:
    """An acknowledged append that no read of its key ever showed, though a read of the key
    began after the append's transaction completed. (One that some read showed but a later
    one did not is a realtime cycle, found with the others.)"""
    in_order = {k: set(order) for k, order in orders.items()}
    last_read: dict = {}
    for t, k, _ in reads:
        if t.start > last_read.get(k, (-1, None))[0]:
            last_read[k] = (t.start, t)
    for w in txns:
        if w.type != OK or w.end is None:
            continue
        for f, k, v in w.mops:
            if f != APPEND or k not in last_read or _freeze(v) in in_order[k]:
                continue
            start, reader = last_read[k]
            if start > w.end:
                anomalies.append({"anomaly": "lost-append", "txn": reader.name, "key": k,
                                  "writer": w.name, "value": v, "why":
                                  f"{w.name} appended {v!r} to key {k!r} and completed "
                                  f"before {reader.name} began, yet no read of the key "
                                  "ever showed it"})


def _freeze(x):
    return tuple(_freeze(v) for v in x) if isinstance(x, list) else x


def _show(values) -> str:
    """A list as EDN shows it, its last SHOWN elements (what a reason points at)."""
    values = list(values)
    more = f"...+{len(values) - SHOWN} " if len(values) > SHOWN else ""
    return f"[{more}{' '.join(map(repr, values[-SHOWN:]))}]"


class _Listed:
    """The first `n` elements of a list, shown only when a reason is written."""

    __slots__ = ("values", "n")

    def __init__(self, values: list, n: int | None = None):
        self.values, self.n = values, n

    def __str__(self) -> str:
        return _show(self.values if self.n is None else self.values[:self.n])


def _reaching(why: Reason, name: str, value) -> str:
    return str(why).replace("{later}", f"{name}'s append of {value!r}")
