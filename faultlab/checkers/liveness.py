"""Liveness after heal: once every fault has ended, client operations must succeed again."""
from __future__ import annotations

from faultlab.checkers.verdict import Verdict
from faultlab.histories import INVOKE, OK, History


def check_liveness(history: History, healed_at: int, within_us: int) -> Verdict:
    """Valid if some operation invoked at or after `healed_at` completed ok within
    `within_us` of the heal."""
    invoked: dict = {}
    first_ok = None
    after = 0
    for op in history:
        if op.time is None or op.time < healed_at:
            if op.type == INVOKE:
                invoked.pop(op.process, None)
            continue
        if op.type == INVOKE:
            invoked[op.process] = op
            after += 1
        elif op.type == OK and op.process in invoked:
            first_ok = op
            break
    if first_ok is not None and first_ok.time - healed_at <= within_us:
        return Verdict("liveness", True,
                       f"first op after heal succeeded {(first_ok.time - healed_at) / 1e3:.1f} "
                       "ms after heal")
    if first_ok is not None:
        late = (first_ok.time - healed_at) / 1e6
        return Verdict("liveness", False,
                       f"first success after heal took {late:.2f}s, over the "
                       f"{within_us / 1e6:.2f}s bound", {"first_ok_after_us":
                                                         first_ok.time - healed_at})
    return Verdict("liveness", False,
                   f"none of {after} ops invoked after the heal at t={healed_at / 1e6:.2f}s "
                   "succeeded", {"ops_after_heal": after})
