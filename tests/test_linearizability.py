"""The linearizability checker: the Porcupine corpus, semantics, models, budgets, reports."""
from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from faultlab.checkers.linearizability import check_linearizable, render
from faultlab.checkers.models import (
    KV,
    MODELS,
    Call,
    CASRegister,
    Model,
    ModelError,
    Register,
    SetModel,
    get_model,
)
from faultlab.checkers.orders import Observation
from faultlab.histories.formats import load_history, parse_history
from faultlab.histories.op import Op

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "porcupine"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(),
                                  reason=f"Porcupine corpus not found at {CORPUS}")


def _rows():
    if not CORPUS.is_dir():
        return []
    with open(CORPUS / "expected_verdicts.csv") as f:
        return [r for r in csv.DictReader(f) if r["expected_linearizable"] in ("true", "false")]


def H(*ops) -> list[Op]:
    """A history from (type, process, f, value) tuples, times = positions."""
    return [Op(i, t, p, f, v, time=i) for i, (t, p, f, v) in enumerate(ops)]


# ---- the Porcupine corpus ------------------------------------------------------------------

@needs_corpus
@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["path"])
def test_corpus_verdicts(row):
    model = "kv" if row["path"].startswith("kv/") else "cas-register"
    history = load_history(CORPUS / row["path"])
    verdict = check_linearizable(history, model)
    assert verdict.valid is (row["expected_linearizable"] == "true")
    assert verdict.anomalies["stats"]["operations"] <= int(row["operations"])


@needs_corpus
@pytest.mark.parametrize("name,expected", [("c01-ok", True), ("c01-bad", False),
                                           ("c10-ok", True), ("c10-bad", False)])
def test_corpus_kv_unpartitioned(name, expected):
    history = load_history(CORPUS / "kv" / f"{name}.txt")
    verdict = check_linearizable(history, KV(partitioned=False))
    assert verdict.valid is expected
    assert verdict.anomalies["stats"]["partitions"] == 1


@needs_corpus
def test_all_keys_reports_every_failing_key_of_c10_bad():
    history = load_history(CORPUS / "kv" / "c10-bad.txt")
    first = check_linearizable(history, "kv")
    every = check_linearizable(history, "kv", all_partitions=True)
    assert len(first.anomalies["failing_partitions"]) == 1
    assert first.anomalies["unchecked_partitions"]
    failing = sorted(every.anomalies["failing_partitions"])
    assert failing == ["0", "1", "2", "3", "5", "6", "7", "9"]
    assert "unchecked_partitions" not in every.anomalies
    assert [w["partition"] for w in every.witness] == every.anomalies["failing_partitions"]


@needs_corpus
def test_all_keys_refutes_every_key_of_c50_bad():
    # Porcupine leaves 3 keys undecided after 30 s each; the derived-order pre-pass refutes
    # all 10 (the limit only keeps a regression from hanging the suite).
    history = load_history(CORPUS / "kv" / "c50-bad.txt")
    verdict = check_linearizable(history, "kv", all_partitions=True, time_limit=25)
    assert verdict.valid is False
    assert sorted(verdict.anomalies["failing_partitions"]) == [str(k) for k in range(10)]
    assert all(w["cycle"] for w in verdict.witness)
    orjson.dumps(verdict.to_dict())


@needs_corpus
def test_parallel_partitions_give_the_same_verdicts():
    from faultlab.checkers import linearizability as lin

    history = load_history(CORPUS / "kv" / "c10-bad.txt")
    serial = check_linearizable(history, "kv", all_partitions=True, jobs=1)
    parallel = check_linearizable(history, "kv", all_partitions=True, jobs=2)
    assert parallel.valid is serial.valid is False
    assert parallel.anomalies["failing_partitions"] == serial.anomalies["failing_partitions"]
    assert parallel.witness == serial.witness
    # The pool itself (the checks above decide every key in this process's first pass):
    # its forked workers find the tasks they inherit by position.
    model = lin.get_model("kv")
    tasks = [(pos, key, part, model, None, 10**8, None) for pos, (key, part) in
             enumerate(lin.partitions(lin.entries_from_history(history), model))]
    pooled = sorted(lin._map(tasks, 2, True), key=lambda r: r.position)
    assert [(r.valid, r.failure) for r in pooled] == [
        (r.valid, r.failure) for r in lin._map(tasks, 1, True)]
    assert lin._FORKED_TASKS == []  # not kept past the pool
    ok = check_linearizable(load_history(CORPUS / "kv" / "c10-ok.txt"), "kv", jobs=2)
    assert ok.valid is True


# ---- semantics -----------------------------------------------------------------------------

def test_info_write_may_take_effect_later():
    history = H(("invoke", 0, "write", 1), ("info", 0, "write", 1),
                ("invoke", 1, "read", None), ("ok", 1, "read", None),
                ("invoke", 2, "read", None), ("ok", 2, "read", 1))
    assert check_linearizable(history, "register").valid is True


def test_info_write_may_never_take_effect():
    history = H(("invoke", 0, "write", 1), ("info", 0, "write", 1),
                ("invoke", 1, "read", None), ("ok", 1, "read", None))
    assert check_linearizable(history, "register").valid is True


def test_info_write_cannot_take_effect_before_it_was_invoked():
    history = H(("invoke", 1, "read", None), ("ok", 1, "read", 1),
                ("invoke", 0, "write", 1), ("info", 0, "write", 1))
    assert check_linearizable(history, "register").valid is False


def test_failed_ops_did_not_happen():
    history = H(("invoke", 0, "write", 1), ("fail", 0, "write", 1),
                ("invoke", 1, "read", None), ("ok", 1, "read", 1))
    assert check_linearizable(history, "register").valid is False


def test_a_failed_cas_did_nothing_unless_read_as_an_observation():
    # The register is 0 the whole time, yet a CAS from 0 reports that the compare failed:
    # fine if it did not happen (Jepsen, Knossos), impossible if it observed (Porcupine).
    history = H(("invoke", 0, "write", 0), ("ok", 0, "write", 0),
                ("invoke", 1, "cas", [0, 1]), ("fail", 1, "cas", [0, 1]),
                ("invoke", 2, "read", None), ("ok", 2, "read", 0))
    assert check_linearizable(history, "cas-register").valid is True
    assert check_linearizable(history, CASRegister(cas_fail="observes")).valid is False


def test_info_cas_takes_effect_only_if_the_compare_holds():
    history = H(("invoke", 0, "write", 2), ("ok", 0, "write", 2),
                ("invoke", 1, "cas", [0, 1]), ("info", 1, "cas", [0, 1]),
                ("invoke", 2, "read", None), ("ok", 2, "read", 1))
    assert check_linearizable(history, "cas-register").valid is False
    history[0:2] = H(("invoke", 0, "write", 0), ("ok", 0, "write", 0))
    assert check_linearizable(history, "cas-register").valid is True


def test_idempotent_write_is_still_ordered():
    # Regression: a write of the value already there must not be linearized eagerly.
    history = H(("invoke", 0, "write", 1), ("invoke", 1, "write", 1), ("ok", 0, "write", 1),
                ("invoke", 2, "cas", [1, 0]), ("ok", 1, "write", 1), ("ok", 2, "cas", [1, 0]),
                ("invoke", 3, "read", None), ("ok", 3, "read", 1))
    assert check_linearizable(history, "cas-register").valid is True


def test_overlapping_ops_may_go_either_way_but_sequential_ones_may_not():
    concurrent = H(("invoke", 0, "write", 1), ("invoke", 1, "read", None),
                   ("ok", 1, "read", 1), ("ok", 0, "write", 1))
    sequential = H(("invoke", 1, "read", None), ("ok", 1, "read", 1),
                   ("invoke", 0, "write", 1), ("ok", 0, "write", 1))
    assert check_linearizable(concurrent, "register").valid is True
    assert check_linearizable(sequential, "register").valid is False


# ---- models --------------------------------------------------------------------------------

@pytest.mark.parametrize("model,good,bad", [
    ("kv", [("invoke", 0, "append", ["k", "a"]), ("ok", 0, "append", ["k", "a"]),
            ("invoke", 1, "append", ["k", "b"]), ("ok", 1, "append", ["k", "b"]),
            ("invoke", 2, "get", ["k", None]), ("ok", 2, "get", ["k", "ab"])],
     [("invoke", 0, "append", ["k", "a"]), ("ok", 0, "append", ["k", "a"]),
      ("invoke", 1, "append", ["k", "b"]), ("ok", 1, "append", ["k", "b"]),
      ("invoke", 2, "get", ["k", None]), ("ok", 2, "get", ["k", "ba"])]),
    ("set", [("invoke", 0, "add", 1), ("ok", 0, "add", 1),
             ("invoke", 1, "read", None), ("ok", 1, "read", [1])],
     [("invoke", 0, "add", 1), ("ok", 0, "add", 1),
      ("invoke", 1, "read", None), ("ok", 1, "read", [])]),
    ("fifo-queue", [("invoke", 0, "enqueue", 1), ("ok", 0, "enqueue", 1),
                    ("invoke", 0, "enqueue", 2), ("ok", 0, "enqueue", 2),
                    ("invoke", 1, "dequeue", None), ("ok", 1, "dequeue", 1)],
     [("invoke", 0, "enqueue", 1), ("ok", 0, "enqueue", 1),
      ("invoke", 0, "enqueue", 2), ("ok", 0, "enqueue", 2),
      ("invoke", 1, "dequeue", None), ("ok", 1, "dequeue", 2)]),
    ("unordered-queue", [("invoke", 0, "enqueue", 1), ("ok", 0, "enqueue", 1),
                         ("invoke", 0, "enqueue", 2), ("ok", 0, "enqueue", 2),
                         ("invoke", 1, "dequeue", None), ("ok", 1, "dequeue", 2)],
     [("invoke", 0, "enqueue", 1), ("ok", 0, "enqueue", 1),
      ("invoke", 1, "dequeue", None), ("ok", 1, "dequeue", 1),
      ("invoke", 2, "dequeue", None), ("ok", 2, "dequeue", 1)]),
    ("mutex", [("invoke", 0, "acquire", None), ("ok", 0, "acquire", None),
               ("invoke", 0, "release", None), ("ok", 0, "release", None),
               ("invoke", 1, "acquire", None), ("ok", 1, "acquire", None)],
     [("invoke", 0, "acquire", None), ("ok", 0, "acquire", None),
      ("invoke", 1, "acquire", None), ("ok", 1, "acquire", None)]),
    ("multi-register", [("invoke", 0, "txn", [["w", "x", 1], ["w", "y", 2]]),
                        ("ok", 0, "txn", [["w", "x", 1], ["w", "y", 2]]),
                        ("invoke", 1, "txn", [["r", "x", None], ["r", "y", None]]),
                        ("ok", 1, "txn", [["r", "x", 1], ["r", "y", 2]])],
     [("invoke", 0, "txn", [["w", "x", 1], ["w", "y", 2]]),
      ("ok", 0, "txn", [["w", "x", 1], ["w", "y", 2]]),
      ("invoke", 1, "txn", [["r", "x", None], ["r", "y", None]]),
      ("ok", 1, "txn", [["r", "x", 1], ["r", "y", None]])]),
])
def test_each_model_accepts_and_refutes(model, good, bad):
    assert check_linearizable(H(*good), model).valid is True
    verdict = check_linearizable(H(*bad), model)
    assert verdict.valid is False
    assert verdict.witness[0]["op"] is not None


def test_registry_names_every_model():
    assert set(MODELS) == {"register", "cas-register", "kv", "kv-cas", "multi-register", "set",
                           "unordered-queue", "fifo-queue", "mutex"}
    for name in MODELS:
        assert get_model(name).name == name
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        get_model("nope")


def test_multi_register_partitions_by_connected_keys():
    history = H(("invoke", 0, "txn", [["w", "x", 1], ["w", "y", 1]]),
                ("ok", 0, "txn", [["w", "x", 1], ["w", "y", 1]]),
                ("invoke", 1, "txn", [["w", "z", 1]]), ("ok", 1, "txn", [["w", "z", 1]]),
                ("invoke", 2, "txn", [["r", "y", None]]), ("ok", 2, "txn", [["r", "y", 1]]))
    verdict = check_linearizable(history, "multi-register")
    assert verdict.valid is True
    assert verdict.anomalies["stats"]["partitions"] == 2


def test_user_defined_model_with_only_init_and_step():
    class Counter(Model):
        name = "counter"

        def init(self):
            return 0

        def step(self, state, call):
            if call.f == "incr":
                return True, state + 1
            return state == call.output, state

    good = H(("invoke", 0, "incr", None), ("invoke", 1, "read", None),
             ("ok", 1, "read", 1), ("ok", 0, "incr", None))
    bad = H(("invoke", 0, "incr", None), ("ok", 0, "incr", None),
            ("invoke", 1, "read", None), ("ok", 1, "read", 2))
    assert check_linearizable(good, Counter()).valid is True
    assert check_linearizable(bad, Counter()).valid is False


def test_model_rejects_operations_it_does_not_understand():
    with pytest.raises(ModelError, match="does not understand"):
        check_linearizable(H(("invoke", 0, "frobnicate", 1), ("ok", 0, "frobnicate", 1)),
                           "register")


# ---- budgets -------------------------------------------------------------------------------

class _BlindSet(SetModel):
    """The set model without its look-ahead: a read it cannot satisfy costs every subset."""

    def reachable(self, target, concurrent):
        return None


def _hard_set_history(n: int = 14) -> list[Op]:
    """n concurrent adds and a read of an element never added: every subset is explored."""
    ops = [("invoke", p, "add", p) for p in range(n)]
    ops += [("invoke", n, "read", None), ("ok", n, "read", [99])]
    ops += [("ok", p, "add", p) for p in range(n)]
    return H(*ops)


def test_the_set_look_ahead_refutes_an_unreachable_read_at_once():
    verdict = check_linearizable(_hard_set_history(30), "set")
    assert verdict.valid is False and verdict.anomalies["stats"]["steps"] < 100


def test_time_limit_gives_unknown_and_names_undecided_partitions():
    verdict = check_linearizable(_hard_set_history(), _BlindSet(), time_limit=0.05)
    assert verdict.valid == "unknown"
    assert verdict.anomalies["undecided_partitions"] == [None]
    assert "time limit" in verdict.explanation
    at_once = check_linearizable(_hard_set_history(), _BlindSet(), time_limit=0)
    assert at_once.valid == "unknown" and "before the search began" in at_once.explanation


def test_a_tiny_cache_degrades_gracefully():
    big = check_linearizable(_hard_set_history(12), _BlindSet())
    small = check_linearizable(_hard_set_history(12), _BlindSet(), memory_limit=1)
    assert big.valid is small.valid is False
    assert small.anomalies["stats"]["cache_evictions"] > 0
    assert big.anomalies["stats"]["cache_evictions"] == 0


# ---- reports -------------------------------------------------------------------------------

def test_failure_report_names_op_concurrent_ops_states_and_prefix():
    history = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
                ("invoke", 1, "write", 2), ("ok", 1, "write", 2),
                ("invoke", 3, "write", 3),
                ("invoke", 2, "read", None), ("ok", 2, "read", 1), ("ok", 3, "write", 3))
    verdict = check_linearizable(history, "register")
    assert verdict.valid is False and verdict.name == "linearizable"
    w = verdict.witness[0]
    assert [p["value"] for p in w["prefix"]] == [1, 2]
    assert w["op"]["f"] == "read" and w["op"]["output"] == 1
    assert [c["value"] for c in w["concurrent"]] == [3]
    assert w["states"] == ["2"]
    orjson.dumps(verdict.to_dict())  # the whole verdict is plain JSON-able data
    text = "\n".join(render(verdict))
    assert "cannot linearize op 5" in text and "model state(s) there: 2" in text


def test_verdict_for_a_linearizable_history_has_no_witness():
    verdict = check_linearizable(H(("invoke", 0, "write", 1), ("ok", 0, "write", 1)),
                                 "register")
    assert verdict.valid is True and verdict.witness is None
    assert verdict.anomalies["stats"]["steps"] == 1


# ---- orders derived from the values read (kv) ---------------------------------------------

def _kv(*ops) -> list[Op]:
    """A one-key kv history from (type, process, f, value) with plain string values."""
    return H(*((t, p, f, ["k", v]) for t, p, f, v in ops))


def _overlapping_appends(pairs: int, stale_read: bool) -> list[Op]:
    """Processes 0 and 1 append at the same time, pair after pair, and process 2 reads the
    key after each pair; with `stale_read` the last read misses the last pair."""
    ops, seen, last = [], "", ""
    for i in range(pairs):
        a, b = f"a{i},", f"b{i},"
        ops += [("invoke", 0, "append", a), ("invoke", 1, "append", b),
                ("ok", 0, "append", a), ("ok", 1, "append", b)]
        last, seen = seen, seen + a + b
        ops += [("invoke", 2, "get", None), ("ok", 2, "get", last if stale_read
                                              and i == pairs - 1 else seen)]
    return _kv(*ops)


def test_a_long_partition_is_decided_before_orders_are_derived(monkeypatch):
    """Deriving orders costs more than a short search on a long partition: a valid one is
    decided without them, a failing one is searched again with them, for its cycle."""
    from faultlab.checkers import linearizability

    derived = []
    real = linearizability.derive_orders
    monkeypatch.setattr(linearizability, "derive_orders",
                        lambda *a: derived.append(1) or real(*a))
    assert linearizability.QUICK_MIN_OPS <= 3 * 400
    assert check_linearizable(_overlapping_appends(400, False), "kv").valid is True
    assert not derived
    verdict = check_linearizable(_overlapping_appends(400, True), "kv")
    assert verdict.valid is False and derived and "cycle" in verdict.explanation


def test_a_failure_too_long_for_orders_is_searched_once(monkeypatch):
    """Past ORDERS_MAX_OPS a second search would be the first again: the short search's
    failure stands, with the same report."""
    from faultlab.checkers import linearizability

    history = _overlapping_appends(400, True)
    searches = []
    real = linearizability.search
    monkeypatch.setattr(linearizability, "search",
                        lambda *a, **k: searches.append(k.get("derive", True)) or real(*a, **k))
    assert check_linearizable(history, "kv").valid is False
    assert searches == [False, True]  # (short enough for orders: searched again with them)
    searches.clear()
    monkeypatch.setattr(linearizability, "ORDERS_MAX_OPS", 100)
    verdict = check_linearizable(history, "kv")
    assert verdict.valid is False and searches == [False]
    assert verdict.explanation.startswith("not linearizable: after")


def test_a_partition_out_of_time_is_not_searched_again(monkeypatch):
    """Past the deadline the short search's unknown stands: deriving orders then would run
    past the time limit."""
    import time

    from faultlab.checkers import linearizability
    from faultlab.checkers.models import get_model

    derived = []
    monkeypatch.setattr(linearizability, "derive_orders", lambda *a: derived.append(1))
    model = get_model("kv")
    entries = linearizability.entries_from_history(_overlapping_appends(400, True))
    result = linearizability._check_partition(
        (0, "k", entries, model, time.monotonic() - 1, 1 << 20, None))
    assert result.valid == "unknown" and result.exhausted == "time" and not derived


def test_keys_the_time_limit_never_reached_are_named_undecided():
    """A key whose search the deadline stops before it starts has no evidence to show; the
    verdict still names it undecided (it was a traceback)."""
    import time

    from faultlab.checkers.models import Independent

    class SlowRegister(Register):
        def compile(self, call):
            time.sleep(0.3)  # the first key's one write outlasts the whole time limit
            return super().compile(call)

    history = H(("invoke", 0, "write", ["a", 1]), ("ok", 0, "write", ["a", 1]),
                ("invoke", 1, "write", ["b", 1]), ("ok", 1, "write", ["b", 1]))
    verdict = check_linearizable(history, Independent(SlowRegister()), time_limit=0.1)
    assert verdict.valid == "unknown"
    assert verdict.anomalies["undecided_partitions"] == ["b"]
    assert "undecided keys: 'b'" in "\n".join(render(verdict))
    orjson.dumps(verdict.to_dict())


def test_a_read_missing_an_earlier_append_closes_a_cycle():
    history = _kv(("invoke", 0, "put", "p"), ("ok", 0, "put", "p"),
                  ("invoke", 0, "append", "a"), ("ok", 0, "append", "a"),
                  ("invoke", 1, "get", None), ("ok", 1, "get", "p"))
    verdict = check_linearizable(history, "kv")
    assert verdict.valid is False
    cycle = verdict.witness[0]["cycle"]
    # The read saw put p without append a, and p precedes a: so a follows the read, yet a
    # completed before the read was invoked.
    assert {(e["before"]["index"], e["after"]["index"]) for e in cycle} == {(4, 2), (2, 4)}
    assert "cannot" not in verdict.explanation and "cycle" in verdict.explanation
    text = "\n".join(render(verdict))
    assert "op 4 (get ['k' nil] -> ['k' 'p']) precedes op 2 (append ['k' 'a'])" in text
    orjson.dumps(verdict.to_dict())


def test_appends_read_in_an_order_real_time_forbids():
    history = _kv(("invoke", 0, "append", "b"), ("ok", 0, "append", "b"),
                  ("invoke", 0, "append", "a"), ("ok", 0, "append", "a"),
                  ("invoke", 1, "get", None), ("ok", 1, "get", "ab"))
    verdict = check_linearizable(history, "kv")
    assert verdict.valid is False and "cycle" in verdict.witness[0]


def test_derived_orders_accept_a_linearizable_history_with_open_appends():
    history = _kv(("invoke", 0, "put", "p"), ("invoke", 1, "append", "a"),
                  ("invoke", 2, "append", "b"), ("ok", 0, "put", "p"),
                  ("invoke", 3, "get", None), ("ok", 3, "get", "pb"),
                  ("ok", 1, "append", "a"), ("invoke", 3, "get", None),
                  ("ok", 3, "get", "pba"), ("ok", 2, "append", "b"))
    assert check_linearizable(history, "kv").valid is True


def test_reads_with_more_than_one_reading_are_not_used():
    kv = KV()
    calls = [c for c in (Call("append", ["k", "a"], ["k", "a"]),
                         Call("append", ["k", "ab"], ["k", "ab"]),
                         Call("append", ["k", "b"], ["k", "b"]),
                         Call("get", ["k", None], ["k", "ab"]),   # a+b or ab: unused
                         Call("get", ["k", None], ["k", "aba"]))]  # a+b+a or ab+a: unused
    assert kv.observations(calls) == []
    calls.append(Call("get", ["k", None], ["k", "ba"]))  # only b+a
    assert kv.observations(calls) == [Observation(5, (2, 0), from_start=True)]
    # An empty write could hide anywhere in a value: nothing is derived at all.
    assert kv.observations(calls + [Call("append", ["k", ""], ["k", ""])]) is None


# ---- Knossos-style EDN files ---------------------------------------------------------------

def test_knossos_edn_cas_register():
    text = """[{:process 0, :type :invoke, :f :write, :value 1}
 {:process 0, :type :ok, :f :write, :value 1}
 {:process 1, :type :invoke, :f :cas, :value [1 2]}
 {:process 1, :type :ok, :f :cas, :value [1 2]}
 {:process 0, :type :invoke, :f :read, :value nil}
 {:process 0, :type :ok, :f :read, :value 1}]"""
    history = parse_history(text, path="cas.edn")
    assert check_linearizable(history, "cas-register").valid is False
    fixed = text.replace(":ok, :f :read, :value 1", ":ok, :f :read, :value 2")
    assert check_linearizable(parse_history(fixed), "cas-register").valid is True


def test_knossos_edn_mutex_and_multi_register():
    mutex = """[{:process 0 :type :invoke :f :acquire :value nil}
                {:process 1 :type :invoke :f :acquire :value nil}
                {:process 0 :type :ok :f :acquire :value nil}
                {:process 1 :type :ok :f :acquire :value nil}]"""
    assert check_linearizable(parse_history(mutex), "mutex").valid is False
    txn = """[{:process 0 :type :invoke :f :txn :value [[:write :x 1] [:write :y 1]]}
              {:process 1 :type :invoke :f :txn :value [[:read :x nil] [:read :y nil]]}
              {:process 1 :type :ok :f :txn :value [[:read :x 1] [:read :y nil]]}
              {:process 0 :type :ok :f :txn :value [[:write :x 1] [:write :y 1]]}]"""
    assert check_linearizable(parse_history(txn), "multi-register").valid is False
    torn_free = txn.replace("[:read :y nil]]}\n              {:process 0",
                            "[:read :y 1]]}\n              {:process 0")
    assert check_linearizable(parse_history(torn_free), "multi-register").valid is True
