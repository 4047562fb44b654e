"""Sequential specifications the linearizability checker checks histories against.

A model is like Porcupine's: `init()` gives the initial state, `step(state, call)` says whether
a call with its observed output is legal in a state and what state follows, `partition` splits
a history into independent parts (P-compositionality), `describe` renders a state. States must
be hashable and compare by value: the search memoises on them.

The checker calls `compile(call)` once per operation to get a one-argument transition; the
built-in models override it with closures because the search calls it millions of times.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, NamedTuple

from faultlab.checkers.orders import Observation
from faultlab.errors import FaultlabError

OK, FAIL, INFO = "ok", "fail", "info"


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self):  # keep identity across process pools
        return (_sentinel, (self.name,))


def _sentinel(name: str) -> _Sentinel:
    return {"UNSEEN": UNSEEN, "REJECT": REJECT}[name]


UNSEEN = _Sentinel("UNSEEN")
"""The output of an operation whose completion nobody saw (Jepsen `info`): not to be
confused with an "unknown" verdict, which is a checker running out of budget."""
REJECT = _Sentinel("REJECT")
"""Returned by a compiled transition when the call is illegal in the state."""


class Call(NamedTuple):
    """One operation as the model sees it: f, the invoked value, and the observed output.

    `type` is ok, fail or info; an info call's output is UNSEEN and the model must accept any
    output while still applying the call's effect.
    """

    f: str
    value: Any
    output: Any
    type: str = OK


_CONTAINERS = (list, dict, set, frozenset)


def freeze(x: Any) -> Any:
    """A hashable equal-by-value copy: lists become tuples, dicts sorted pair tuples."""
    if not isinstance(x, _CONTAINERS):  # most values: one test, not three
        return x
    if isinstance(x, list):
        return tuple(freeze(v) for v in x)
    if isinstance(x, dict):
        return tuple(sorted(((freeze(k), freeze(v)) for k, v in x.items()), key=repr))
    if isinstance(x, (set, frozenset)):
        return frozenset(freeze(v) for v in x)
    return x


class ModelError(FaultlabError):
    """A call the model does not understand (unknown f, malformed value)."""


class Model:
    """Base class: subclass and define `init` and `step`; the rest has sensible defaults."""

    name = "model"
    part_name = "partition"  # what a part of a partitioned history is called in reports

    def init(self) -> Hashable:
        """The state before any operation."""
        return None

    def init_for(self, key: Hashable) -> Hashable:
        """The state before any operation of the partition `key` (see `partition`)."""
        return self.init()

    def step(self, state, call: Call) -> tuple[bool, Hashable]:
        """(legal, next state) for applying `call` with its observed output in `state`."""
        raise NotImplementedError

    def keep(self, call: Call) -> bool:
        """Whether the checker must consider a call: by default failed calls did not happen."""
        return call.type != FAIL

    def read_only(self, call: Call) -> bool:
        """Whether the call never changes the state in any state (a read): the search then
        linearizes it as soon as the state accepts it instead of branching. Default False."""
        return False

    def partition(self, calls: list[Call]) -> list[tuple[Hashable, list[int]]]:
        """Split calls (by index) into independent groups, each checked on its own."""
        return [(None, list(range(len(calls))))]

    def compile(self, call: Call) -> Callable[[Any], Any]:
        """A transition `state -> next state or REJECT`; override for speed."""
        step = self.step

        def transition(state):
            legal, new = step(state, call)
            return new if legal else REJECT
        return transition

    def reachable(self, target: Call, concurrent: list[Call]) -> Callable[[Any], bool] | None:
        """Optional pruning: a predicate on states that is False only when `target` can never
        become legal, if at most the `concurrent` calls run before it. None: no pruning."""
        return None

    def observations(self, calls: list[Call]) -> list[Observation] | None:
        """Optional: what ok reads reveal about the order of writes (see `orders`), for a
        cycle check before the search and pruning in it. None: nothing."""
        return None

    def describe(self, state) -> str:
        return repr(state)

    def describe_call(self, call: Call) -> str:
        """`f value -> output`, with the output shown only when it says something new."""
        text = call.f if call.value is None else f"{call.f} {_show(call.value)}"
        if call.type == OK and call.output != call.value:
            return f"{text} -> {_show(call.output)}"
        return text if call.type == OK else f"{text} ({call.type})"


def _show(x: Any) -> str:
    """EDN-like rendering: nil, [1 2], "s"."""
    if x is None:
        return "nil"
    if isinstance(x, (list, tuple)):
        return "[" + " ".join(_show(v) for v in x) + "]"
    return repr(x)


def _bad(model: Model, call: Call) -> ModelError:
    return ModelError(f"model {model.name} does not understand operation "
                      f"{call.f} {call.value!r}")


class Register(Model):
    """A read/write register starting at `initial` (nil)."""

    name = "register"

    def __init__(self, initial: Any = None):
        self.initial = freeze(initial)

    def init(self):
        return self.initial

    def keep(self, call: Call) -> bool:
        # A failed op did not happen; a read whose result is unknown observed nothing.
        return call.type != FAIL and not (call.f == "read" and call.type == INFO)

    def read_only(self, call: Call) -> bool:
        return call.f == "read"

    def step(self, state, call: Call):
        new = self.compile(call)(state)
        return (new is not REJECT), (state if new is REJECT else new)

    def compile(self, call: Call):
        f = call.f
        if f == "read":
            v = freeze(call.output)
            return lambda s: s if s == v else REJECT
        if f == "write":
            v = freeze(call.value)
            return lambda s: v
        raise _bad(self, call)

    def reachable(self, target: Call, concurrent: list[Call]):
        if target.f != "read":
            return None
        v = freeze(target.output)
        if any(self._writes(c, v) for c in concurrent):
            return None
        return lambda s: s == v

    def _writes(self, call: Call, v) -> bool:
        """Whether `call` could set the register to v."""
        return call.f == "write" and freeze(call.value) == v

    def describe(self, state) -> str:
        return _show(state)


CAS_FAIL_READINGS = ("no-effect", "observes")


class CASRegister(Register):
    """A register with compare-and-set; `cas` takes [from to].

    A failed CAS has two readings. `no-effect` (Jepsen's and Knossos's): it did not happen,
    and constrains nothing. `observes` (Porcupine's): the value differed from `from` at some
    point in the op's interval.
    """

    name = "cas-register"

    def __init__(self, initial: Any = None, cas_fail: str = "no-effect"):
        super().__init__(initial)
        if cas_fail not in CAS_FAIL_READINGS:
            raise ModelError(f"a failed CAS reading is one of {', '.join(CAS_FAIL_READINGS)}, "
                             f"not {cas_fail!r}")
        self.cas_fail = cas_fail

    def keep(self, call: Call) -> bool:
        if call.type == FAIL:
            return call.f == "cas" and self.cas_fail == "observes"
        return not (call.f == "read" and call.type == INFO)

    def read_only(self, call: Call) -> bool:
        return call.f == "read" or (call.f == "cas" and call.type == FAIL)

    def compile(self, call: Call):
        if call.f != "cas":
            return Register.compile(self, call)  # (called once per op: super() costs 40%)
        try:
            a, b = (freeze(x) for x in call.value)
        except (TypeError, ValueError):
            raise _bad(self, call) from None
        if call.type == OK:
            return lambda s: b if s == a else REJECT
        if call.type == FAIL:
            return lambda s: REJECT if s == a else s
        return lambda s: b if s == a else s  # info: swapped, or compared and did nothing

    def reachable(self, target: Call, concurrent: list[Call]):
        if target.f == "cas" and target.type == OK:
            v = freeze(target.value[0])
        elif target.f == "read":
            v = freeze(target.output)
        else:
            return None
        if any(self._writes(c, v) for c in concurrent):
            return None
        return lambda s: s == v

    def _writes(self, call: Call, v) -> bool:
        if call.f == "cas":
            return call.type != FAIL and freeze(call.value[1]) == v
        return super()._writes(call, v)


def _kv_parts(model: Model, call: Call):
    try:
        key, value = call.value
    except (TypeError, ValueError):
        raise ModelError(f"model {model.name} expects [key value], got {call.value!r}") from None
    return freeze(key), value


class KV(Model):
    """A key/value store of strings with get, put and append; a missing key reads "".

    Partitioned by key, each part's state is that key's string. With `partitioned=False` the
    state is the whole map (a sorted tuple of pairs), for comparison with Porcupine.
    """

    name = "kv"
    part_name = "key"

    def __init__(self, partitioned: bool = True, initial: dict | None = None):
        self.partitioned = partitioned
        self.initial = _initial_map(self, initial, str)

    def init(self):
        return "" if self.partitioned else tuple(sorted(self.initial.items()))

    def init_for(self, key):
        return self.initial.get(key, "") if self.partitioned else self.init()

    def keep(self, call: Call) -> bool:
        return call.type != FAIL and not (call.f == "get" and call.type == INFO)

    def read_only(self, call: Call) -> bool:
        return call.f == "get"

    def partition(self, calls):
        if not self.partitioned:
            return [(None, list(range(len(calls))))]
        groups: dict = {}
        for i, call in enumerate(calls):
            groups.setdefault(_kv_parts(self, call)[0], []).append(i)
        return list(groups.items())

    def step(self, state, call: Call):
        new = self.compile(call)(state)
        return (new is not REJECT), (state if new is REJECT else new)

    def compile(self, call: Call):
        key, value = _kv_parts(self, call)
        f = call.f
        if f == "get":
            value = call.output[1] if isinstance(call.output, (list, tuple)) else call.output
            value = "" if value is None else value
        elif f not in ("put", "append"):
            raise _bad(self, call)
        if not self.partitioned:
            return self._compile_map(f, key, value)
        if f == "get":
            return lambda s: s if s == value else REJECT
        if f == "put":
            return lambda s: value
        return lambda s: s + value

    def _compile_map(self, f, key, value):
        def transition(state):
            d = dict(state)
            old = d.get(key, "")
            if f == "get":
                return state if old == value else REJECT
            d[key] = value if f == "put" else old + value
            return tuple(sorted(d.items()))
        return transition

    def reachable(self, target: Call, concurrent: list[Call]):
        if target.f != "get":
            return None
        key, _ = _kv_parts(self, target)
        out = target.output[1] if isinstance(target.output, (list, tuple)) else target.output
        want = "" if out is None else out
        if not isinstance(want, str):
            return None
        for c in concurrent:  # (every call's [key value] shape was checked by `partition`)
            if c.f == "put" and freeze(c.value[0]) == key:
                v = c.value[1]
                if not isinstance(v, str) or want.startswith(v):
                    return None  # the get may read this put plus appends: any state will do
        # Only appends can run before the get: the key's value can only grow to `want`.
        if self.partitioned:
            return lambda s: want.startswith(s)
        return lambda s: want.startswith(dict(s).get(key, ""))

    def observations(self, calls: list[Call]):
        """For each ok get whose value splits into written values in exactly one way: the
        put it starts from (or the start) and the appends after it, in order.

        Partitioned only. Any empty or non-string written value turns this off: an empty
        append could hide anywhere in a value.
        """
        if not self.partitioned:
            return None
        puts: dict[str, list[int]] = {}
        appends: dict[str, list[int]] = {}
        for i, call in enumerate(calls):
            written = self._written(call)
            if written is not None:
                kind, value = written
                if not isinstance(value, str) or not value:
                    return None
                (puts if kind == "put" else appends).setdefault(value, []).append(i)
        lengths = sorted({len(v) for v in appends})
        put_lengths = sorted({len(v) for v in puts})
        found = []
        parses: dict[str, Any] = {}  # consecutive reads often return the same value
        for i, call in enumerate(calls):
            if call.f == "get" and call.type == OK:
                out = call.output[1] if isinstance(call.output, (list, tuple)) else call.output
                out = "" if out is None else out
                if isinstance(out, str):
                    if out not in parses:
                        parses[out] = _unique_parse(out, puts, appends, lengths,
                                                    put_lengths)
                    parsed = parses[out]
                    if parsed is not None:
                        found.append(Observation(i, *parsed))
        return found

    def _written(self, call: Call):
        """("put", value) for a call that, if it takes effect, replaces the key's value with
        `value`; ("append", value) for one that appends; None for a read."""
        if call.f in ("put", "append"):
            return call.f, _kv_parts(self, call)[1]
        return None

    def describe(self, state) -> str:
        return repr(state) if self.partitioned else repr(dict(state))


class KVCas(KV):
    """The kv model (strings per key, a missing key reads "") with `cas [key [old new]]`.

    Partitioned by key. A failed cas did nothing (Knossos's reading: a client also gets fail
    when its request never reached the store), so failed cas calls are dropped. An ok cas
    needed the value `old` and set `new`; an info cas either did that or nothing.

    For the derived orders and the look-ahead, a cas that took effect is a put of `new`:
    it replaced the whole value. That is all those analyses assume of a put (which values a
    key can hold, and that every value is one replacement followed by appends), so they apply
    unchanged; an ok cas is also a look-ahead target, like a get reading `old`.
    """

    name = "kv-cas"

    def __init__(self, initial: dict | None = None):
        super().__init__(partitioned=True, initial=initial)

    def _cas_parts(self, call: Call):
        try:
            old, new = _kv_parts(self, call)[1]
        except (TypeError, ValueError):
            raise ModelError(f"model {self.name} expects cas [key [old new]], got "
                             f"{call.value!r}") from None
        return freeze(old), freeze(new)

    def partition(self, calls):
        """By key, leaving out each info write whose value no get returned and no cas
        compared against, even in part.

        Such a write never mattered: had it taken effect, every value the key held until the
        next put (or the end) would contain what it wrote; no get or ok cas happened there,
        and an info cas there either did nothing (so it may as well not have happened) or
        compared a value containing it. So if a linearization places it, the same order
        without it (and without those info cas) is one too. Searching it only multiplies
        the orders to try: a few such pending appends made histories undecidable.
        """
        seen: list[str] = []
        for call in calls:
            if call.f == "get" and call.type == OK:
                out = call.output[1] if isinstance(call.output, (list, tuple)) else call.output
                seen.append(out if isinstance(out, str) else None)
            elif call.f == "cas":
                seen.append(self._cas_parts(call)[0])
        if any(not isinstance(v, str) for v in seen if v is not None):
            seen = None  # a value that is not a string: keep every call
        groups = super().partition(calls)
        if seen is None:
            return groups
        texts = [v for v in seen if v]

        def unseen(call: Call) -> bool:
            if call.type != INFO:
                return False
            written = self._written(call)
            if written is None or not isinstance(written[1], str) or not written[1]:
                return False
            return not any(written[1] in t for t in texts)
        return [(k, [i for i in idx if not unseen(calls[i])]) for k, idx in groups]

    def compile(self, call: Call):
        if call.f != "cas":
            return KV.compile(self, call)  # (as in CASRegister.compile)
        old, new = self._cas_parts(call)
        if call.type == OK:
            return lambda s: new if s == old else REJECT
        return lambda s: new if s == old else s  # info: swapped, or compared and did nothing

    def reachable(self, target: Call, concurrent: list[Call]):
        """As for kv, and an ok cas needs the value `old` as a get needs the value it read.
        A put or a cas sets a value; only when none of those the target may follow sets a
        prefix of the value it needs can that value only be reached by appends."""
        if target.f == "get":
            out = target.output[1] if isinstance(target.output, (list, tuple)) else target.output
            want = "" if out is None else out
        elif target.f == "cas" and target.type == OK:
            want = self._cas_parts(target)[0]
        else:
            return None
        if not isinstance(want, str):
            return None
        for c in concurrent:  # the calls of one partition: one key
            f = c.f
            if f == "put":
                v = c.value[1]
            elif f == "cas":
                v = c.value[1][1]
            else:
                continue
            if not isinstance(v, str) or want.startswith(v):
                return None  # the target may see this write plus appends: any state will do
        return want.startswith

    def _written(self, call: Call):
        if call.f == "cas":
            return "put", self._cas_parts(call)[1]
        return super()._written(call)


def _unique_parse(value: str, puts: dict, appends: dict, lengths: list[int],
                  put_lengths: list[int]):
    """(chain, from_start) if `value` is, in exactly one way, one put's value (or nothing)
    followed by append values, counting ops that wrote the same value as different ways.
    `lengths` and `put_lengths` are the lengths of the append and put values."""
    n = len(value)
    # The puts `value` starts with, found by length: a read costs the number of distinct
    # lengths, not the number of puts.
    prefixes = [(size, puts[value[:size]]) for size in put_lengths
                if size <= n and value[:size] in puts]
    # Only positions some split can reach matter: find them going forward from every start,
    # then count splits of value[p:] into appends backwards from the end, capped at 2.
    reach = {0} | {size for size, _ in prefixes}
    todo = sorted(reach)
    while todo:
        p = todo.pop()
        for size in lengths:
            q = p + size
            if q <= n and q not in reach and value[p:q] in appends:
                reach.add(q)
                todo.append(q)
    ways = dict.fromkeys(reach, 0)
    ways[n] = 1
    for p in sorted(reach, reverse=True):
        if p < n:
            w = sum(len(appends.get(value[p:p + size], ())) * ways.get(p + size, 0)
                    for size in lengths if p + size <= n)
            ways[p] = min(w, 2)
    starts = [(0, None)] if ways[0] else []
    starts += [(size, ops) for size, ops in prefixes if ways[size]]
    total = sum(ways[p] * (1 if ops is None else len(ops)) for p, ops in starts)
    if total != 1:
        return None
    p, put = starts[0]
    chain = [] if put is None else [put[0]]
    while p < n:
        for size in lengths:
            ops = appends.get(value[p:p + size]) if p + size <= n else None
            if ops and ways.get(p + size):
                chain.append(ops[0])
                p += size
                break
    if len(set(chain)) != len(chain):
        return None  # an op seen twice: impossible, which the search will show
    return tuple(chain), put is None


_READ, _WRITE = ("r", "read"), ("w", "write")


class MultiRegister(Model):
    """Registers under keys, read and written by transactions: `txn [[:r :x nil] [:w :y 2]]`.

    Transactions touching disjoint keys are independent: the history is partitioned into
    connected components of keys.
    """

    name = "multi-register"

    def __init__(self, initial: dict | None = None):
        self.initial = _initial_map(self, initial, object)

    def init(self):
        return tuple(sorted(self.initial.items(), key=repr))

    def init_for(self, key):
        return tuple(sorted(((k, v) for k, v in self.initial.items()
                             if key is None or self._group.get(k) == key), key=repr))

    def _mops(self, call: Call, value):
        if call.f not in ("txn", "read", "write") or not isinstance(value, (list, tuple)):
            raise _bad(self, call)
        mops = []
        for mop in value:
            if not isinstance(mop, (list, tuple)) or len(mop) != 3 or \
                    mop[0] not in _READ + _WRITE:
                raise ModelError(f"model {self.name}: bad micro-op {mop!r} "
                                 "(expected [:r key value] or [:w key value])")
            mops.append((mop[0] in _READ, freeze(mop[1]), freeze(mop[2])))
        return mops

    def keep(self, call: Call) -> bool:
        if call.type == FAIL:
            return False
        if call.type == INFO:  # unknown reads observe nothing; only writes matter
            return any(not r for r, _, _ in self._mops(call, call.value))
        return True

    def read_only(self, call: Call) -> bool:
        return all(r for r, _, _ in self._mops(call, call.value))

    def partition(self, calls):
        parent: dict = {}

        def find(k):
            while parent.setdefault(k, k) != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k
        keys_of = []
        for call in calls:
            keys = [k for _, k, _ in self._mops(call, call.value)]
            keys_of.append(keys)
            for k in keys[1:]:
                parent[find(k)] = find(keys[0])
        groups: dict = {}
        for i, keys in enumerate(keys_of):
            root = find(keys[0]) if keys else None
            groups.setdefault(root, []).append(i)
        self._group = {k: find(k) for k in parent}  # for init_for: which initial keys
        return list(groups.items())

    def step(self, state, call: Call):
        new = self.compile(call)(state)
        return (new is not REJECT), (state if new is REJECT else new)

    def compile(self, call: Call):
        known = call.type == OK
        mops = self._mops(call, call.output if known else call.value)
        if not known:
            mops = [m for m in mops if not m[0]]

        def transition(state):
            d = dict(state)
            for is_read, k, v in mops:
                if is_read:
                    if d.get(k) != v:
                        return REJECT
                else:
                    d[k] = v
            return tuple(sorted(d.items(), key=repr))
        return transition

    def describe(self, state) -> str:
        return "{" + ", ".join(f"{k!r} {v!r}" for k, v in state) + "}"


class SetModel(Model):
    """A grow-only set: `add v`, and `read` returning every element."""

    name = "set"

    def __init__(self, initial=None):
        self.initial = frozenset(freeze(v) for v in _initial_items(self, initial))

    def init(self):
        return self.initial

    def keep(self, call: Call) -> bool:
        return call.type != FAIL and not (call.f == "read" and call.type == INFO)

    def read_only(self, call: Call) -> bool:
        return call.f == "read"

    def step(self, state, call: Call):
        if call.f == "add":
            return True, state | {freeze(call.value)}
        if call.f == "read":
            return state == self._read(call), state
        raise _bad(self, call)

    def compile(self, call: Call):
        if call.f == "add":
            v = freeze(call.value)
            return lambda s: s | {v}
        if call.f == "read":
            want = self._read(call)
            return lambda s: s if s == want else REJECT
        raise _bad(self, call)

    @staticmethod
    def _read(call: Call) -> frozenset:
        out = call.output
        if not isinstance(out, (list, tuple, set, frozenset)) and out is not None:
            raise ModelError(f"model set reads a collection, got {out!r}")
        return frozenset(freeze(v) for v in out or ())

    def partition(self, calls):
        """One part, leaving out each info add of an element no ok read returned.

        Had it taken effect, every later read would hold its element (the set only grows);
        none does, so it happened after every read or never, and either way the same
        linearization holds without it. Searching it only multiplies the orders to try: one
        such add made the search exponential in the number of other pending adds."""
        seen = set()
        for call in calls:
            if call.f == "read" and call.type == OK:
                seen |= self._read(call)
        return [(None, [i for i, call in enumerate(calls)
                        if not (call.f == "add" and call.type == INFO
                                and freeze(call.value) not in seen)])]

    def reachable(self, target: Call, concurrent: list[Call]):
        """A read of S can follow a state only when the state is within S and the rest of S
        can still be added by the calls that may run before it."""
        if target.f != "read":
            return None
        want = self._read(target)
        addable = frozenset(freeze(c.value) for c in concurrent if c.f == "add")
        return lambda s: s <= want and want - s <= addable

    def describe(self, state) -> str:
        return "#{" + " ".join(sorted(repr(v) for v in state)) + "}"


class UnorderedQueue(Model):
    """A multiset queue: `enqueue v`, `dequeue` returning any element present.

    A dequeue that returned nil is treated as failed (Jepsen clients report an empty queue as
    :fail). An info dequeue is ignored: removing an element can only make later dequeues
    illegal, so "it never happened" is always the most permissive choice and loses nothing.
    """

    name = "unordered-queue"

    def __init__(self, initial=None):
        self.initial = tuple(sorted((freeze(v) for v in _initial_items(self, initial)),
                                    key=repr))

    def init(self):
        return self.initial

    def keep(self, call: Call) -> bool:
        if call.f == "dequeue":
            return call.type == OK and call.output is not None
        return call.type != FAIL

    def step(self, state, call: Call):
        v = freeze(call.output if call.f == "dequeue" else call.value)
        if call.f == "enqueue":
            return True, tuple(sorted(state + (v,), key=repr))
        if call.f == "dequeue":
            if v not in state:
                return False, state
            i = state.index(v)
            return True, state[:i] + state[i + 1:]
        raise _bad(self, call)


class FIFOQueue(Model):
    """A first-in first-out queue: `enqueue v`, `dequeue` returning the head.

    A dequeue that returned nil is treated as failed; an info dequeue removes the head or
    never happened.
    """

    name = "fifo-queue"

    def __init__(self, initial=None):
        self.initial = tuple(freeze(v) for v in _initial_items(self, initial))

    def init(self):
        return self.initial

    def keep(self, call: Call) -> bool:
        if call.f == "dequeue" and call.type == OK:
            return call.output is not None
        return call.type != FAIL

    def step(self, state, call: Call):
        if call.f == "enqueue":
            return True, state + (freeze(call.value),)
        if call.f == "dequeue":
            if not state:
                return False, state
            if call.type == INFO:
                return True, state[1:]
            return state[0] == freeze(call.output), state[1:]
        raise _bad(self, call)


class Mutex(Model):
    """A lock: `acquire` needs it free, `release` needs it held."""

    name = "mutex"

    def __init__(self, initial: bool | None = None):
        if initial not in (None, True, False):
            raise ModelError(f"model mutex starts locked (true) or free (false), "
                             f"not {initial!r}")
        self.initial = bool(initial)

    def init(self):
        return self.initial

    def step(self, state, call: Call):
        if call.f == "acquire":
            return (not state), True
        if call.f == "release":
            return state, False
        raise _bad(self, call)

    def describe(self, state) -> str:
        return "locked" if state else "free"


def _initial_map(model: Model, initial, value_type) -> dict:
    if initial is None:
        return {}
    if not isinstance(initial, dict):
        raise ModelError(f"model {model.name} starts from a map of keys to values, "
                         f"not {initial!r}")
    out = {freeze(k): freeze(v) for k, v in initial.items()}
    if value_type is str and not all(isinstance(v, str) for v in out.values()):
        raise ModelError(f"model {model.name} holds strings; the initial map has "
                         f"{initial!r}")
    return out


def _initial_items(model: Model, initial) -> list:
    if initial is None:
        return []
    if not isinstance(initial, (list, tuple, set, frozenset)):
        raise ModelError(f"model {model.name} starts from a collection, not {initial!r}")
    return list(initial)


class Independent(Model):
    """Jepsen's independent keys (`jepsen.independent`): every value is [key value], and
    each key is a separate object of the inner model, checked on its own."""

    part_name = "key"

    def __init__(self, inner: Model):
        self.inner = inner
        self.name = inner.name

    @staticmethod
    def _key(call: Call):
        value = call.value
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ModelError(f"a keyed history needs [key value] values, got {call.f} "
                             f"{value!r}")
        return freeze(value[0])

    @staticmethod
    def unwrap(call: Call) -> Call:
        """The call as the inner model sees it: without its key."""
        out = call.output
        if isinstance(out, (list, tuple)) and len(out) == 2:
            out = out[1]
        return Call(call.f, call.value[1], out, call.type)

    def partition(self, calls: list[Call]):
        groups: dict = {}
        for i, call in enumerate(calls):
            groups.setdefault(self._key(call), []).append(i)
        return list(groups.items())

    def init_for(self, key):
        return self.inner.init()

    def keep(self, call: Call) -> bool:
        return self.inner.keep(self.unwrap(call))

    def read_only(self, call: Call) -> bool:
        return self.inner.read_only(self.unwrap(call))

    def step(self, state, call: Call):
        return self.inner.step(state, self.unwrap(call))

    def compile(self, call: Call):
        return self.inner.compile(self.unwrap(call))

    def reachable(self, target: Call, concurrent: list[Call]):
        return self.inner.reachable(self.unwrap(target), [self.unwrap(c) for c in concurrent])

    def describe(self, state) -> str:
        return self.inner.describe(state)

    def describe_call(self, call: Call) -> str:
        return self.inner.describe_call(self.unwrap(call))


INDEPENDENT_MODELS = ("register", "cas-register", "set", "unordered-queue", "fifo-queue",
                      "mutex")
"""Models whose Jepsen histories may be keyed: values [key value] (`jepsen.independent`)."""


def looks_keyed(name: str, values: Iterable[tuple[str, Any]]) -> bool:
    """Whether a history's invoked (f, value)s (client ops only) look like
    `jepsen.independent` ones for model `name`: every value a [key value] pair, and for a
    cas-register every cas value [key [from to]] (a plain cas value [from to] is a pair too)
    and some cas or write. One pass, stopping at the first value that says no."""
    if name not in INDEPENDENT_MODELS:
        return False
    cas_register, seen, writes = name == "cas-register", False, False
    for f, v in values:
        if not (isinstance(v, (list, tuple)) and len(v) == 2):
            return False
        seen = True
        if cas_register and f in ("cas", "write"):
            if f == "cas" and not (isinstance(v[1], (list, tuple)) and len(v[1]) == 2):
                return False
            writes = True
    return seen and (writes or not cas_register)


MODELS: dict[str, Callable[[], Model]] = {
    "register": Register,
    "cas-register": CASRegister,
    "kv": KV,
    "kv-cas": KVCas,
    "multi-register": MultiRegister,
    "set": SetModel,
    "unordered-queue": UnorderedQueue,
    "fifo-queue": FIFOQueue,
    "mutex": Mutex,
}
"""Model factories by CLI name."""


def get_model(name: str, *, independent: bool = False, **options) -> Model:
    """The model registered under `name`, built with `options` (`initial`, and `cas_fail`
    for the cas-register); with `independent`, keyed as `jepsen.independent` histories are.
    ModelError if unknown."""
    factory = MODELS.get(name)
    if factory is None:
        raise ModelError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    if independent and name not in INDEPENDENT_MODELS:
        raise ModelError(f"model {name} is keyed already; --independent applies to "
                         f"{', '.join(INDEPENDENT_MODELS)}")
    try:
        model = factory(**options)
    except TypeError:
        raise ModelError(f"model {name} takes no option "
                         f"{', '.join(sorted(options))}") from None
    return Independent(model) if independent else model
