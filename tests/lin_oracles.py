"""Independent oracles for the linearizability checker, and history generators for tests.

- `brute_force`: tries every real-time-respecting order of a tiny history, through the
  public `Model.step` interface only (no compiled transitions, no pruning, no memo).
- `z3_linearizable`: asks z3 whether a total order exists that respects real time and the
  sequential specification, for register, cas-register, mutex and single-key kv histories.
- `sequential_history`: a history linearizable by construction, from a sequential execution
  with random real-time stretching, info crashes and failed CAS.
"""
from __future__ import annotations

import random

import z3

from faultlab.checkers.models import FAIL, INFO, OK, UNSEEN, Call, Model
from faultlab.histories.op import Op


def paired(history) -> list[tuple[Call, int, float]]:
    """(call, invoke position, completion position or inf) for the ops the model keeps."""
    open_ops, out = {}, []
    for pos, op in enumerate(history):
        if op.type == "invoke":
            open_ops[op.process] = (pos, op)
            continue
        start, inv = open_ops.pop(op.process)
        if op.type == INFO:
            out.append((Call(inv.f, inv.value, UNSEEN, INFO), start, float("inf")))
        else:
            out.append((Call(inv.f, inv.value, op.value, op.type), start, pos))
    for start, inv in open_ops.values():
        out.append((Call(inv.f, inv.value, UNSEEN, INFO), start, float("inf")))
    return out


def brute_force(history, model: Model) -> bool:
    """Exhaustive search over orders; info ops may also be left out entirely."""
    ops = [o for o in paired(history) if model.keep(o[0])]
    n = len(ops)

    def extend(done: frozenset, state) -> bool:
        pending = [i for i in range(n) if i not in done]
        if all(ops[i][0].type == INFO for i in pending):
            return True  # the remaining info ops never took effect
        for i in pending:
            call, invoke, _ = ops[i]
            # Real time: nothing pending may have completed before i was invoked.
            if any(ops[j][2] < invoke for j in pending if j != i):
                continue
            legal, new = model.step(state, call)
            if legal and extend(done | {i}, new):
                return True
            if call.type == INFO and extend(done | {i}, state):  # it never happened
                return True
        return False

    return extend(frozenset(), model.init())


def _code(values: dict, v) -> int:
    key = repr(v)
    return values.setdefault(key, len(values))


def z3_linearizable(history, model: Model) -> bool:
    """z3: is there an order of the ops (info ops optionally dropped) that respects real time
    and the model? Supports register, cas-register, mutex and kv on one key."""
    ops = [o for o in paired(history) if model.keep(o[0])]
    n = len(ops)
    if n == 0:
        return True
    name = model.name
    strings = name == "kv"
    values: dict = {}
    sort = z3.StringSort() if strings else z3.IntSort()
    if strings:
        enc = z3.StringVal
    elif name == "mutex":
        def enc(v):
            return z3.IntVal(1 if v else 0)
    else:
        def enc(v):
            return z3.IntVal(_code(values, v))
    solver = z3.Solver()
    pos = [z3.Int(f"pos{i}") for i in range(n)]
    happens = [z3.Bool(f"h{i}") if ops[i][0].type == INFO else z3.BoolVal(True)
               for i in range(n)]
    states = [z3.Const(f"s{k}", sort) for k in range(n + 1)]
    solver.add(states[0] == enc(model.init()))
    solver.add(z3.Distinct(*pos))
    for i in range(n):
        solver.add(pos[i] >= 0, pos[i] < n)
        for j in range(n):
            if i != j and ops[i][2] < ops[j][1]:
                solver.add(z3.Implies(z3.And(happens[i], happens[j]), pos[i] < pos[j]))
    for k in range(n):
        s, t = states[k], states[k + 1]
        for i, (call, _, _) in enumerate(ops):
            effect = _z3_step(name, call, s, t, enc, model)
            solver.add(z3.Implies(pos[i] == k, z3.If(happens[i], effect, t == s)))
    return solver.check() == z3.sat


def _z3_step(name: str, call: Call, s, t, enc, model: Model):
    """The transition s -> t of `call` as a z3 formula."""
    f, known = call.f, call.type == OK
    if name == "mutex":
        if f == "acquire":
            return z3.And(s == 0, t == 1)
        return z3.And(s == 1, t == 0)
    if name == "kv":
        value = call.value[1]
        if f == "get":
            out = call.output[1]
            return z3.And(s == z3.StringVal("" if out is None else out), t == s)
        if f == "put":
            return t == z3.StringVal(value)
        return t == z3.Concat(s, z3.StringVal(value))
    if f == "read":
        return z3.And(s == enc(call.output), t == s)
    if f == "write":
        return t == enc(call.value)
    a, b = enc(call.value[0]), enc(call.value[1])
    if call.type == FAIL:  # Porcupine's reading: the compare failed
        return z3.And(s != a, t == s)
    if known:
        return z3.And(s == a, t == b)
    return t == z3.If(s == a, b, s)


def sequential_history(rng: random.Random, model_name: str, n: int,
                       info_rate: float = 0.2, stretch: float = 2.0) -> list[Op]:
    """A history linearizable by construction.

    Ops are generated sequentially against the model; op k takes effect at time k. Each is
    then given a random real-time interval around that point; some completions become info
    (they still took effect) and a few extra info ops that never took effect are added.
    """
    state, events = _initial(model_name), []
    for k in range(n):
        f, value, output, kind, state = _gen_op(rng, model_name, state)
        invoke = k - rng.uniform(0, stretch)
        complete = k + rng.uniform(0, stretch)
        if rng.random() < info_rate:
            kind = INFO
        events.append((invoke, "invoke", k, f, value))
        if kind != INFO or rng.random() < 0.5:  # an info op may also never complete
            events.append((complete, kind, k, f, output if kind == OK else value))
    for extra in range(rng.randint(0, 2)):  # info ops that never took effect
        f, value, _, _, _ = _gen_op(rng, model_name, state)
        if f in ("read", "get"):
            continue
        invoke = rng.uniform(0, n)
        events.append((invoke, "invoke", n + extra, f, value))
        events.append((invoke + rng.uniform(0, stretch), INFO, n + extra, f, value))
    events.sort(key=lambda e: e[0])
    return [Op(index=i, type=kind, process=proc, f=f, value=value, time=i)
            for i, (_, kind, proc, f, value) in enumerate(events)]


def _initial(model_name: str):
    return {"kv": "", "kv-tokens": "", "mutex": False}.get(model_name)


def _gen_op(rng: random.Random, model_name: str, state):
    """(f, value, output, type, next state) of a random legal op in `state`."""
    if model_name == "mutex":
        return ("release", None, None, OK, False) if state else \
            ("acquire", None, None, OK, True)
    if model_name in ("kv", "kv-tokens"):
        f = rng.choice(["get", "put", "append", "append"])
        # kv-tokens: mostly distinct letters, so most reads split into writes in one way
        # and the derived-order analysis has something to work on.
        v = rng.choice("abc" if model_name == "kv" else "abcdefgh")
        if f == "get":
            return f, ["k", None], ["k", state], OK, state
        new = v if f == "put" else state + v
        return f, ["k", v], ["k", v], OK, new
    fs = ["read", "write", "cas"] if model_name == "cas-register" else ["read", "write"]
    f = rng.choice(fs)
    if f == "read":
        return f, None, state, OK, state
    if f == "write":
        v = rng.randint(0, 2)
        return f, v, v, OK, v
    a, b = rng.randint(0, 2), rng.randint(0, 2)
    if state == a:
        return f, [a, b], [a, b], OK, b
    return f, [a, b], [a, b], FAIL, state


def mutate(rng: random.Random, history: list[Op]) -> list[Op]:
    """Change one completion's value or type: the result may or may not be linearizable."""
    completions = [i for i, op in enumerate(history) if op.type in (OK, FAIL)]
    if not completions:
        return history
    i = rng.choice(completions)
    op = history[i]
    out = list(history)
    if op.f in ("read", "get") and op.type == OK:
        if op.f == "get":
            value = ["k", rng.choice(["", "a", "b", "ab", "ba", "c"])]
        else:
            value = rng.choice([None, 0, 1, 2])
        out[i] = Op(op.index, op.type, op.process, op.f, value, op.time)
    elif op.f == "cas":
        out[i] = Op(op.index, FAIL if op.type == OK else OK, op.process, op.f, op.value,
                    op.time)
    else:
        j = rng.randrange(len(out))  # move the completion to another place
        moved = out.pop(i)
        out.insert(j, moved)
        if not _well_formed(out):
            return history
    return [Op(k, o.type, o.process, o.f, o.value, k) for k, o in enumerate(out)]


def _well_formed(ops: list[Op]) -> bool:
    open_ops = set()
    for op in ops:
        if op.type == "invoke":
            open_ops.add(op.process)
        elif op.process not in open_ops:
            return False
        else:
            open_ops.discard(op.process)
    return True
