"""Liveness after heal: once every fault has ended, client operations succeed again, for
every client thread and every key, not just somewhere."""
from __future__ import annotations

from collections.abc import Callable, Hashable

from faultlab.checkers.verdict import Verdict
from faultlab.histories import INVOKE, OK, History, Op

_SHOWN = 5


def check_liveness(history: History, healed_at: int, within_us: int, *,
                   threads: int | None = None,
                   key: Callable[[Op], Hashable] | None = None) -> Verdict:
    """Valid if, after the heal at `healed_at`, every client thread that invokes an op in the
    first half of the bound completes some op ok by `healed_at + within_us`; with `key`, the
    same holds for every key. Processes map to threads Jepsen's way (process mod `threads`);
    without `threads` each process is its own thread."""
    due = healed_at + within_us
    start_by = healed_at + within_us // 2
    invoked: dict[object, Op] = {}
    asked: dict[tuple[str, Hashable], list[int]] = {}  # ("thread"|"key", id) -> invoke indices
    served: set[tuple[str, Hashable]] = set()
    first_ok = None
    for op in history:
        if op.type == INVOKE:
            invoked[op.process] = op
            if op.time is not None and healed_at <= op.time <= start_by:
                for who in _whom(op, threads, key):
                    asked.setdefault(who, []).append(op.index)
            continue
        inv = invoked.pop(op.process, None)
        if op.type != OK or inv is None or op.time is None or (inv.time or 0) < healed_at:
            continue
        if op.time <= due:
            served.update(_whom(inv, threads, key))
        if first_ok is None:
            first_ok = op
    if first_ok is None:
        return Verdict("liveness", False, f"no op invoked after the heal at "
                       f"t={healed_at / 1e6:.2f}s succeeded", time=healed_at)
    late = (first_ok.time - healed_at) / 1e6
    stuck = sorted((w for w in asked if w not in served), key=repr)
    if first_ok.time > due:
        return Verdict("liveness", False, f"the first success after the heal took {late:.2f}s, "
                       f"over the {within_us / 1e6:.2f}s bound", {"first_ok_after_us":
                       first_ok.time - healed_at}, ops=(first_ok.index,), time=healed_at)
    if stuck:
        names = ", ".join(f"{kind} {ident}" for kind, ident in stuck[:_SHOWN])
        more = f" and {len(stuck) - _SHOWN} more" if len(stuck) > _SHOWN else ""
        ops = [i for w in stuck[:_SHOWN] for i in asked[w][:2]]
        return Verdict("liveness", False, f"{names}{more} saw no op succeed within "
                       f"{within_us / 1e6:.2f}s of the heal (others did)",
                       {"stuck": [[k, repr(i)] for k, i in stuck]}, ops=ops, time=healed_at)
    threads_seen = sum(1 for kind, _ in asked if kind == "thread")
    keys_seen = len(asked) - threads_seen
    progressed = f"{threads_seen} client thread(s)" + (f" and {keys_seen} key(s)"
                                                       if keys_seen else "")
    return Verdict("liveness", True, f"first op after heal succeeded {late * 1e3:.1f} ms after "
                   f"heal; {progressed} all progressed")


def _whom(op: Op, threads: int | None, key) -> list[tuple[str, Hashable]]:
    thread = op.process % threads if threads and isinstance(op.process, int) else op.process
    out = [("thread", thread)]
    if key is not None:
        k = key(op)
        if k is not None:
            out.append(("key", k))
    return out
