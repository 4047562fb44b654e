"""A participant's lock table for strict two-phase locking: shared locks for reads,
exclusive ones for writes, held until the transaction's outcome is known.

A transaction that cannot have a lock waits on the key; when a holder lets go, the waiters
are woken in arrival order and try again. The participant gives up on a waiting transaction
after its lock wait timeout, which also breaks deadlocks.
"""
from __future__ import annotations

SHARED, EXCLUSIVE = "S", "X"


class LockTable:
    def __init__(self) -> None:
        self.holders: dict = {}  # key -> {txn: mode}
        self.waiting: dict = {}  # key -> [txn, ...] in arrival order

    def acquire(self, key, txn, mode: str) -> bool:
        """Take (or upgrade to) `mode` on `key` for `txn` if no other holder stands in the
        way; otherwise note that it waits and return False."""
        held = self.holders.setdefault(key, {})
        mine = held.get(txn)
        if mine in (EXCLUSIVE, mode):
            return True
        others = [m for t, m in held.items() if t != txn]
        if not others or (mode == SHARED and EXCLUSIVE not in others):
            held[txn] = mode
            waiting = self.waiting.get(key)
            if waiting and txn in waiting:
                waiting.remove(txn)
            return True
        waiting = self.waiting.setdefault(key, [])
        if txn not in waiting:
            waiting.append(txn)
        return False

    def release(self, txn, shared_only: bool = False) -> list:
        """Release `txn`'s locks (only its shared ones with `shared_only`) and, unless
        `shared_only`, its waits; the transactions waiting on the keys freed, in order."""
        woken: list = []
        for key in list(self.holders):
            held = self.holders[key]
            if txn in held and (not shared_only or held[txn] == SHARED):
                del held[txn]
                woken.extend(t for t in self.waiting.get(key, ()) if t not in woken)
                if not held:
                    del self.holders[key]
        if not shared_only:
            for key in list(self.waiting):
                if txn in self.waiting[key]:
                    self.waiting[key].remove(txn)
                if not self.waiting[key]:
                    del self.waiting[key]
        return [t for t in woken if t != txn]

    def held_by(self, txn) -> dict:
        """{key: mode} for the locks `txn` holds."""
        return {k: held[txn] for k, held in self.holders.items() if txn in held}
