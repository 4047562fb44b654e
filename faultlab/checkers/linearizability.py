"""Linearizability checking: Wing–Gong/Lowe backtracking search with memoisation.

The history is split into independent partitions (P-compositionality); each is searched for a
total order of its operations that respects real time and the model. Configurations are
(set of linearized ops, model state), the set kept as small bitsets relative to a moving
floor so that a long history costs time and memory close to linear in its length; they are
memoised in a bounded cache. A sequential partition is simply replayed in real-time order.

Pruning that keeps the search small, each sound for any deterministic model:
- an ok op that can never change the state (a read, says the model) and that the state
  accepts is linearized at once: doing it now never hurts, so there is nothing to branch on;
- an info op is tried only where it changes the state: one that changes nothing is the same
  as one that never happened, and an info op may never happen;
- of several identical info ops (same call, both invoked), only the earliest is tried;
- the op with the earliest completion must be linearized before anything invoked after it,
  so states from which the model says it can never become legal are dropped (`reachable`);
- the search succeeds as soon as every ok op is linearized: pending info ops may never happen;
- orderings derived from the values reads return (`orders`, for models that report
  observations) must hold in every linearization: a cycle in them refutes the partition
  before any search, and an op is never linearized before an op it must follow.
"""
from __future__ import annotations

import bisect
import dataclasses
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from faultlab.checkers.models import REJECT, UNSEEN, Call, Model, get_model
from faultlab.checkers.orders import derive_orders
from faultlab.checkers.verdict import UNKNOWN, Verdict
from faultlab.gc_pause import gc_paused
from faultlab.histories.errors import HistoryError
from faultlab.histories.op import FAIL, INFO, INVOKE, OK, Op

NAME = "linearizable"
DEFAULT_MEMORY_LIMIT = 1 << 30
"""Bytes the memo cache may use by default (1 GiB)."""
SET_SLOT_BYTES = 40
"""What a set spends per entry beyond the key object: slots (hash, pointer) at its load."""
LOOKAHEAD = 8
"""How many of the next completing ops the model's `reachable` filters are asked about."""
BACKTRACKS_BEFORE_LOOKAHEAD = 100
"""Configurations explored beyond the deepest point reached before LOOKAHEAD is used."""
WIDE_BRANCHING = 8
"""Branches from one configuration at which LOOKAHEAD is used at once."""
FIRST_PASS_CONFIGURATIONS = 20_000
"""Configurations each partition may explore before the others get their turn."""
PARALLEL_MIN_OPS = 3000
"""Fewer operations than this are checked in one process: forking costs more than it saves."""
ORDERS_MAX_OPS = 5_000
"""Derived orders are kept as bitsets between every pair of ops: quadratic, so a partition
longer than this is searched without them (they prune and refute; they are not needed)."""
QUICK_MIN_OPS, QUICK_CONFIGURATIONS, QUICK_CONFIGURATIONS_PER_OP = 1_000, 1_000, 2
"""Most long partitions are decided by a short search without derived orders, which cost
more than that search; only a partition that fails it or runs past this many configurations
is searched again with them. (Shorter partitions derive them at once: they are cheap there,
and most histories people check are short and many fail.)"""
FREE_SECONDS_PER_ENTRY = 0.75e-6
"""What freeing an entry and its call costs (0.74 s for a million, measured)."""
_UNSET = object()


class Entry(NamedTuple):
    """One operation to linearize: its call, the positions in the history where it was
    invoked and completed (None: info), and its invocation and completion ops."""

    call: Call
    invoke: int
    complete: int | None
    op: Op
    done: Op | None = None

    def describe(self, model: Model) -> dict:
        """Plain data naming the operation, for reports: its index in the file (`:index`,
        or the line), and its times as the file gives them (or its lines)."""
        op, done = self.op, self.done
        return {"index": op.index, "process": op.process, "f": self.call.f,
                "value": _jsonable(self.call.value),
                "output": None if self.call.output is UNSEEN else _jsonable(self.call.output),
                "type": self.call.type, "invoked": op.time,
                "completed": None if self.complete is None or done is None else done.time,
                "text": model.describe_call(self.call)}


def _jsonable(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted((_jsonable(v) for v in x), key=repr)
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return repr(x)


def entries_from_history(history: Iterable[Op], deadline: float | None = None) -> list[Entry]:
    """Pair invocations with completions, in invocation order; an invoke never completed
    counts as info.

    Positions in the history are the real-time order, so they serve as times. Ops of a
    process named "nemesis" are not client operations and are skipped.
    """
    entries: list = []  # an invoke's slot is filled when it completes
    open_ops: dict = {}  # process -> (position, invoke, slot)
    make = tuple.__new__  # builds the named tuples without a Python-level call per op
    for pos, op in enumerate(history):
        if deadline is not None and not pos & 65535 and time.monotonic() > deadline:
            raise _Budget("time")
        process, type = op.process, op.type
        if process == "nemesis":
            continue
        if type == INVOKE:
            if process in open_ops:
                raise HistoryError(f"op {op.index}: process {process} invokes while an "
                                   "earlier op is still open")
            open_ops[process] = (pos, op, len(entries))
            entries.append(None)
            continue
        opened = open_ops.pop(process, None)
        if opened is None:
            raise HistoryError(f"op {op.index}: {type} for process {process} with no open "
                               "invoke")
        start, inv, slot = opened
        if type in (OK, FAIL):
            call = make(Call, (inv.f, inv.value, op.value, OK if type == OK else FAIL))
            entries[slot] = make(Entry, (call, start, pos, inv, op))
        elif type == INFO:
            call = make(Call, (inv.f, inv.value, UNSEEN, INFO))
            entries[slot] = make(Entry, (call, start, None, inv, op))
        else:
            raise HistoryError(f"op {op.index}: unknown type {type!r}")
    for start, inv, slot in open_ops.values():
        entries[slot] = Entry(Call(inv.f, inv.value, UNSEEN, INFO), start, None, inv)
    return entries


@dataclasses.dataclass(slots=True)
class PartitionResult:
    """The outcome of searching one partition, with the evidence for a failure."""

    key: Any
    valid: bool | str
    ops: int
    position: int = 0  # the partition's place in check order
    exhausted: str | None = None  # for unknown: "time" or "configurations"
    steps: int = 0
    configurations: int = 0
    cache_evictions: int = 0
    seconds: float = 0.0
    linearization: list[int] | None = None  # op indices in linearization order, when valid
    failure: dict | None = None


class _Budget(Exception):
    """Raised inside the search when the time limit passes."""


def search(entries: Sequence[Entry], model: Model, *, deadline: float | None = None,
           cache_bytes: int = DEFAULT_MEMORY_LIMIT,
           max_configurations: int | None = None, key: Any = None,
           derive: bool = True) -> PartitionResult:
    """Search one partition for a linearization (Wing–Gong/Lowe with the pruning above).

    `entries` must be sorted by invoke position. A configuration is the set of linearized
    ops and the model state. The set is kept relative to a moving floor, so its cost does not
    grow with the history: ok ops are numbered by invocation, and every ok op below the floor
    `lo` is linearized; `rel` holds the linearized ok ops from `lo` on, `ilin` the linearized
    info ops (numbered by invocation among themselves). The earliest completion not yet
    linearized, rank `r` in completion order (`rrel` the linearized ranks above it), bounds
    the candidates: the ops invoked before it completes.

    `cache_bytes` bounds the memo: it is kept in two generations, and when the young one
    reaches half the budget the old one is dropped (the memo only saves work, so forgetting
    is safe). Configurations that no other branch can reach again are not memoised at all,
    so a search that never branches keeps nothing. Past `deadline` (time.monotonic) or
    `max_configurations` the result is "unknown". `derive=False` searches without derived
    orders.
    """
    started = time.monotonic()
    n = len(entries)
    result = PartitionResult(key=key, valid=True, ops=n)
    sequential = all(a.complete is not None and a.complete < b.invoke
                     for a, b in zip(entries, entries[1:]))
    if sequential and (n == 0 or entries[-1].complete is not None):
        result = _replay(entries, model, key, result, started, deadline)
        if result.valid is not False or n > ORDERS_MAX_OPS:
            return result  # (orders cost more than the replay: only a failure needs them)
    orders = derive_orders(entries, model) if derive and n <= ORDERS_MAX_OPS else None
    if orders is not None and orders.cycle is not None:
        result.valid = False  # a cycle explains a failure better than where a search stopped
        result.failure = {"linearized": 0, "prefix": [], "concurrent": [], "states": [],
                          "op": entries[orders.read].describe(model), "cycle": orders.cycle}
        result.seconds = time.monotonic() - started
        return result
    if result.valid is False:
        return result  # the replay's
    if deadline is not None and time.monotonic() > deadline:
        return _out_of_time(result, started)
    trans = [model.compile(e.call) for e in entries]
    if deadline is not None and time.monotonic() > deadline:
        return _out_of_time(result, started)
    by_invoke_ok = [i for i in range(n) if entries[i].complete is not None]
    info_ids = [i for i in range(n) if entries[i].complete is None]
    ok_ids = sorted(by_invoke_ok, key=lambda i: entries[i].complete)  # rank -> op
    n_ok = len(ok_ids)
    slot = [0] * n      # an ok op's number by invocation, or an info op's among info ops
    rank_of = [0] * n   # an ok op's rank by completion
    for p, i in enumerate(by_invoke_ok):
        slot[i] = p
    for q, i in enumerate(info_ids):
        slot[i] = q
    for rank, i in enumerate(ok_ids):
        rank_of[i] = rank
    is_info = [e.complete is None for e in entries]
    read_only = [not is_info[i] and model.read_only(entries[i].call) for i in range(n)]
    # While rank r is the earliest completion not linearized, the candidates are the ok ops
    # numbered below ok_end[r] and the info ops numbered below info_end[r].
    ok_invokes = [entries[i].invoke for i in by_invoke_ok]
    info_invokes = [entries[i].invoke for i in info_ids]
    ok_end = [bisect.bisect_left(ok_invokes, entries[i].complete) for i in ok_ids]
    info_end = [bisect.bisect_left(info_invokes, entries[i].complete) for i in ok_ids]
    twin = _earlier_twins(entries, info_ids)
    must_ok, must_info = _must_follow(orders, entries, info_ids, slot)
    windows: list = []  # (made when first needed: a search that never branches needs none)
    if deadline is not None and time.monotonic() > deadline:
        return _out_of_time(result, started)
    checks: list = [_UNSET] * n_ok
    steps = 0
    looking_ahead = False

    def dead_end_checks(rank: int) -> list:
        """(rank, predicate) pairs for the next ok ops: the model's `reachable` filters.

        While `rank` is the earliest completion not linearized, the ops that can still run
        before the q-th completing op are the info ops and the ok ops of rank >= `rank`
        invoked before it completes.
        """
        if not windows:
            windows.extend(_windows(entries, ok_ids, LOOKAHEAD))
        found = []
        for q in range(rank, min(rank + LOOKAHEAD, n_ok)):
            target = ok_ids[q]
            conc = [entries[j].call for j in windows[q]
                    if j != target and (entries[j].complete is None or rank_of[j] >= rank)]
            f = model.reachable(entries[target].call, conc)
            if f is not None:
                found.append((q, f))
        checks[rank] = found
        return found

    def dead_end(r: int, linearized, state) -> int | None:
        """A rank within LOOKAHEAD of r, not yet linearized (`linearized(q)` says), that can
        never become legal from `state`; None if there is none."""
        found = checks[r]
        if found is _UNSET:
            found = dead_end_checks(r)
        for q, alive in found:
            if not linearized(q) and not alive(state):
                return q
        return None

    def follows_all(i: int, lo: int, rel: int, ilin: int) -> bool:
        """Whether every op that must precede op i (derived orders) is linearized: the info
        ops among them, and the ok ops from the floor on (those below it are)."""
        if must_info[i] & ~ilin:
            return False
        floor = by_invoke_ok[lo]
        rest = must_ok[i] >> floor
        while rest:
            low = rest & -rest
            rest ^= low
            if not rel >> (slot[floor + low.bit_length() - 1] - lo) & 1:
                return False
        return True

    def linearize_ok(i: int, lo: int, rel: int, r: int, rrel: int):
        k = slot[i] - lo
        rel |= 1 << k
        if not k:  # the floor rises past every linearized op above it
            t = ((rel + 1) & ~rel).bit_length() - 1
            lo += t
            rel >>= t
        k = rank_of[i] - r
        rrel |= 1 << k
        if not k:
            t = ((rrel + 1) & ~rrel).bit_length() - 1
            r += t
            rrel >>= t
        return lo, rel, r, rrel

    def expand(lo: int, rel: int, r: int, rrel: int, ilin: int, state):
        """Close a configuration under accepted read-only ok ops; list the branches.

        Returns the closed configuration, the ops it closed, and the branches as
        (op, next state) pairs: None when every ok op is linearized (success), empty at a
        dead end.
        """
        nonlocal steps
        closed = []
        if r == n_ok:
            return lo, rel, r, rrel, ilin, closed, None
        branches = []
        ok_from, info_from = lo, 0
        while True:
            ok_to, info_to = ok_end[r], info_end[r]
            cands = []
            free = ((1 << (ok_to - lo)) - 1) & ~rel & ~((1 << (ok_from - lo)) - 1)
            while free:
                low = free & -free
                free ^= low
                cands.append(by_invoke_ok[lo + low.bit_length() - 1])
            free = ((1 << info_to) - 1) & ~ilin & ~((1 << info_from) - 1)
            if free:
                while free:
                    low = free & -free
                    free ^= low
                    q = low.bit_length() - 1
                    tw = twin[q]
                    if tw < 0 or ilin >> tw & 1:  # else an identical, earlier one is tried
                        cands.append(info_ids[q])
                cands.sort()  # in invocation order: earlier ops first
            for i in cands:
                steps += 1
                new = trans[i](state)
                if new is REJECT:
                    continue
                if new == state:
                    if read_only[i]:
                        if must_ok is not None and not follows_all(i, lo, rel, ilin):
                            # Every linearization from here places this read next, and
                            # none may place it before the ops it must follow: dead end.
                            return lo, rel, r, rrel, ilin, closed, []
                        lo, rel, r, rrel = linearize_ok(i, lo, rel, r, rrel)
                        closed.append(i)
                        continue
                    if is_info[i]:
                        continue  # an info op that changes nothing may as well not happen
                branches.append((i, new))
            if r == n_ok:
                return lo, rel, r, rrel, ilin, closed, None
            if ok_end[r] == ok_to and info_end[r] == info_to:
                break
            ok_from, info_from = max(ok_to, lo), info_to
        # Where the search branches, a dead end a few completions ahead cuts every branch at
        # once; a single branch reaches it within LOOKAHEAD steps anyway. Where it branches
        # a little, asked only once the search has had to go back (one that goes straight
        # down gains nothing from it).
        if len(branches) >= WIDE_BRANCHING or len(branches) > 1 and looking_ahead:
            found = checks[r]
            if found is _UNSET:
                found = dead_end_checks(r)
            for q, alive in found:
                if not rrel >> (q - r) & 1 and not alive(state):
                    return lo, rel, r, rrel, ilin, closed, []
        if must_ok is not None:
            # Only now, with every read closed, is it known which ops are still missing.
            branches = [b for b in branches if follows_all(b[0], lo, rel, ilin)]
        return lo, rel, r, rrel, ilin, closed, branches

    init = model.init_for(key)
    lo, rel, r, rrel, ilin, closed, branches = expand(0, 0, 0, 0, 0, init)
    node = (tuple(closed), None)  # the path: (ops linearized at this step, parent)
    best = _Deepest(lo + rel.bit_count(), (lo, rel, ilin), init, node)
    cache: set = set()
    old: set = set()
    half = cache_bytes // 2
    young_bytes, sampled_at = 0, 0
    nodes = 0
    alternatives = len(branches or ())  # untried branches on the whole stack
    # frames: (config, iterator over its branches, path node)
    stack = [((lo, rel, r, rrel, ilin), iter(branches or ()), node)]
    try:
        while branches is not None and stack:
            config, options, node = stack[-1]
            nxt = next(options, None)
            if nxt is None:
                stack.pop()
                continue
            alternatives -= 1
            i, state = nxt
            lo, rel, r, rrel, ilin = config
            if is_info[i]:
                ilin |= 1 << slot[i]
            else:
                lo, rel, r, rrel = linearize_ok(i, lo, rel, r, rrel)
            pre = (lo, rel, ilin, state)
            if pre in cache or pre in old:
                continue
            if alternatives:  # another branch could reach it again: remember it
                cache.add(pre)
            nodes += 1
            if not looking_ahead and nodes > best.depth + BACKTRACKS_BEFORE_LOOKAHEAD:
                looking_ahead = True
            if not nodes & 1023:
                # Account the entries added since the last sample at the size of this one:
                # the key tuple, its ints, the state and the set slots.
                per_entry = (sys.getsizeof(pre) + sys.getsizeof(rel) + sys.getsizeof(ilin)
                             + sys.getsizeof(state) + SET_SLOT_BYTES + 28)
                young_bytes += per_entry * (len(cache) - sampled_at)
                sampled_at = len(cache)
                if young_bytes >= half:
                    old, cache = cache, set()
                    result.cache_evictions += len(old)
                    young_bytes = sampled_at = 0
                if deadline is not None and time.monotonic() > deadline:
                    raise _Budget("time")
                if max_configurations is not None and nodes >= max_configurations:
                    raise _Budget("configurations")
            lo, rel, r, rrel, ilin, closed, branches = expand(lo, rel, r, rrel, ilin, state)
            node = ((i, *closed), node)
            if branches is None:
                break
            if closed and alternatives:
                post = (lo, rel, ilin, state)
                if post in cache or post in old:
                    continue
                cache.add(post)
            depth = lo + rel.bit_count()
            if depth >= best.depth:
                best.offer(depth, (lo, rel, ilin), state, node)
            if branches:
                stack.append(((lo, rel, r, rrel, ilin), iter(branches), node))
                alternatives += len(branches)
    except _Budget as budget:
        result.valid = UNKNOWN
        result.exhausted = budget.args[0]
    result.steps, result.configurations = steps, nodes
    if result.valid is True:
        if branches is None:
            result.linearization = [entries[i].op.index for i in _walk(node)]
        else:
            result.valid = False
    if result.valid is not True:
        path = _walk(best.node)
        stuck, culprit, state = _stuck_point(path, entries, trans, rank_of, ok_ids, init,
                                             dead_end)
        states = [state] if stuck < len(path) else best.states
        result.failure = _report(entries, model, path[:stuck], culprit, states, ok_ids,
                                 ok_end, info_end, by_invoke_ok, info_ids)
    result.seconds = time.monotonic() - started
    return result


def _replay(entries: Sequence[Entry], model: Model, key, result: PartitionResult,
            started: float, deadline: float | None) -> PartitionResult:
    """A sequential partition (each op completes before the next is invoked, none left
    pending) has one linearization, real-time order: replay it through the model."""
    state = model.init_for(key)
    for k, e in enumerate(entries):
        if deadline is not None and not k & 65535 and time.monotonic() > deadline:
            return _out_of_time(result, started)
        new = model.compile(e.call)(state)
        if new is REJECT:
            result.valid = False
            result.failure = _report(entries, model, list(range(k)), k, [state],
                                     list(range(len(entries))), [k + 1] * len(entries), [0] *
                                     len(entries), list(range(len(entries))), [])
            break
        state = new
    else:
        result.linearization = [e.op.index for e in entries]
    result.steps = result.configurations = k + 1 if entries else 0
    result.seconds = time.monotonic() - started
    return result


def _out_of_time(result: PartitionResult, started: float) -> PartitionResult:
    result.valid, result.exhausted = UNKNOWN, "time"
    result.seconds = time.monotonic() - started
    return result


def _walk(node) -> list[int]:
    """The ops linearized along a path, first to last."""
    parts = []
    while node is not None:
        parts.append(node[0])
        node = node[1]
    return [i for part in reversed(parts) for i in part]


def _must_follow(orders, entries, info_ids: list[int], slot: list[int]):
    """The derived orders, beyond real time, split for the search: for each op, the ok ops
    that must precede it (a bitset over ops) and the info ops (a bitset over info ops).
    (None, None) without orders."""
    if orders is None:
        return None, None
    info_mask = 0
    for i in info_ids:
        info_mask |= 1 << i
    must_ok, must_info = [], []
    for b in orders.before:
        must_ok.append(b & ~info_mask)
        q = 0
        b &= info_mask
        while b:
            low = b & -b
            b ^= low
            q |= 1 << slot[low.bit_length() - 1]
        must_info.append(q)
    return must_ok, must_info


def _windows(entries: Sequence[Entry], ok_ids: list[int], lookahead: int) -> list[list[int]]:
    """For each completion rank q, the ops that may run before that op while the blocking
    rank is within `lookahead` of q: info ops and ok ops of rank > q - lookahead, invoked
    before op q completes. One sweep in completion order keeps this near-linear."""
    active: dict[int, None] = {}
    windows = []
    p = 0
    for q, target in enumerate(ok_ids):
        ret = entries[target].complete
        while p < len(entries) and entries[p].invoke < ret:
            active[p] = None
            p += 1
        if q >= lookahead:
            active.pop(ok_ids[q - lookahead], None)
        windows.append(list(active))
    return windows


def _earlier_twins(entries: Sequence[Entry], info_ids: list[int]) -> list[int]:
    """For each info op (by its number among info ops), the number of the latest earlier info
    op making the identical call, or -1. Twins are linearized earliest first, so an op waits
    only for the one before it."""
    seen: dict = {}
    twins = [-1] * len(info_ids)
    for q, i in enumerate(info_ids):
        e = entries[i]
        try:
            k = (e.call.f, _freeze_key(e.call.value))
            hash(k)
        except TypeError:
            continue
        twins[q] = seen.get(k, -1)
        seen[k] = q
    return twins


def _freeze_key(x):
    if isinstance(x, list):
        return tuple(_freeze_key(v) for v in x)
    return x


PREFIX_SHOWN = 20  # ops of the deepest prefix kept in a failure report


@dataclasses.dataclass(slots=True)
class _Deepest:
    """The configurations with the most ops linearized: the evidence of a failure."""

    depth: int
    lin: tuple
    state: Any
    node: Any
    states: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.states = [self.state]

    def offer(self, depth: int, lin: tuple, state, node) -> None:
        if depth > self.depth:
            self.depth, self.lin, self.node, self.states = depth, lin, node, [state]
        elif depth == self.depth and lin == self.lin and state not in self.states \
                and len(self.states) < 8:
            self.states.append(state)


def _stuck_point(path: list[int], entries, trans, rank_of, ok_ids, init, dead_end):
    """Replay the deepest path and find the first point where an op can no longer become
    legal: (how many ops of the path precede it, the op's rank, the state there). Without
    such a point, the end of the path and the earliest completion not linearized."""
    n_ok = len(ok_ids)
    done: set[int] = set()
    state, r = init, 0
    for k in range(len(path) + 1):
        while r < n_ok and r in done:
            r += 1
        if r == n_ok:
            break
        q = dead_end(r, done.__contains__, state)
        if q is not None:
            return k, q, state
        if k == len(path):
            break
        i = path[k]
        state = trans[i](state)
        if entries[i].complete is not None:
            done.add(rank_of[i])
    return len(path), r, state


def _report(entries, model: Model, prefix: list[int], culprit: int, states: list,
            ok_ids: list[int], ok_end: list[int], info_end: list[int],
            by_invoke_ok: list[int], info_ids: list[int]) -> dict:
    """A failure: the linearized prefix, the op that cannot follow it, the ops overlapping
    that op in real time that were not linearized either, and the model states there."""
    blocking = ok_ids[culprit] if culprit < len(ok_ids) else None
    concurrent = []
    if blocking is not None:
        done = set(prefix)
        b = entries[blocking]
        window = by_invoke_ok[:ok_end[culprit]] + info_ids[:info_end[culprit]]
        concurrent = [entries[i].describe(model) for i in sorted(window)
                      if i != blocking and i not in done
                      and (entries[i].complete is None or entries[i].complete > b.invoke)]
    return {
        "linearized": len(prefix),
        "prefix": [entries[i].describe(model) for i in prefix[-PREFIX_SHOWN:]],
        "op": b.describe(model) if blocking is not None else None,
        "concurrent": concurrent,
        "states": [model.describe(s) for s in states],
    }


def _check_partition(args) -> PartitionResult:
    """Worker entry point for process pools."""
    position, key, entries, model, deadline, cache_bytes, max_configurations = args
    quick = QUICK_CONFIGURATIONS + QUICK_CONFIGURATIONS_PER_OP * len(entries)
    result = None
    if len(entries) >= QUICK_MIN_OPS and (max_configurations is None
                                          or max_configurations > quick):
        result = search(entries, model, deadline=deadline, cache_bytes=cache_bytes, key=key,
                        max_configurations=quick, derive=False)
    # Again, unbounded and with derived orders where they can be derived (a failure's cycle
    # explains it better). A failure too long for orders would only be found again the same
    # way: a million-op failing replay took twice as long.
    if (result is None or result.exhausted == "configurations"
            or result.valid is False and len(entries) <= ORDERS_MAX_OPS):
        result = search(entries, model, deadline=deadline, cache_bytes=cache_bytes, key=key,
                        max_configurations=max_configurations)
    result.position = position
    return result


def partitions(entries: list[Entry], model: Model) -> list[tuple[Any, list[Entry]]]:
    """The independent parts of a history, in order of their first operation."""
    kept = [e for e in entries if model.keep(e.call)]
    parts = model.partition([e.call for e in kept])
    result = [(k, kept if len(idx) == len(kept) else [kept[i] for i in sorted(idx)])
              for k, idx in parts]  # (one part holding every op: no copy)
    result.sort(key=lambda p: p[1][0].invoke if p[1] else -1)
    return result


def check_linearizable(history: Iterable[Op], model: Model | str = "cas-register",
                       time_limit: float | None = None, *, all_partitions: bool = False,
                       memory_limit: int = DEFAULT_MEMORY_LIMIT, jobs: int | None = None,
                       deadline: float | None = None) -> Verdict:
    """Check that a history is linearizable with respect to `model`.

    Returns a Verdict named "linearizable": valid True, False, or "unknown" when
    `time_limit` (seconds, for the whole check) or the absolute `deadline` (time.monotonic)
    ran out first. By default the check stops at the first partition that fails;
    `all_partitions=True` checks and reports every one. `memory_limit` bounds the memo cache
    in bytes. `jobs` is the number of processes used for independent partitions (None:
    decide from the history size and the CPU count).
    """
    if isinstance(model, str):
        model = get_model(model)
    # Entries, partitions and the memo make no reference cycles (none are left for the
    # collector after checking the benchmarks' histories): walking them would only cost time.
    with gc_paused():
        return _check(history, model, time_limit, all_partitions, memory_limit, jobs,
                      deadline)


def _check(history, model: Model, time_limit, all_partitions, memory_limit, jobs,
           deadline) -> Verdict:
    started = time.monotonic()
    if time_limit is not None:
        deadline = started + time_limit if deadline is None else min(deadline,
                                                                    started + time_limit)
    try:
        entries = entries_from_history(history, deadline)
        parts = partitions(entries, model)
        if deadline is not None and time.monotonic() > deadline:
            raise _Budget("time")  # (splitting a million ops into keys takes a while)
    except _Budget:
        return Verdict(name=NAME, valid=UNKNOWN, explanation="unknown: the time limit ran "
                       "out before the search began", anomalies={
                           "model": model.name, "stats": {"seconds": round(
                               time.monotonic() - started, 6)}})
    total_ops = sum(len(p) for _, p in parts)
    if jobs is None:
        jobs = min(os.cpu_count() or 1, len(parts)) if total_ops >= PARALLEL_MIN_OPS else 1
    jobs = max(1, min(jobs, len(parts)))
    # Freeing the entries once the verdict is made takes time too: the searches stop that
    # much before the deadline, so that the whole check keeps it.
    if deadline is not None:
        deadline -= FREE_SECONDS_PER_ENTRY * len(entries)
    tasks = [(pos, k, p, model, deadline, memory_limit // jobs)
             for pos, (k, p) in enumerate(parts)]
    results = _run(tasks, jobs, all_partitions)
    return _verdict(model, parts, results, time.monotonic() - started)


def _run(tasks: list, jobs: int, all_partitions: bool) -> list[PartitionResult]:
    """Search partitions, stopping at the first failure unless asked for all.

    With several partitions, a first pass in this process gives each a small budget of
    configurations (in proportion to its length), so that an easy refutation is found before
    a hard partition takes all the time; a second pass finishes the partitions that ran out
    of it, on `jobs` processes (only hard partitions are worth shipping to another process).
    Results come back in partition order.
    """
    results: dict[int, PartitionResult] = {}
    pending = list(range(len(tasks)))
    # One partition has nobody to make way for; a long one needs a budget in proportion.
    passes = (None,) if len(tasks) == 1 else ("first", None)
    for first in passes:
        batch = [(*tasks[i], None if first is None
                  else FIRST_PASS_CONFIGURATIONS + 2 * len(tasks[i][2])) for i in pending]
        for res in _map(batch, 1 if first else jobs, all_partitions):
            results[res.position] = res
        if not all_partitions and any(r.valid is False for r in results.values()):
            break
        pending = [i for i in pending if results[i].exhausted == "configurations"]
        if not pending:
            break
    return [results[i] for i in sorted(results)]


def _map(tasks: list, jobs: int, all_partitions: bool):
    """Yield the search results of tasks, serially or from a process pool."""
    if jobs == 1 or len(tasks) == 1:
        for task in tasks:
            res = _check_partition(task)
            yield res
            if res.valid is False and not all_partitions:
                return
        return
    import multiprocessing

    global _FORKED_TASKS
    forked = os.name == "posix"
    ctx = multiprocessing.get_context("fork" if forked else "spawn")
    # Largest partitions first keeps the processes evenly busy.
    tasks = sorted(tasks, key=lambda t: -len(t[2]))
    if forked:  # workers inherit the tasks: only their positions are sent
        _FORKED_TASKS = tasks
    try:
        with ctx.Pool(min(jobs, len(tasks))) as pool:
            work = (pool.imap_unordered(_check_forked, range(len(tasks))) if forked
                    else pool.imap_unordered(_check_partition, tasks))
            for res in work:
                yield res
                if res.valid is False and not all_partitions:
                    pool.terminate()  # the verdict is decided; do not wait for the rest
                    return
    finally:
        _FORKED_TASKS = []


# The tasks of a pool of forked workers, which inherit them: pickling a million entries to
# send them took longer than a time limit's margin.
_FORKED_TASKS: list = []


def _check_forked(position: int) -> PartitionResult:
    return _check_partition(_FORKED_TASKS[position])


def _key(k: Any) -> Any:
    return _jsonable(k)


def _verdict(model: Model, parts: list, results: list[PartitionResult],
             seconds: float) -> Verdict:
    failed = [r for r in results if r.valid is False]
    undecided = [r for r in results if r.valid == UNKNOWN]
    checked = {r.position for r in results}
    unchecked = [k for pos, (k, _) in enumerate(parts) if pos not in checked]
    stats = {"partitions": len(parts), "operations": sum(len(p) for _, p in parts),
             "steps": sum(r.steps for r in results),
             "configurations": sum(r.configurations for r in results),
             "cache_evictions": sum(r.cache_evictions for r in results),
             "seconds": round(seconds, 6)}
    anomalies: dict[str, Any] = {"model": model.name, "parts": model.part_name,
                                 "stats": stats}
    if failed:
        valid: bool | str = False
        anomalies["failing_partitions"] = [_key(r.key) for r in failed]
        first = failed[0]
        where = ("" if first.key is None or len(parts) == 1
                 else f" in {model.part_name} {_key(first.key)!r}")
        op = first.failure["op"]
        if "cycle" in first.failure:
            explanation = (f"not linearizable{where}: the value {op['text']} read forces "
                           f"a cycle of {len(first.failure['cycle'])} orderings")
        else:
            explanation = (f"not linearizable{where}: after {first.failure['linearized']} "
                           f"operations, {op['text'] if op else 'no operation'} cannot be "
                           "linearized")
    elif undecided:
        valid = UNKNOWN
        explanation = (f"unknown: the time limit ran out with {len(undecided)} of "
                       f"{len(parts)} partitions undecided")
    else:
        valid = True
        explanation = f"linearizable ({len(parts)} partitions)" if len(parts) > 1 \
            else "linearizable"
    if undecided:
        anomalies["undecided_partitions"] = [_key(r.key) for r in undecided]
    if unchecked:
        anomalies["unchecked_partitions"] = [_key(k) for k in unchecked]
    # (a partition the deadline stopped before its search began has no evidence: the
    # anomalies name it undecided)
    witness = [{"partition": _key(r.key), "valid": r.valid, **r.failure}
               for r in failed + undecided if r.failure is not None] or None
    ops, when = _involved(parts, failed[0].failure) if failed else ((), None)
    return Verdict(name=NAME, valid=valid, explanation=explanation, anomalies=anomalies,
                   witness=witness, ops=ops, time=when)


def _involved(parts: list, failure: dict) -> tuple[tuple[int, ...], int | None]:
    """The history indices a failure names (the op that cannot be linearized and those
    concurrent with it, or a cycle's ops) and when the earliest of them was invoked."""
    named = [edge[side]["index"] for edge in failure.get("cycle", ())
             for side in ("before", "after")]
    if failure.get("op") is not None:
        named.append(failure["op"]["index"])
    named.extend(c["index"] for c in failure.get("concurrent", ()))
    named = set(named)
    times = [e.op.time for _, entries in parts for e in entries
             if e.op.index in named and e.op.time is not None]
    return tuple(sorted(named)), min(times, default=None)


def _op_text(op: dict) -> str:
    text = f"op {op['index']} (process {op['process']}): {op['text']}"
    if op["invoked"] is None:  # the file gives no times
        return text + ("" if op["type"] != "info" else ", never completed")
    end = "never completed" if op["completed"] is None else f"completed at {op['completed']}"
    return f"{text}; invoked at {op['invoked']}, {end}"


def render(verdict: Verdict, *, max_prefix: int = 5) -> list[str]:
    """A few readable lines explaining a linearizability verdict."""
    lines = [verdict.explanation]
    for w in verdict.witness or ():
        part = verdict.anomalies.get("parts", "partition")
        single = verdict.anomalies.get("stats", {}).get("partitions") == 1
        where = "" if w["partition"] is None or single else f"{part} {w['partition']!r}: "
        status = "not linearizable" if w["valid"] is False else "undecided"
        if "cycle" in w:
            lines.append(f"{where}{status}: the values read order these operations "
                         "in a cycle:")
            for edge in w["cycle"]:
                lines.append(f"  op {edge['before']['index']} ({edge['before']['text']}) "
                             f"precedes op {edge['after']['index']} "
                             f"({edge['after']['text']}): {edge['why']}")
            continue
        lines.append(f"{where}{status}; longest linearizable prefix: {w['linearized']} ops")
        prefix = w["prefix"]
        if prefix:
            shown = prefix[-max_prefix:]
            more = f" (last {len(shown)})" if len(prefix) > len(shown) else ""
            lines.append(f"  prefix{more}: " + "; ".join(p["text"] for p in shown))
        if w["op"] is not None:
            lines.append(f"  cannot linearize {_op_text(w['op'])}")
        for c in w["concurrent"]:
            lines.append(f"    concurrent: {_op_text(c)}")
        lines.append("  model state(s) there: " + ", ".join(w["states"]))
    undecided = verdict.anomalies.get("undecided_partitions")
    if undecided and undecided != [None]:
        lines.append(f"undecided {verdict.anomalies.get('parts', 'partition')}s: "
                     + ", ".join(map(repr, undecided)))
    unchecked = verdict.anomalies.get("unchecked_partitions")
    if unchecked:
        lines.append(f"{len(unchecked)} {verdict.anomalies.get('parts', 'partition')}s not "
                     "checked after the first failure (use --all-keys to check every one)")
    return lines
