"""Transactions as the checker sees them: each `:txn` op of a history paired with its
completion, its micro-ops read and validated.

A transaction's value is a list of micro-ops, Jepsen's shape: `[:append k v]`, `[:r k v]`,
`[:w k v]`. An ok transaction's reads come from its completion; an info transaction may have
committed or not, and its reads are unknown; a failed one did not happen.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from faultlab.histories import edn
from faultlab.histories.errors import HistoryError
from faultlab.histories.op import INFO, INVOKE, OK, Op

APPEND, READ, WRITE = "append", "r", "w"
_NAMES = {"append": APPEND, "r": READ, "read": READ, "w": WRITE, "write": WRITE}


class TxnError(HistoryError):
    """Bad transactional input at one op. `position` is the op's place in the history, so
    whoever read the file can name its line."""

    def __init__(self, problem: str, op: Op, position: int):
        super().__init__(f"op {op.index}: {problem}")
        self.problem, self.position = problem, position


@attrs.frozen(slots=True)
class Txn:
    """One transaction: `name` is T<index of its invocation>, `mops` its micro-ops as
    (f, key, value) with read values as completed (None for an info transaction's reads),
    `start`/`end` its positions in the history (end None: never completed)."""

    name: str
    type: str
    process: Any
    mops: tuple
    start: int
    end: int | None
    invoke: Op
    appends: dict = attrs.field(factory=dict, eq=False)  # key -> the values it appends

    def error(self, problem: str, *, completion: bool = False) -> TxnError:
        """Bad input in this transaction, placed at its invocation or its completion."""
        return TxnError(problem, self.invoke, self.end if completion and self.end is not None
                        else self.start)


def _key(k: Any) -> Any:
    return tuple(_key(x) for x in k) if isinstance(k, list) else k


def read_txns(history: Iterable[Op], allowed: tuple[str, ...]) -> list[Txn]:
    """The transactions of a history, in invocation order. `allowed` are the micro-op kinds
    the workload uses; anything else is bad input naming the op."""
    txns: list[Txn] = []
    open_ops: dict = {}
    for pos, op in enumerate(history):
        if op.type == INVOKE:
            open_ops[op.process] = (pos, op)
            continue
        start, inv = open_ops.pop(op.process, (None, None))
        if inv is None:
            continue
        txns.append(_txn(inv, op, start, pos, allowed))
    for start, inv in open_ops.values():
        txns.append(_txn(inv, None, start, None, allowed))
    txns.sort(key=lambda t: t.start)
    return txns


def _txn(inv: Op, done: Op | None, start: int, end: int | None, allowed) -> Txn:
    type = INFO if done is None else done.type
    value = done.value if type == OK else inv.value
    planned = _mops(inv.value, inv, start, allowed)
    mops = _mops(value, done, end, allowed) if type == OK else planned
    if type == OK:
        if [(f, k) for f, k, _ in planned] != [(f, k) for f, k, _ in mops]:
            raise TxnError(f"the completion's micro-ops {_show(done.value)} differ from the "
                           f"invocation's {_show(inv.value)}", done, end)
    else:  # a read whose result nobody saw
        mops = tuple((f, k, None if f == READ else v) for f, k, v in mops)
    appends: dict = {}
    for f, k, v in mops:
        if f == APPEND:
            appends.setdefault(k, []).append(v)
    return Txn(f"T{inv.index}", type, inv.process, mops, start,
               end if type != INFO else None, inv, appends)


def _mops(value, op: Op, position: int, allowed) -> tuple:
    if not isinstance(value, list):
        raise TxnError(f"a transaction is a list of micro-ops, got {_show(value)}", op,
                       position)
    out = []
    for mop in value:
        if not isinstance(mop, list) or len(mop) != 3 or not isinstance(mop[0], str):
            raise TxnError(f"bad micro-op {_show(mop)} (expected [f key value])", op,
                           position)
        f = _NAMES.get(mop[0])
        if f not in allowed:
            raise TxnError(f"unknown micro-op {_show(mop)} for this workload (micro-ops: "
                           f"{', '.join(allowed)})", op, position)
        out.append((f, _key(mop[1]), mop[2]))
    return tuple(out)


def _show(x) -> str:
    try:
        text = edn.dumps(x)
    except TypeError:  # a value EDN cannot write is still worth naming
        text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."

