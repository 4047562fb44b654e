"""The kv-cas model (kv with compare-and-set, Raft's KV service) against independent oracles.

The checker (with its pruning: eager reads, look-ahead, derived orders) must agree with a
brute-force search and a z3 encoding that use only a plain sequential specification written
here, on histories linearizable by construction and on mutated ones.
"""
from __future__ import annotations

import random

import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lin_oracles import brute_force, paired

from faultlab.checkers.linearizability import check_linearizable, entries_from_history, partitions
from faultlab.checkers.models import FAIL, INFO, OK, Call, KVCas, Model
from faultlab.checkers.orders import derive_orders
from faultlab.histories.op import Op

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


class ReferenceKVCas(Model):
    """The sequential specification, spelled out with no compiled transitions."""

    name = "kv-cas-reference"

    def init(self):
        return ""

    def keep(self, call: Call) -> bool:
        return call.type != FAIL and not (call.f == "get" and call.type == INFO)

    def step(self, state, call: Call):
        arg = call.value[1]
        if call.f == "get":
            out = call.output[1]
            return state == ("" if out is None else out), state
        if call.f == "put":
            return True, arg
        if call.f == "append":
            return True, state + arg
        old, new = arg
        if call.type == OK:
            return state == old, new
        return True, new if state == old else state  # info


def _gen(rng: random.Random, state: str, tokens: str, n: int):
    """(f, value, output, type, next state) of a random op legal in `state`."""
    f = rng.choice(["get", "put", "append", "append", "cas", "cas"])
    if f == "get":
        return f, ["k", None], ["k", state], OK, state
    if f == "cas":
        old = state if rng.random() < 0.6 else rng.choice(["", *tokens])
        new = rng.choice(tokens) if rng.random() < 0.8 else state  # sometimes no change
        if state == old:
            return f, ["k", [old, new]], ["k", [old, new]], OK, new
        return f, ["k", [old, new]], ["k", [old, new]], FAIL, state
    v = rng.choice(tokens)
    return f, ["k", v], ["k", v], OK, (v if f == "put" else state + v)


def kvcas_history(rng: random.Random, n: int, tokens: str = "abcdefgh",
                  info_rate: float = 0.2, stretch: float = 2.0) -> list[Op]:
    """A kv-cas history linearizable by construction: op k takes effect at time k, then gets
    a random interval around k; some become info, and a few info ops never take effect."""
    state, events = "", []
    for k in range(n):
        f, value, output, kind, state = _gen(rng, state, tokens, n)
        invoke = k - rng.uniform(0, stretch)
        complete = k + rng.uniform(0, stretch)
        if kind == OK and rng.random() < info_rate:
            kind = INFO
        events.append((invoke, "invoke", k, f, value))
        if kind != INFO or rng.random() < 0.5:
            events.append((complete, kind, k, f, output if kind == OK else value))
    for extra in range(rng.randint(0, 2)):  # info writes that never took effect
        f, value, _, _, _ = _gen(rng, state, tokens, n)
        if f == "get":
            continue
        invoke = rng.uniform(0, n)
        events.append((invoke, "invoke", n + extra, f, value))
        events.append((invoke + rng.uniform(0, stretch), INFO, n + extra, f, value))
    events.sort(key=lambda e: e[0])
    return [Op(index=i, type=kind, process=proc, f=f, value=value, time=i)
            for i, (_, kind, proc, f, value) in enumerate(events)]


def mutate(rng: random.Random, history: list[Op], tokens: str = "abcdefgh") -> list[Op]:
    """Change one completion: a get's value, a cas's outcome, or where an op completes."""
    completions = [i for i, op in enumerate(history) if op.type in (OK, FAIL)]
    if not completions:
        return history
    i = rng.choice(completions)
    op = history[i]
    out = list(history)
    if op.f == "get":
        written = [o.value[1] for o in history if o.type == "invoke" and o.f != "get"]
        pieces = [w[1] if isinstance(w, list) else w for w in written] or list(tokens)
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
        out[i] = Op(op.index, op.type, op.process, op.f, ["k", value], op.time)
    elif op.f == "cas" and rng.random() < 0.5:
        out[i] = Op(op.index, FAIL if op.type == OK else OK, op.process, op.f, op.value,
                    op.time)
    else:
        j = rng.randrange(len(out))
        out.insert(j, out.pop(i))
        open_ops: set = set()
        for o in out:
            if o.type == "invoke":
                open_ops.add(o.process)
            elif o.process not in open_ops:
                return history
            else:
                open_ops.discard(o.process)
    return [Op(k, o.type, o.process, o.f, o.value, k) for k, o in enumerate(out)]


def z3_kvcas(history) -> bool:
    """z3: an order of the kept ops (info ops optionally dropped) respecting real time and
    the sequential specification, with string states."""
    model = ReferenceKVCas()
    ops = [o for o in paired(history) if model.keep(o[0])]
    n = len(ops)
    if n == 0:
        return True
    solver = z3.Solver()
    pos = [z3.Int(f"pos{i}") for i in range(n)]
    happens = [z3.Bool(f"h{i}") if ops[i][0].type == INFO else z3.BoolVal(True)
               for i in range(n)]
    states = [z3.String(f"s{k}") for k in range(n + 1)]
    solver.add(states[0] == z3.StringVal(""))
    solver.add(z3.Distinct(*pos))
    for i in range(n):
        solver.add(pos[i] >= 0, pos[i] < n)
        for j in range(n):
            if i != j and ops[i][2] < ops[j][1]:
                solver.add(z3.Implies(z3.And(happens[i], happens[j]), pos[i] < pos[j]))
    for k in range(n):
        s, t = states[k], states[k + 1]
        for i, (call, _, _) in enumerate(ops):
            arg = call.value[1]
            if call.f == "get":
                out = call.output[1]
                effect = z3.And(s == z3.StringVal("" if out is None else out), t == s)
            elif call.f == "put":
                effect = t == z3.StringVal(arg)
            elif call.f == "append":
                effect = t == z3.Concat(s, z3.StringVal(arg))
            elif call.type == OK:
                effect = z3.And(s == z3.StringVal(arg[0]), t == z3.StringVal(arg[1]))
            else:
                effect = t == z3.If(s == z3.StringVal(arg[0]), z3.StringVal(arg[1]), s)
            solver.add(z3.Implies(pos[i] == k, z3.If(happens[i], effect, t == s)))
    return solver.check() == z3.sat


@SETTINGS
@given(st.integers(1, 7), st.randoms(use_true_random=False), st.sampled_from(["abc", "abcdefgh"]))
def test_linearizable_by_construction(n, rng, tokens):
    history = kvcas_history(random.Random(rng.random()), n, tokens)
    assert check_linearizable(history, KVCas()).valid is True
    assert brute_force(history, ReferenceKVCas())


@SETTINGS
@given(st.integers(1, 7), st.randoms(use_true_random=False), st.sampled_from(["abc", "abcdefgh"]))
def test_checker_agrees_with_brute_force_on_mutated_histories(n, rng, tokens):
    r = random.Random(rng.random())
    history = mutate(r, kvcas_history(r, n, tokens), tokens)
    assert check_linearizable(history, KVCas()).valid == brute_force(history, ReferenceKVCas())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(8, 13), st.randoms(use_true_random=False), st.booleans())
def test_checker_agrees_with_z3(n, rng, mutated):
    r = random.Random(rng.random())
    history = kvcas_history(r, n)
    if mutated:
        history = mutate(r, history)
    assert check_linearizable(history, KVCas()).valid == z3_kvcas(history)


@SETTINGS
@given(st.integers(2, 9), st.randoms(use_true_random=False), st.booleans())
def test_a_derived_order_cycle_is_never_wrong(n, rng, mutated):
    r = random.Random(rng.random())
    history = kvcas_history(r, n)
    if mutated:
        history = mutate(r, history)
    model = KVCas()
    truth = brute_force(history, ReferenceKVCas())
    for _, part in partitions(entries_from_history(history), model):
        orders = derive_orders(part, model)
        if orders is not None and orders.cycle is not None:
            assert not truth, orders.cycle


def _history(rows):
    return [Op(i, t, p, f, v, time=i) for i, (t, p, f, v) in enumerate(rows)]


def test_a_put_of_the_current_value_is_not_linearized_eagerly():
    # The value is "a" when the slow put "a" is invoked; an append then makes it "ab", and a
    # later get reads "a": only the slow put, placed after the append, explains it.
    history = _history([
        ("invoke", 0, "put", ["k", "a"]), ("ok", 0, "put", ["k", "a"]),
        ("invoke", 1, "put", ["k", "a"]),
        ("invoke", 2, "append", ["k", "b"]), ("ok", 2, "append", ["k", "b"]),
        ("invoke", 3, "get", ["k", None]), ("ok", 1, "put", ["k", "a"]),
        ("ok", 3, "get", ["k", "a"]),
    ])
    assert brute_force(history, ReferenceKVCas())
    assert check_linearizable(history, KVCas()).valid is True
    # The same with a cas that writes the current value.
    history = _history([
        ("invoke", 0, "put", ["k", "a"]), ("ok", 0, "put", ["k", "a"]),
        ("invoke", 1, "cas", ["k", ["ab", "a"]]),
        ("invoke", 2, "append", ["k", "b"]), ("ok", 2, "append", ["k", "b"]),
        ("invoke", 3, "get", ["k", None]), ("ok", 1, "cas", ["k", ["ab", "a"]]),
        ("ok", 3, "get", ["k", "a"]),
    ])
    assert check_linearizable(history, KVCas()).valid is True


def test_an_ok_cas_needs_its_old_value():
    history = _history([
        ("invoke", 0, "put", ["k", "p1,"]), ("ok", 0, "put", ["k", "p1,"]),
        ("invoke", 1, "append", ["k", "2,"]), ("ok", 1, "append", ["k", "2,"]),
        ("invoke", 2, "cas", ["k", ["p1,", "c3,"]]), ("ok", 2, "cas", ["k", ["p1,", "c3,"]]),
    ])
    assert check_linearizable(history, KVCas()).valid is False
    assert not brute_force(history, ReferenceKVCas())


def test_a_read_of_a_cas_value_gives_derived_orders():
    # get "c3,4," saw the cas then the append: the put p5 that completed before the get was
    # invoked must precede the cas, which the cas's own interval forbids.
    history = _history([
        ("invoke", 0, "put", ["k", "p1,"]), ("ok", 0, "put", ["k", "p1,"]),
        ("invoke", 2, "cas", ["k", ["p1,", "c3,"]]), ("ok", 2, "cas", ["k", ["p1,", "c3,"]]),
        ("invoke", 3, "put", ["k", "p5,"]), ("ok", 3, "put", ["k", "p5,"]),
        ("invoke", 1, "append", ["k", "4,"]), ("ok", 1, "append", ["k", "4,"]),
        ("invoke", 4, "get", ["k", None]), ("ok", 4, "get", ["k", "c3,4,"]),
    ])
    model = KVCas()
    (_, part), = partitions(entries_from_history(history), model)
    orders = derive_orders(part, model)
    assert orders is not None and orders.cycle is not None
    assert check_linearizable(history, model).valid is False
    assert not brute_force(history, ReferenceKVCas())


def test_an_info_write_that_a_cas_compared_against_is_kept():
    # Only the pending append "b" explains the cas of "ab": it must not be left out.
    history = _history([
        ("invoke", 0, "put", ["k", "a"]), ("ok", 0, "put", ["k", "a"]),
        ("invoke", 1, "append", ["k", "b"]),
        ("invoke", 2, "cas", ["k", ["ab", "c"]]), ("ok", 2, "cas", ["k", ["ab", "c"]]),
        ("invoke", 3, "get", ["k", None]), ("ok", 3, "get", ["k", "c"]),
    ])
    assert check_linearizable(history, KVCas()).valid is True
    (_, part), = partitions(entries_from_history(history), KVCas())
    assert len(part) == 4


def test_info_writes_no_one_saw_are_left_out():
    rows = [("invoke", 0, "put", ["k", "p0,"]), ("ok", 0, "put", ["k", "p0,"])]
    rows += [("invoke", p, "append", ["k", f"{p},"]) for p in range(1, 12)]  # never complete
    rows += [("invoke", 20, "append", ["k", "20,"]), ("ok", 20, "append", ["k", "20,"]),
             ("invoke", 21, "get", ["k", None]), ("ok", 21, "get", ["k", "p0,20,"])]
    history = _history(rows)
    (_, part), = partitions(entries_from_history(history), KVCas())
    assert [e.call.f for e in part] == ["put", "append", "get"]
    assert check_linearizable(history, KVCas()).valid is True
    bad = _history(rows[:-1] + [("ok", 21, "get", ["k", "p0,3,"])])
    assert check_linearizable(bad, KVCas()).valid is False  # 20 must be in it
