"""Linearizability checking: Wing–Gong/Lowe backtracking search with memoisation.

The history is split into independent partitions (P-compositionality); each is searched for a
total order of its operations that respects real time and the model. Configurations are
(set of linearized ops as an int bitset, model state) and are memoised in a bounded cache.

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
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from faultlab.checkers.models import REJECT, UNSEEN, Call, Model, get_model
from faultlab.checkers.orders import derive_orders
from faultlab.checkers.verdict import UNKNOWN, Verdict
from faultlab.histories.errors import HistoryError
from faultlab.histories.op import FAIL, INFO, INVOKE, OK, Op

NAME = "linearizable"
DEFAULT_MEMORY_LIMIT = 1 << 30
"""Bytes the memo cache may use by default (1 GiB)."""
SET_SLOT_BYTES = 40
"""What a set spends per entry beyond the key object: slots (hash, pointer) at its load."""
LOOKAHEAD = 8
"""How many of the next completing ops the model's `reachable` filters are asked about."""
FIRST_PASS_CONFIGURATIONS = 20_000
"""Configurations each partition may explore before the others get their turn."""
PARALLEL_MIN_OPS = 3000
"""Fewer operations than this are checked in one process: forking costs more than it saves."""
_UNSET = object()


@attrs.frozen(slots=True)
class Entry:
    """One operation to linearize: its call, where it was invoked and completed (None: info)."""

    call: Call
    invoke: int
    complete: int | None
    op: Op

    def describe(self, model: Model) -> dict:
        """Plain data naming the operation, for reports."""
        op = self.op
        return {"index": op.index, "process": op.process, "f": self.call.f,
                "value": _jsonable(self.call.value),
                "output": None if self.call.output is UNSEEN else _jsonable(self.call.output),
                "type": self.call.type, "invoke": self.invoke, "complete": self.complete,
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


def entries_from_history(history: Iterable[Op]) -> list[Entry]:
    """Pair invocations with completions; an invoke never completed counts as info.

    Positions in the history are the real-time order, so they serve as times. Ops of a
    process named "nemesis" are not client operations and are skipped.
    """
    entries: list[Entry] = []
    open_ops: dict = {}
    for pos, op in enumerate(history):
        if op.process == "nemesis":
            continue
        if op.type == INVOKE:
            if op.process in open_ops:
                raise HistoryError(f"op {op.index}: process {op.process} invokes while an "
                                   "earlier op is still open")
            open_ops[op.process] = (pos, op)
            continue
        if op.process not in open_ops:
            raise HistoryError(f"op {op.index}: {op.type} for process {op.process} with no "
                               "open invoke")
        start, inv = open_ops.pop(op.process)
        if op.type == OK:
            entries.append(Entry(Call(inv.f, inv.value, op.value, OK), start, pos, inv))
        elif op.type == FAIL:
            entries.append(Entry(Call(inv.f, inv.value, op.value, FAIL), start, pos, inv))
        elif op.type == INFO:
            entries.append(Entry(Call(inv.f, inv.value, UNSEEN, INFO), start, None, inv))
        else:
            raise HistoryError(f"op {op.index}: unknown type {op.type!r}")
    for start, inv in open_ops.values():
        entries.append(Entry(Call(inv.f, inv.value, UNSEEN, INFO), start, None, inv))
    entries.sort(key=lambda e: e.invoke)
    return entries


@attrs.define
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
           max_configurations: int | None = None, key: Any = None) -> PartitionResult:
    """Search one partition for a linearization (Wing–Gong/Lowe with the pruning above).

    `entries` must be sorted by invoke position. `cache_bytes` bounds the memo: it is kept
    in two generations, and when the young one reaches half the budget the old one is dropped
    (the memo only saves work, so forgetting is safe). Entry sizes are sampled as it grows.
    Past `deadline` (time.monotonic) or `max_configurations` the result is "unknown".
    """
    started = time.monotonic()
    n = len(entries)
    result = PartitionResult(key=key, valid=True, ops=n)
    orders = derive_orders(entries, model)
    if orders is not None and orders.cycle is not None:
        result.valid = False
        result.failure = {"linearized": 0, "prefix": [], "concurrent": [], "states": [],
                          "op": entries[orders.read].describe(model), "cycle": orders.cycle}
        result.seconds = time.monotonic() - started
        return result
    # must_follow[i]: ops that precede op i in every linearization (beyond real time).
    must_follow = orders.before if orders is not None else [0] * n
    trans = [model.compile(e.call) for e in entries]
    is_info = [e.complete is None for e in entries]
    read_only = [not info and model.read_only(e.call) for e, info in zip(entries, is_info)]
    ok_ids = sorted((i for i in range(n) if not is_info[i]), key=lambda i: entries[i].complete)
    n_ok = len(ok_ids)
    ret_bit = [0] * n
    for rank, i in enumerate(ok_ids):
        ret_bit[i] = 1 << rank
    invokes = [e.invoke for e in entries]
    # prefix[rank]: the ops invoked before the rank-th earliest completion: the candidates
    # while that op is the earliest-completing one not yet linearized.
    prefix = [(1 << bisect.bisect_left(invokes, entries[i].complete)) - 1 for i in ok_ids]
    twins = _earlier_twins(entries, is_info)
    windows = _windows(entries, ok_ids, LOOKAHEAD)
    rank_of = {i: rank for rank, i in enumerate(ok_ids)}
    checks: list = [_UNSET] * n_ok
    init = model.init()
    steps = 0

    def dead_end_checks(rank: int) -> list:
        """(bit, predicate) pairs for the next ok ops: the model's `reachable` filters.

        While `rank` is the earliest completion not linearized, the ops that can still run
        before the q-th completing op are the info ops and the ok ops of rank >= `rank`
        invoked before it completes.
        """
        found = []
        for q in range(rank, min(rank + LOOKAHEAD, n_ok)):
            target = ok_ids[q]
            conc = [entries[j].call for j in windows[q]
                    if j != target and rank_of.get(j, n_ok) >= rank]
            f = model.reachable(entries[target].call, conc)
            if f is not None:
                found.append((1 << q, f))
        checks[rank] = found
        return found

    def expand(lin: int, linr: int, state):
        """Close a configuration under accepted read-only ok ops; list the branches.

        Returns (lin, linr, closed ops, branches); branches is None when every ok op is
        linearized (success) and empty at a dead end.
        """
        nonlocal steps
        closed = []
        rank = ((linr + 1) & ~linr).bit_length() - 1
        if rank == n_ok:
            return lin, linr, closed, None
        pm = prefix[rank]
        todo = pm & ~lin
        branches = []
        while True:
            while todo:
                low = todo & -todo
                todo ^= low
                i = low.bit_length() - 1
                tw = twins[i]
                if tw and tw & ~lin:
                    continue  # an identical, earlier info op is tried instead
                steps += 1
                new = trans[i](state)
                if new is REJECT:
                    continue
                if new == state:
                    if read_only[i]:
                        if must_follow[i] & ~lin:
                            # Every linearization from here places this read next, and
                            # none may place it before the ops it must follow: dead end.
                            return lin, linr, closed, []
                        lin |= low
                        linr |= ret_bit[i]
                        closed.append(i)
                        continue
                    if is_info[i]:
                        continue
                branches.append((low, i, new))
            rank = ((linr + 1) & ~linr).bit_length() - 1
            if rank == n_ok:
                return lin, linr, closed, None
            if prefix[rank] == pm:
                break
            todo = prefix[rank] & ~pm
            pm = prefix[rank]
        found = checks[rank]
        if found is _UNSET:
            found = dead_end_checks(rank)
        for bit, alive in found:
            if not linr & bit and not alive(state):
                return lin, linr, closed, []
        if orders is not None:
            # Only now, with every read closed, is it known which ops are still missing.
            branches = [b for b in branches if not must_follow[b[1]] & ~lin]
        return lin, linr, closed, branches

    lin, linr, closed, branches = expand(0, 0, init)
    path: list[list[int]] = [closed]
    best = _Deepest(lin, linr, init, path)
    cache: set = set()
    old: set = set()
    half = cache_bytes // 2
    young_bytes, sampled_at = 0, 0
    nodes = 0
    stack = [(lin, linr, iter(branches or ()))]
    try:
        while branches is not None and stack:
            lin, linr, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                continue
            low, i, state = nxt
            nlin = lin | low
            pre = (nlin, state)
            if pre in cache or pre in old:
                continue
            cache.add(pre)
            nodes += 1
            if not nodes & 1023:
                # Account the entries added since the last sample at the size of this one:
                # the key tuple, its bitset, the state (often new, e.g. a longer string) and
                # the set slots.
                per_entry = (sys.getsizeof(pre) + sys.getsizeof(nlin)
                             + sys.getsizeof(state) + SET_SLOT_BYTES)
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
            nlin, nlinr, closed, branches = expand(nlin, linr | ret_bit[i], state)
            if branches is None:
                path.append([i, *closed])
                break
            if closed:
                post = (nlin, state)
                if post in cache or post in old:
                    continue
                cache.add(post)
            if nlin.bit_count() >= best.depth:
                best.offer(nlin, nlinr, state, path, [i, *closed])
            if branches:
                stack.append((nlin, nlinr, iter(branches)))
                path.append([i, *closed])
    except _Budget as budget:
        result.valid = UNKNOWN
        result.exhausted = budget.args[0]
    result.steps, result.configurations = steps, nodes
    if result.valid is True:
        if branches is None:
            result.linearization = [entries[i].op.index for part in path for i in part]
        else:
            result.valid = False
    if result.valid is not True:
        rank = ((best.linr + 1) & ~best.linr).bit_length() - 1
        culprit = rank
        if rank < n_ok and checks[rank] is not _UNSET:
            # A dead end seen ahead: name the op the model says can never become legal.
            for bit, alive in checks[rank]:
                if not best.linr & bit and not alive(best.states[0]):
                    culprit = bit.bit_length() - 1
                    break
        result.failure = best.report(entries, model, ok_ids, prefix, rank, culprit)
    result.seconds = time.monotonic() - started
    return result


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


def _earlier_twins(entries: Sequence[Entry], is_info: list[bool]) -> list[int]:
    """For each info op, the bitset of earlier info ops making the identical call."""
    seen: dict = {}
    twins = [0] * len(entries)
    for i, e in enumerate(entries):
        if not is_info[i]:
            continue
        try:
            k = (e.call.f, _freeze_key(e.call.value))
            hash(k)
        except TypeError:
            continue
        twins[i] = seen.get(k, 0)
        seen[k] = twins[i] | (1 << i)
    return twins


def _freeze_key(x):
    if isinstance(x, list):
        return tuple(_freeze_key(v) for v in x)
    return x


@attrs.define
class _Deepest:
    """The configurations with the most ops linearized: the evidence of a failure."""

    lin: int
    linr: int
    state: Any
    path: list
    depth: int = -1
    states: list = attrs.field(factory=list)

    def __attrs_post_init__(self):
        self.offer(self.lin, self.linr, self.state, self.path, [])

    def offer(self, lin: int, linr: int, state, path: list, last: list) -> None:
        depth = lin.bit_count()
        if depth > self.depth:
            self.depth, self.lin, self.linr = depth, lin, linr
            self.path = [i for part in path for i in part] + last
            self.states = [state]
        elif depth == self.depth and lin == self.lin and state not in self.states \
                and len(self.states) < 8:
            self.states.append(state)

    def report(self, entries, model: Model, ok_ids: list[int], prefix: list[int],
               rank: int, culprit: int) -> dict:
        """The deepest prefix, the op that cannot follow it, its concurrent ops and states."""
        blocking = ok_ids[culprit] if culprit < len(ok_ids) else None
        concurrent = []
        if blocking is not None:
            mask = prefix[max(rank, culprit)] & ~self.lin & ~(1 << blocking)
            concurrent = [entries[i].describe(model) for i in range(len(entries))
                          if mask >> i & 1]
        return {
            "linearized": self.depth,
            "prefix": [entries[i].describe(model) for i in self.path],
            "op": entries[blocking].describe(model) if blocking is not None else None,
            "concurrent": concurrent,
            "states": [model.describe(s) for s in self.states],
        }


def _check_partition(args) -> PartitionResult:
    """Worker entry point for process pools."""
    position, key, entries, model, deadline, cache_bytes, max_configurations = args
    result = search(entries, model, deadline=deadline, cache_bytes=cache_bytes, key=key,
                    max_configurations=max_configurations)
    result.position = position
    return result


def partitions(entries: list[Entry], model: Model) -> list[tuple[Any, list[Entry]]]:
    """The independent parts of a history, in order of their first operation."""
    kept = [e for e in entries if model.keep(e.call)]
    parts = model.partition([e.call for e in kept])
    result = [(k, [kept[i] for i in sorted(idx)]) for k, idx in parts]
    result.sort(key=lambda p: p[1][0].invoke if p[1] else -1)
    return result


def check_linearizable(history: Iterable[Op], model: Model | str = "cas-register",
                       time_limit: float | None = None, *, all_partitions: bool = False,
                       memory_limit: int = DEFAULT_MEMORY_LIMIT,
                       jobs: int | None = None) -> Verdict:
    """Check that a history is linearizable with respect to `model`.

    Returns a Verdict named "linearizable": valid True, False, or "unknown" when
    `time_limit` (seconds, for the whole check) ran out first. By default the check stops at
    the first partition that fails; `all_partitions=True` checks and reports every one.
    `memory_limit` bounds the memo cache in bytes. `jobs` is the number of processes used
    for independent partitions (None: decide from the history size and the CPU count).
    """
    if isinstance(model, str):
        model = get_model(model)
    started = time.monotonic()
    deadline = None if time_limit is None else started + time_limit
    parts = partitions(entries_from_history(history), model)
    total_ops = sum(len(p) for _, p in parts)
    if jobs is None:
        jobs = min(os.cpu_count() or 1, len(parts)) if total_ops >= PARALLEL_MIN_OPS else 1
    jobs = max(1, min(jobs, len(parts)))
    tasks = [(pos, k, p, model, deadline, memory_limit // jobs)
             for pos, (k, p) in enumerate(parts)]
    results = _run(tasks, jobs, all_partitions)
    return _verdict(model, parts, results, time.monotonic() - started)


def _run(tasks: list, jobs: int, all_partitions: bool) -> list[PartitionResult]:
    """Search partitions, stopping at the first failure unless asked for all.

    A first pass gives every partition a small budget of configurations, so that an easy
    refutation is found before a hard partition takes all the time; a second pass finishes
    the partitions that ran out of it. Results come back in partition order.
    """
    results: dict[int, PartitionResult] = {}
    pending = list(range(len(tasks)))
    for budget in (FIRST_PASS_CONFIGURATIONS, None):
        for res in _map([(*tasks[i], budget) for i in pending], jobs, all_partitions):
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
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    # Largest partitions first keeps the processes evenly busy.
    tasks = sorted(tasks, key=lambda t: -len(t[2]))
    with ctx.Pool(min(jobs, len(tasks))) as pool:
        for res in pool.imap_unordered(_check_partition, tasks):
            yield res
            if res.valid is False and not all_partitions:
                pool.terminate()  # the verdict is decided; do not wait for the rest
                return


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
    anomalies: dict[str, Any] = {"model": model.name, "stats": stats}
    if failed:
        valid: bool | str = False
        anomalies["failing_partitions"] = [_key(r.key) for r in failed]
        first = failed[0]
        where = "" if first.key is None else f" in partition {_key(first.key)!r}"
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
    witness = None
    if failed or undecided:
        witness = [{"partition": _key(r.key), "valid": r.valid, **r.failure}
                   for r in failed + undecided]
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
    end = "never completed" if op["complete"] is None else f"completed at {op['complete']}"
    return (f"op {op['index']} (process {op['process']}): {op['text']}; invoked at "
            f"{op['invoke']}, {end}")


def render(verdict: Verdict, *, max_prefix: int = 5) -> list[str]:
    """A few readable lines explaining a linearizability verdict."""
    lines = [verdict.explanation]
    for w in verdict.witness or ():
        where = "" if w["partition"] is None else f"partition {w['partition']!r}: "
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
    if undecided:
        lines.append("undecided partitions: " + ", ".join(map(repr, undecided)))
    unchecked = verdict.anomalies.get("unchecked_partitions")
    if unchecked:
        lines.append(f"{len(unchecked)} partitions not checked after the first failure "
                     "(use --all-keys to check every one)")
    return lines
