"""How a Dynamo run is judged once it is over, on the history and the nodes' final states.

Failures: an acknowledged add missing from the final audit (durability), an item a delete
superseded coming back (deletes-hold), replicas that still differ after the quiet period
(convergence), a stored sibling another one supersedes (sibling-causality), and in strict
mode with R + W > N a read missing an acknowledged add (quorum-reads). Measured, never
failed: stale reads and the paper's resurrections, Dynamo promising neither.
"""
from __future__ import annotations

import attrs

from faultlab.checkers.stale_reads import missed_writes
from faultlab.checkers.verdict import Verdict
from faultlab.histories import History
from faultlab.histories.record import RunRecord
from faultlab.protocols.common.vclock import Version, counter, descends, reconcile
from faultlab.protocols.dynamo.preference import Ring

MEMBERSHIP = ("join", "leave", "fail")


@attrs.frozen
class Cart:
    """The ops on one cart: adds (invocation, completion), removes and clears."""

    adds: list = attrs.field(factory=list)
    removes: dict = attrs.field(factory=dict)  # item -> [(invoke, completion)]
    clears: list = attrs.field(factory=list)
    gets: list = attrs.field(factory=list)


def carts(history: History) -> tuple[dict[int, Cart], dict[int, tuple]]:
    """The ops of each cart, and the last successful audit of each (invoke, completion)."""
    out: dict[int, Cart] = {}
    audits: dict[int, tuple] = {}
    for o in history.operations():
        op, done = o.invoke, o.complete
        key = op.value[0]
        cart = out.setdefault(key, Cart())
        pair = (op, done)
        if op.f == "add":
            cart.adds.append(pair)
        elif op.f == "remove":
            cart.removes.setdefault(op.value[1], []).append(pair)
        elif op.f == "clear":
            cart.clears.append(pair)
        elif op.f == "get":
            cart.gets.append(pair)
        elif op.f == "audit" and done is not None and done.type == "ok":
            audits[key] = pair
    return out, audits


def _ok(done) -> bool:
    return done is not None and done.type == "ok"


def _may_remove(cart: Cart, item, since: int, until: float) -> bool:
    """Whether a remove of `item` or a clear of the cart may have taken effect between
    `since` and `until` (invoked before `until`, not completed before `since`)."""
    for op, done in [*cart.removes.get(item, []), *cart.clears]:
        if op.time < until and (done is None or done.time >= since):
            return True
    return False


def _audited(audit) -> list[Version]:
    return [Version.from_data(d) for d in audit[1].value[1]]


def durability(record: RunRecord) -> Verdict:
    """Every acknowledged add is in the final audit of its cart, unless a remove of it or
    a clear of the cart may have taken it out."""
    by_cart, audits = carts(record.history)
    lost, acked = [], 0
    for key, cart in sorted(by_cart.items()):
        if not cart.adds:
            continue
        audit = audits.get(key)
        if audit is None:
            return Verdict("durability", False, f"no audit of cart {key} succeeded after "
                           "the heal", {"cart": key})
        items = set()
        for v in _audited(audit):
            items |= set(v.value or ())
        for op, done in cart.adds:
            if not _ok(done) or _may_remove(cart, op.value[1], op.time, float("inf")):
                continue
            acked += 1
            if op.value[1] not in items:
                lost.append((op, done))
    if lost:
        op, done = lost[0]
        share = len(lost) / acked
        lww = record.config["resolution"] == "lww"
        witness = [{"anomaly": "lost add", "why": _how_lost(o, d, audits[o.value[0]],
                                                          record.history, lww)}
                   for o, d in lost[:3]]
        return Verdict("durability", False,
                       f"{len(lost)} of {acked} acknowledged adds are missing from the final "
                       f"audit ({share:.0%}); first: op {op.index} added item {op.value[1]} "
                       f"to cart {op.value[0]}, acknowledged by {done.node} at "
                       f"t={done.time / 1e6:.3f}s",
                       {"lost": len(lost), "acknowledged": acked,
                        "measured": {"lost-adds": len(lost), "acknowledged-adds": acked}},
                       witness=witness, ops=tuple(o.index for o, _ in lost[:20]),
                       time=done.time)
    return Verdict("durability", True, f"all {acked} acknowledged adds survive",
                   {"measured": {"acknowledged-adds": acked}})


def _how_lost(op, done, audit, history: History, lww: bool) -> str:
    """The lost add's story: its version, the replicas that stored it, the final siblings,
    and the write that superseded it without the item, or that no copy was left."""
    item, written = op.value[1], done.value[2]
    dot = tuple(written["dot"])
    siblings = _audited(audit)
    shown = ", ".join(f"{v.dot[0]}:{v.dot[1]}={'tombstone' if v.value is None else len(v.value)}"
                      + ("" if v.value is None else " items") for v in siblings) or "none"
    story = (f"item {item} (op {op.index}) was version {dot[0]}:{dot[1]}, stored on "
             f"{', '.join(written['stored'])}; the final audit (op {audit[0].index}) read "
             f"{', '.join(audit[1].value[2])}: siblings {shown}")
    writers = {tuple(d.value[2]["dot"]): o for o, d in _ok_puts(history)}
    if lww and siblings:
        v = siblings[0]
        by = writers.get(v.dot)
        what = f"op {by.index}'s {by.f}" if by is not None else "a write"
        return (f"{story}; last-write-wins kept version {v.dot[0]}:{v.dot[1]} ({what}, "
                f"stamped {v.stamp / 1e6:.6f}s by its coordinator's clock), which lacks it")
    for v in siblings:
        if counter(v.clock, dot[0]) >= dot[1] or v.dot == dot:
            by = writers.get(v.dot)
            what = f"op {by.index}'s {by.f}" if by is not None else "a write back"
            return (f"{story}; version {v.dot[0]}:{v.dot[1]} ({what}) has seen "
                    f"{dot[0]}:{dot[1]} but not the item: it superseded it")
    return f"{story}; none has seen {dot[0]}:{dot[1]}: every copy of it was dropped"


def _ok_puts(history: History):
    for o in history.operations():
        if o.invoke.f in ("add", "remove", "clear") and _ok(o.complete):
            yield o.invoke, o.complete


def deletes_hold(record: RunRecord) -> Verdict:
    """No item comes back in a version that an acknowledged remove or clear superseded.
    (An item in a version concurrent with the delete is the paper's resurrection: counted,
    not failed.)"""
    if record.config["resolution"] == "lww":
        return Verdict("deletes-hold", True, "not judged under last-write-wins")
    dotted = record.config["clocks"] == "dotted"
    by_cart, audits = carts(record.history)
    resurrected = 0
    for key, audit in sorted(audits.items()):
        cart = by_cart[key]
        acked = {op.value[1]: done.time for op, done in cart.adds if _ok(done)}
        for v in _audited(audit):
            for item in sorted(v.value or ()):
                for op, done in [*cart.removes.get(item, []), *cart.clears]:
                    if not _ok(done):
                        continue
                    clock = tuple((a, n, 0) for a, n in done.value[2]["clock"])
                    covered = (counter(clock, v.dot[0]) >= v.dot[1] if dotted
                               else descends(clock, v.clock))
                    if covered:
                        return Verdict(
                            "deletes-hold", False,
                            f"item {item} of cart {key} came back in version "
                            f"{v.dot[0]}:{v.dot[1]}, which op {op.index}'s {op.f} "
                            f"(acknowledged by {done.node} at t={done.time / 1e6:.3f}s) "
                            "had superseded", {"cart": key, "item": item},
                            ops=(op.index, audit[0].index), time=done.time)
                    if op.time > acked.get(item, float("inf")):  # it had been there
                        resurrected += 1
                        break
    return Verdict("deletes-hold", True, f"{resurrected} removed items back in concurrent "
                   "versions (the paper's resurrection)",
                   {"measured": {"resurrected-items": resurrected}})


def final_ring(record: RunRecord) -> Ring:
    return Ring([n for n in record.members if record.states.get(n) is not None],
                record.config["tokens"])


def _stores(record: RunRecord) -> dict[str, dict]:
    out = {}
    for name, state in record.states.items():
        if state is not None:
            out[name] = dict(dict(state)["store"])
    return out


def convergence(record: RunRecord) -> Verdict:
    """After the heal and the quiet period, every owner of every key holds the same
    siblings, and no hint is left undelivered."""
    ring, stores = final_ring(record), _stores(record)
    n = record.config["n"]
    for name, state in sorted(record.states.items()):
        if state is not None and dict(state)["hints"]:
            owner, key = dict(state)["hints"][0]
            return Verdict("convergence", False, f"{name} still holds a hint for {owner} "
                           f"(cart {key}) at the end", {"node": name, "cart": key})
    keys = sorted({k for store in stores.values() for k in store})
    for key in keys:
        owners = ring.owners(key, n)
        copies = {o: _live(stores.get(o, {}).get(key, ())) for o in owners}
        if len(set(copies.values())) > 1:
            shown = "; ".join(f"{o} {_describe(c)}" for o, c in copies.items())
            return Verdict("convergence", False, f"the owners of cart {key} still differ "
                           f"at the end: {shown}", {"cart": key})
    return Verdict("convergence", True, f"the owners of all {len(keys)} carts agree")


def _live(siblings) -> tuple:
    """A key's siblings, or nothing when all are tombstones (a reaped key reads the same)."""
    return siblings if any(dict(v[1])["value"] is not None for v in siblings) else ()


def _describe(siblings) -> str:
    if not siblings:
        return "nothing"
    parts = []
    for v in siblings:
        fields = dict(v[1])
        dot, value = fields["dot"], fields["value"]
        parts.append(f"{dot[0]}:{dot[1]}={'tombstone' if value is None else list(value)}")
    return "[" + ", ".join(parts) + "]"


def sibling_causality(record: RunRecord) -> Verdict:
    """No node stores a sibling another of its siblings supersedes."""
    dotted = record.config["clocks"] == "dotted"
    for name, store in sorted(_stores(record).items()):
        for key, siblings in sorted(store.items()):
            versions = [_version(v) for v in siblings]
            kept = reconcile(versions, dotted)
            if record.config["resolution"] != "lww" and len(kept) != len(versions):
                gone = [v for v in versions if v not in kept][0]
                return Verdict("sibling-causality", False,
                               f"{name} keeps version {gone.dot[0]}:{gone.dot[1]} of cart "
                               f"{key} beside a sibling that supersedes it",
                               {"node": name, "cart": key})
    return Verdict("sibling-causality", True, "no stored sibling is superseded")


def _version(state) -> Version:
    """A Version back from its canonical state form."""
    fields = dict(state[1])
    value = fields["value"]
    return Version(tuple(fields["dot"]), tuple(tuple(e) for e in fields["clock"]),
                   frozenset(value) if isinstance(value, tuple) else value, fields["stamp"])


CALM_US = 1_000_000  # how long after a fault the cluster counts as disturbed


def write_availability(record: RunRecord) -> Verdict:
    """Sloppy quorum: every put issued while the cluster is whole — no fault active, none
    within the last second — is accepted. (Under faults, what a coordinator can reach is
    its own guess; this judges the case with no excuse.)"""
    if record.config["quorum"] != "sloppy":
        return Verdict("write-availability", True, "not promised by strict quorums")
    disturbed, started = [], {}
    for f in record.faults:
        if f["phase"] == "start":
            started[f["index"]] = f["time"]
        elif f["phase"] == "end" and f["index"] in started:
            disturbed.append((started.pop(f["index"]), f["time"] + CALM_US))
        elif f["phase"] == "heal":
            disturbed += [(t, f["time"] + CALM_US) for t in started.values()]
            started.clear()
    judged = 0
    for o in record.history.operations():
        op, done = o.invoke, o.complete
        if op.f not in ("add", "remove", "clear", "write"):
            continue
        end = done.time if done is not None else float("inf")
        if any(a <= end and op.time < b for a, b in disturbed):
            continue
        judged += 1
        if not _ok(done):
            how = "never completed" if done is None else f"ended {done.type} ({done.error})"
            return Verdict("write-availability", False,
                           f"op {op.index}: a {op.f} of key {op.value[0]} {how}, though no "
                           f"fault had been active for {CALM_US / 1e6:g}s",
                           {"key": op.value[0]}, ops=(op.index,), time=op.time)
    return Verdict("write-availability", True, f"all {judged} puts in calm periods accepted")


def stale_reads(record: RunRecord) -> Verdict:
    """The share of reads that missed a write acknowledged before they began, and of reads
    no linearizable store could return (stale, or several siblings): measured."""
    return _stale(record)[0]


def quorum_reads(record: RunRecord) -> Verdict:
    """In strict mode with R + W > N, and no membership change within a second, a read
    that missed a write acknowledged before it began is a failure."""
    return _stale(record)[1]


def _stale(record: RunRecord) -> tuple[Verdict, Verdict]:
    """The stale-read measure, and the strict-quorum verdict."""
    cfg = record.config
    promised = cfg["quorum"] == "strict" and cfg["r"] + cfg["w"] > cfg["n"]
    changes = sorted(f["time"] for f in record.faults
                     if f["phase"] == "start" and f["text"].split()[0] in MEMBERSHIP)
    reads = (missed_writes(record.history, seen=set) if cfg["workload"] == "register"
             else _cart_reads(record.history))
    stale = [(op, done, missed) for op, done, missed in reads if missed is not None]
    # a register read returning several siblings is no linearizable register's answer (a
    # cart's get returns many items from one version: only staleness counts there)
    register = cfg["workload"] == "register"
    several = sum(1 for _, done, _ in reads if register and len(done.value[1]) > 1)
    odd = len({op.index for op, done, missed in reads
               if missed is not None or register and len(done.value[1]) > 1})
    failure = None
    for op, done, missed in stale:
        calm = not any(missed.time - 1_000_000 <= t <= done.time for t in changes)
        if promised and calm:
            failure = Verdict(
                "quorum-reads", False,
                f"op {op.index}: the {op.f} of key {op.value[0]} missed {missed.value[1]}, "
                f"whose {missed.f} (op {missed.index}) was acknowledged before it began, "
                "though R + W > N in strict mode", {"key": op.value[0]},
                ops=(missed.index, op.index), time=done.time)
            break
    n = len(reads)
    measured = Verdict("stale-reads", True,
                       f"{_share(len(stale), n)} of {n} reads stale; {_share(odd, n)} not "
                       f"linearizable (stale, or {several} with several siblings)",
                       {"measured": {"reads-judged": n, "stale-reads": len(stale),
                                     "reads-not-linearizable": odd}})
    quorum = failure or Verdict("quorum-reads", True, "every read saw the writes acknowledged "
                                "before it" if promised else "not promised by this "
                                "configuration")
    return measured, quorum


def _cart_reads(history: History) -> list[tuple]:
    """Every ok get, with an add acknowledged before it began that it missed (and no remove
    or clear may have taken out), or None."""
    out = []
    for _, cart in sorted(carts(history)[0].items()):
        acked = [(done.time, op) for op, done in cart.adds if _ok(done)]
        for op, done in cart.gets:
            if _ok(done):
                seen = set(done.value[1])
                missed = next((a for t, a in acked if t < op.time and a.value[1] not in seen
                               and not _may_remove(cart, a.value[1], a.time, done.time)),
                              None)
                out.append((op, done, missed))
    return out


def _share(k: int, n: int) -> str:
    return f"{k / n:.1%}" if n else "-"
