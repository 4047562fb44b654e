"""Lost acknowledged appends: every append a client saw acknowledged must be in the last
read of its key after the heal, unless a later overwrite may have removed it.

The shapes default to a KV store of strings built by appending comma-terminated tokens
(`append [k "17,"]`, `get [k "3,17,"]`, overwritten by `put` and `cas`), and can be given
for other stores (a shopping cart of items, a replicated log).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from faultlab.checkers.verdict import UNKNOWN, Verdict
from faultlab.histories import FAIL, INFO, INVOKE, OK, History

NAME = "no-lost-writes"
_SHOWN = 10


def _tokens(value) -> set:
    return set(value.split(",")) if value else set()


def check_lost_appends(history: History, heal_at: int, *, append: str = "append",
                       read: str = "get", overwrites: Iterable[str] = ("put", "cas"),
                       elements: Callable[[object], set] = _tokens,
                       element: Callable[[object], object] = lambda v: str(v).rstrip(","),
                       name: str = NAME) -> Verdict:
    """`append` ops have value [key, x]; `read` ops complete with [key, contents], whose
    `elements` must include `element(x)` for each acknowledged append invoked before the
    read, unless an op in `overwrites` on that key may have taken effect after the append
    was invoked."""
    overwrites = tuple(overwrites)
    invokes: dict = {}
    pairs = []  # (invoke, completion or None)
    for op in history:
        if op.type == INVOKE:
            invokes[op.process] = op
            continue
        inv = invokes.pop(op.process, None)
        if inv is not None:
            pairs.append((inv, op))
    pairs.extend((inv, None) for inv in invokes.values())
    final: dict = {}  # key -> (read invoke, read completion)
    for inv, comp in pairs:
        if inv.f == read and comp is not None and comp.type == OK and inv.time >= heal_at:
            key = comp.value[0]
            if key not in final or final[key][0].time < inv.time:
                final[key] = (inv, comp)
    if not final:
        return Verdict(name, UNKNOWN, "no read succeeded after the heal", time=heal_at)
    # key -> when its last overwrite that may have happened completed (inf: never known)
    last_overwrite: dict = {}
    for inv, comp in pairs:
        if inv.f in overwrites and (comp is None or comp.type != FAIL):
            t = float("inf") if comp is None or comp.type == INFO else comp.time
            key = inv.value[0]
            last_overwrite[key] = max(t, last_overwrite.get(key, -1))
    lost, acked = [], 0
    for inv, comp in pairs:
        if inv.f != append or comp is None or comp.type != OK:
            continue
        key = inv.value[0]
        if key not in final:
            continue
        acked += 1
        read_inv, read_comp = final[key]
        if comp.time > read_inv.time or element(inv.value[1]) in elements(read_comp.value[1]):
            continue
        if last_overwrite.get(key, -1) < inv.time:
            lost.append((inv, comp, read_inv, read_comp))
    if not lost:
        return Verdict(name, True, f"all {acked} acknowledged appends are in the final reads")
    inv, comp, read_inv, read_comp = lost[0]
    items = [{"key": i.value[0], "value": i.value[1], "invoke_index": i.index,
              "ok_index": c.index, "final_read_index": r.index} for i, c, r, _ in lost]
    # the final reads first, then the appends they lack
    ops = [*dict.fromkeys(it["final_read_index"] for it in items),
           *(it["invoke_index"] for it in items[:_SHOWN])]
    return Verdict(name, False,
                   f"{len(lost)} acknowledged append(s) missing from the final reads, e.g. "
                   f"{append} {inv.value[1]!r} to key {inv.value[0]!r} (acknowledged by op "
                   f"{comp.index}) is not in the read of op {read_comp.index}",
                   {"lost": items}, witness=items[:_SHOWN], ops=ops, time=inv.time)
