"""A client history: ops in real-time order, validated against Jepsen's process rules."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from faultlab.histories.errors import HistoryError
from faultlab.histories.op import FAIL, INFO, INVOKE, OK, TYPES, Op


class Operation(NamedTuple):
    """An invocation paired with its completion (None if the history ends before one)."""

    invoke: Op
    complete: Op | None

    @property
    def type(self) -> str:
        """ok, fail, info, or info for an op that never completed."""
        return self.complete.type if self.complete is not None else INFO

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def value(self):
        """The completion's value when it has one (reads), else the invocation's."""
        if self.complete is not None and self.complete.type == OK:
            return self.complete.value
        return self.invoke.value


class History(Sequence[Op]):
    """An ordered list of ops, in the order they happened.

    Jepsen semantics are enforced by `validate`: a process invokes one op at a time, each
    invoke is followed by exactly one completion of the same f, and a process whose op ended
    in info never invokes again.
    """

    __slots__ = ("ops",)

    def __init__(self, ops: Iterable[Op] = ()):
        self.ops: list[Op] = list(ops)

    def __len__(self) -> int:
        return len(self.ops)

    def __getitem__(self, i):
        return self.ops[i]

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __eq__(self, other) -> bool:
        return isinstance(other, History) and self.ops == other.ops

    def __repr__(self) -> str:
        return f"History({len(self.ops)} ops)"

    def validate(self, path: str | None = None) -> History:
        """Raise HistoryError naming the first op that breaks the process rules."""
        open_ops: dict = {}
        crashed: set = set()
        for op in self.ops:
            where = {"path": path, "line": op.index + 1 if path else None}
            if op.type not in TYPES:
                raise HistoryError(f"op {op.index}: unknown type {op.type!r}", **where)
            p = op.process
            if op.type == INVOKE:
                if p in crashed:
                    raise HistoryError(
                        f"op {op.index}: process {p} invokes after an info op; "
                        "Jepsen processes never reuse an id after info", **where)
                if p in open_ops:
                    raise HistoryError(
                        f"op {op.index}: process {p} invokes while op "
                        f"{open_ops[p].index} is still open", **where)
                open_ops[p] = op
            else:
                inv = open_ops.pop(p, None)
                if inv is None:
                    raise HistoryError(
                        f"op {op.index}: {op.type} for process {p} with no open invoke", **where)
                if inv.f != op.f:
                    raise HistoryError(
                        f"op {op.index}: completion f {op.f!r} does not match invoke "
                        f"{inv.f!r}", **where)
                if op.type == INFO:
                    crashed.add(p)
        return self

    def operations(self) -> list[Operation]:
        """Pair every invocation with its completion, in invocation order."""
        result: list[Operation] = []
        slot: dict = {}
        for op in self.ops:
            if op.type == INVOKE:
                slot[op.process] = len(result)
                result.append(Operation(op, None))
            else:
                i = slot.pop(op.process, None)
                if i is not None:
                    result[i] = Operation(result[i].invoke, op)
        return result

    def completions(self) -> dict[int, Op]:
        """The op that completed each invocation, by the invocation's index."""
        return {o.invoke.index: o.complete for o in self.operations()
                if o.complete is not None}

    def reindexed(self) -> History:
        """The same ops with `index` set to their position."""
        return History(op._replace(index=i) for i, op in enumerate(self.ops))

    def ok(self) -> list[Op]:
        return [op for op in self.ops if op.type == OK]

    def failed(self) -> list[Op]:
        return [op for op in self.ops if op.type == FAIL]
