"""The checker, a brute-force search and a z3 encoding must agree on generated histories."""
from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lin_oracles import brute_force, mutate, sequential_history, z3_linearizable

from faultlab.checkers.linearizability import check_linearizable, entries_from_history, partitions
from faultlab.checkers.models import get_model as registered_model
from faultlab.checkers.orders import derive_orders

# kv-tokens: the kv model on histories of (mostly) distinct one-letter values, which the
# derived-order pre-pass and pruning can use; plain kv repeats values, which turns them off.
MODELS = ["register", "cas-register", "kv", "kv-tokens", "mutex"]


def get_model(name: str):
    """The model for a generator's model name (kv-tokens is the kv model)."""
    return registered_model("kv" if name == "kv-tokens" else name)
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(MODELS), st.integers(1, 7), st.randoms(use_true_random=False))
def test_linearizable_by_construction(model_name, n, rng):
    history = sequential_history(random.Random(rng.random()), model_name, n)
    model = get_model(model_name)
    assert check_linearizable(history, model).valid is True
    assert brute_force(history, model)


@SETTINGS
@given(st.sampled_from(MODELS), st.integers(1, 7), st.randoms(use_true_random=False))
def test_three_checkers_agree_on_mutated_histories(model_name, n, rng):
    r = random.Random(rng.random())
    history = mutate(r, sequential_history(r, model_name, n))
    model = get_model(model_name)
    verdict = check_linearizable(history, model).valid
    assert verdict == brute_force(history, model)
    assert verdict == z3_linearizable(history, model)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["register", "cas-register", "mutex"]), st.integers(12, 30),
       st.randoms(use_true_random=False), st.booleans())
def test_checker_agrees_with_z3_up_to_30_ops(model_name, n, rng, mutated):
    r = random.Random(rng.random())
    history = sequential_history(r, model_name, n)
    if mutated:
        history = mutate(r, history)
    model = get_model(model_name)
    assert check_linearizable(history, model).valid == z3_linearizable(history, model)


def test_the_oracles_reject_a_stale_read():
    from faultlab.histories.op import Op

    ops = [("invoke", 0, "write", 1), ("ok", 0, "write", 1),
           ("invoke", 1, "read", None), ("ok", 1, "read", None)]
    history = [Op(i, t, p, f, v, time=i) for i, (t, p, f, v) in enumerate(ops)]
    model = get_model("register")
    assert not brute_force(history, model)
    assert not z3_linearizable(history, model)
    assert check_linearizable(history, model).valid is False


@SETTINGS
@given(st.integers(2, 9), st.randoms(use_true_random=False), st.booleans())
def test_a_derived_order_cycle_is_never_wrong(n, rng, mutated):
    r = random.Random(rng.random())
    history = sequential_history(r, "kv-tokens", n)
    if mutated:
        history = mutate(r, history)
    model = get_model("kv")
    truth = brute_force(history, model)
    for _, part in partitions(entries_from_history(history), model):
        orders = derive_orders(part, model)
        if orders is not None and orders.cycle is not None:
            assert not truth, orders.cycle


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(8, 14), st.randoms(use_true_random=False), st.booleans())
def test_kv_with_derived_orders_agrees_with_z3(n, rng, mutated):
    r = random.Random(rng.random())
    history = sequential_history(r, "kv-tokens", n)
    if mutated:
        history = mutate(r, history)
    model = get_model("kv")
    assert check_linearizable(history, model).valid == z3_linearizable(history, model)
