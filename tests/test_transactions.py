"""The transaction checker: every anomaly class in a minimal hand-written history, agreement
with a brute-force serializability oracle on generated ones, budgets, bad input, and
`faultlab check --model list-append|rw-register|bank`."""
from __future__ import annotations

import random
import time

import orjson
import pytest

from faultlab.checkers.transactions import check_transactions, render
from faultlab.histories import History, Op
from faultlab.histories.errors import HistoryError
from tests.test_check_cli import run
from tests.txn_oracle import concurrent, history, oracle_serializable, random_history, serial

A, R, W = "append", "r", "w"

# name: (history, the anomaly, the weakest model that forbids it, a model that allows it)
LIST_APPEND = {
    "G0": (concurrent((0, "ok", [(A, "x", 1), (A, "y", 2)]),
                      (1, "ok", [(A, "x", 2), (A, "y", 1)]),
                      (2, "ok", [(R, "x", [1, 2]), (R, "y", [1, 2])])),
           "G0", "read-committed", None),
    "G1a": (serial((0, "fail", [(A, "x", 1)]), (1, "ok", [(R, "x", [1])])),
            "G1a", "read-committed", None),
    "G1b": (concurrent((0, "ok", [(A, "x", 1), (A, "x", 2)]), (1, "ok", [(R, "x", [1])])),
            "G1b", "read-committed", None),
    "G1c": (concurrent((0, "ok", [(A, "x", 1), (R, "y", [1])]),
                       (1, "ok", [(A, "y", 1), (R, "x", [1])])),
            "G1c", "read-committed", None),
    "G-single": (concurrent((0, "ok", [(A, "x", 1), (A, "y", 1)]),
                            (1, "ok", [(R, "x", []), (R, "y", [1])])),
                 "G-single", "snapshot-isolation", "read-committed"),
    "G2-item": (concurrent((0, "ok", [(R, "x", []), (A, "y", 1)]),
                           (1, "ok", [(R, "y", []), (A, "x", 1)])),
                "G2-item", "serializable", "snapshot-isolation"),
    "G0-realtime": (serial((0, "ok", [(A, "x", 1)]), (1, "ok", [(A, "x", 2)]),
                           (2, "ok", [(R, "x", [2, 1])])),
                    "G0-realtime", "strict-serializable", "serializable"),
    "G1c-realtime": (serial((0, "ok", [(R, "x", [1])]), (1, "ok", [(A, "x", 1)])),
                     "G1c-realtime", "strict-serializable", "serializable"),
    "G-single-realtime": (serial((0, "ok", [(A, "x", 1)]), (1, "ok", [(R, "x", [])])),
                          "G-single-realtime", "strict-serializable", "serializable"),
    "G2-item-realtime": (history((0, 2, "invoke", [(R, "z", None), (A, "y", 1)]),
                                 (1, 0, "invoke", [(A, "z", 1)]),
                                 (2, 0, "ok", [(A, "z", 1)]),
                                 (3, 1, "invoke", [(R, "y", None)]),
                                 (4, 1, "ok", [(R, "y", [])]),
                                 (5, 2, "ok", [(R, "z", []), (A, "y", 1)])),
                         "G2-item-realtime", "strict-serializable", "serializable"),
    "G-single-process": (serial((0, "ok", [(A, "x", 1)]), (0, "ok", [(R, "x", [])])),
                         "G-single-process", "strong-session-serializable", "serializable"),
    "internal": (serial((0, "ok", [(A, "x", 1), (R, "x", [])])),
                 "internal", "read-committed", None),
    "future-read": (serial((0, "ok", [(R, "x", [1]), (A, "x", 1)])),
                    "future-read", "read-committed", None),
    "duplicate-elements": (serial((0, "ok", [(A, "x", 1)]), (1, "ok", [(R, "x", [1, 1])])),
                           "duplicate-elements", "read-committed", None),
    "incompatible-order": (concurrent((0, "ok", [(A, "x", 1)]), (1, "ok", [(A, "x", 2)]),
                                      (2, "ok", [(R, "x", [1, 2])]),
                                      (3, "ok", [(R, "x", [2, 1])])),
                           "incompatible-order", "read-committed", None),
    "garbage": (serial((0, "ok", [(R, "x", [9])])), "garbage", "read-committed", None),
    "lost-append": (serial((0, "ok", [(A, "x", 1)]), (1, "ok", [(A, "x", 2)]),
                           (2, "ok", [(R, "x", [2])])),
                    "lost-append", "strict-serializable", "serializable"),
}

RW_REGISTER = {
    "G1a": (serial((0, "fail", [(W, "x", 1)]), (1, "ok", [(R, "x", 1)])),
            "G1a", "read-committed", None),
    "G1b": (concurrent((0, "ok", [(W, "x", 1), (W, "x", 2)]), (1, "ok", [(R, "x", 1)])),
            "G1b", "read-committed", None),
    "G1c": (concurrent((0, "ok", [(W, "x", 1), (R, "y", 1)]),
                       (1, "ok", [(W, "y", 1), (R, "x", 1)])),
            "G1c", "read-committed", None),
    "G-single": (concurrent((0, "ok", [(W, "x", 1), (W, "y", 1)]),
                            (1, "ok", [(R, "x", None), (R, "y", 1)])),
                 "G-single", "snapshot-isolation", "read-committed"),
    "G2-item": (concurrent((0, "ok", [(R, "x", None), (W, "y", 1)]),
                           (1, "ok", [(R, "y", None), (W, "x", 1)])),
                "G2-item", "serializable", "snapshot-isolation"),
    "G-single-realtime": (serial((0, "ok", [(W, "x", 1)]), (1, "ok", [(R, "x", None)])),
                          "G-single-realtime", "strict-serializable", "serializable"),
    "internal": (serial((0, "ok", [(W, "x", 1), (R, "x", 2)]), (1, "ok", [(W, "x", 2)])),
                 "internal", "read-committed", None),
    "garbage": (serial((0, "ok", [(R, "x", 9)])), "garbage", "read-committed", None),
}


def _cases(table, workload):
    return [pytest.param(workload, *case, id=f"{workload}:{name}")
            for name, case in table.items()]


@pytest.mark.parametrize("workload,h,anomaly,forbidden,allowed",
                         _cases(LIST_APPEND, "list-append") + _cases(RW_REGISTER,
                                                                     "rw-register"))
def test_each_anomaly_is_named_where_forbidden(workload, h, anomaly, forbidden, allowed):
    v = check_transactions(h, workload, forbidden)
    assert v.valid is False and anomaly in v.anomalies["anomalies"], v.explanation
    assert anomaly in v.explanation
    shown = [w for w in v.witness if w["anomaly"] == anomaly]
    assert shown and all(w.get("why") or w.get("cycle") for w in shown)
    for w in shown:
        if "cycle" in w:  # a closed cycle, one reason per step, no transaction twice
            steps = w["cycle"]
            assert [s["to"] for s in steps] == [s["from"] for s in steps[1:] + steps[:1]]
            assert len({s["from"] for s in steps}) == len(steps)
            assert all(s["why"] and "{later}" not in s["why"] for s in steps)
    if allowed is not None:
        weaker = check_transactions(h, workload, allowed)
        assert weaker.valid is True, weaker.explanation


def test_a_serializable_history_is_valid_under_every_model():
    h = serial((0, "ok", [(A, "x", 1), (R, "y", [])]), (1, "ok", [(A, "y", 1)]),
               (2, "ok", [(R, "x", [1]), (R, "y", [1]), (A, "x", 2)]),
               (3, "info", [(A, "x", 3)]), (4, "fail", [(A, "y", 4)]))
    for model in ("strict-serializable", "serializable", "read-committed"):
        v = check_transactions(h, "list-append", model)
        assert v.valid is True and v.witness is None, v.explanation


def test_cycle_steps_read_as_reasons():
    h, *_ = LIST_APPEND["G0"]
    v = check_transactions(h, "list-append", "serializable")
    lines = "\n".join(render(v))
    assert "G0:" in lines
    assert "appended 2 to key 'x' after T0 appended 1, as the longest read [1 2] shows" \
        in lines


def test_appends_no_read_shows_are_ordered_after_every_read():
    # No read shows T2's append of 2 to x, so it came after T1's read of x as [1]:
    # T1 -rw-> T2. If T1 also read what T2 appended to z, that closes a G-single cycle.
    ok = concurrent((0, "ok", [(A, "x", 1)]), (1, "ok", [(R, "x", [1]), (R, "z", [])]),
                    (2, "ok", [(A, "x", 2), (A, "z", 1)]))
    assert check_transactions(ok, "list-append", "serializable").valid is True
    bad = concurrent((0, "ok", [(A, "x", 1)]), (1, "ok", [(R, "x", [1]), (R, "z", [1])]),
                     (2, "ok", [(A, "x", 2), (A, "z", 1)]))
    v = check_transactions(bad, "list-append", "serializable")
    assert v.valid is False and v.anomalies["anomalies"] == ["G-single"]
    steps = v.witness[0]["cycle"]
    assert [(s["from"], s["kind"], s["to"]) for s in steps] == [("T1", "rw", "T2"),
                                                              ("T2", "wr", "T1")]
    assert steps[0]["why"] == ("T1 read key 'x' as [1], without T2's append of 2, which no "
                               "read shows, so it came later")


@pytest.mark.parametrize("strict", [False, True], ids=["serializable", "strict"])
def test_list_append_agrees_with_brute_force_oracle(strict):
    model = "strict-serializable" if strict else "serializable"
    seen = {True: 0, False: 0}
    for seed in range(600):
        rng = random.Random(seed)
        h = random_history(rng, n_txns=rng.randint(2, 6), keys=rng.randint(1, 3))
        want = oracle_serializable(h, strict)
        got = check_transactions(h, "list-append", model).valid
        assert got == want, f"seed {seed}: checker {got}, oracle {want}"
        seen[want] += 1
    assert min(seen.values()) > 150  # both verdicts well represented


@pytest.mark.parametrize("strict", [False, True], ids=["serializable", "strict"])
def test_rw_register_anomalies_are_real(strict):
    """Register reads do not reveal the order of versions, so the checker may miss an
    anomaly (as Elle does), but every one it names is confirmed by the oracle."""
    model = "strict-serializable" if strict else "serializable"
    found = 0
    for seed in range(600):
        rng = random.Random(seed)
        h = random_history(rng, n_txns=rng.randint(2, 6), keys=rng.randint(1, 3),
                           workload="rw-register")
        if check_transactions(h, "rw-register", model).valid is False:
            found += 1
            assert not oracle_serializable(h, strict), f"seed {seed}: not an anomaly"
    assert found > 150


def test_bank_total_and_negative_balances():
    def bank(*reads):
        ops = []
        for i, balances in enumerate(reads):
            ops += [Op(2 * i, "invoke", 0, "read", None),
                    Op(2 * i + 1, "ok", 0, "read", balances)]
        ops += [Op(len(ops), "invoke", 1, "transfer", {"from": 0, "to": 1, "amount": 5}),
                Op(len(ops) + 1, "ok", 1, "transfer", {"from": 0, "to": 1, "amount": 5})]
        return History(ops)

    good = bank({0: 10, 1: 10}, {0: 5, 1: 15}, {0: 0, 1: 20})
    assert check_transactions(good, "bank").valid is True
    drift = bank({0: 10, 1: 10}, {0: 5, 1: 10}, {0: 0, 1: 20})
    v = check_transactions(drift, "bank")
    assert v.valid is False and v.anomalies["anomalies"] == ["wrong-total"]
    assert "totalling 15, not 20" in v.explanation or "totalling 15, not 20" in str(v.witness)
    negative = bank({0: 25, 1: -5})
    v = check_transactions(negative, "bank", initial_total=20)
    assert v.anomalies["anomalies"] == ["negative-balance"]
    assert check_transactions(good, "bank", initial_total=30).valid is False


def test_a_cycle_is_named_even_when_the_class_searches_run_out(monkeypatch):
    from faultlab.checkers.transactions import graph

    monkeypatch.setattr(graph, "SEARCHES_PER_CLASS", 0)  # no class search gets any work
    for name in ("G2-item", "G1c", "G0"):
        h, anomaly, model, _ = LIST_APPEND[name]
        v = check_transactions(h, "list-append", model)
        assert v.valid is False and anomaly in v.anomalies["anomalies"], name


def test_past_the_budget_the_verdict_is_unknown():
    h, *_ = LIST_APPEND["G2-item"]
    v = check_transactions(h, "list-append", "serializable", deadline=time.monotonic() - 1)
    assert v.valid == "unknown" and "time limit" in v.explanation


@pytest.mark.parametrize("h,workload,message", [
    (serial((0, "ok", [("delete", "x", 1)])), "list-append", "unknown micro-op"),
    (serial((0, "ok", [(W, "x", 1)])), "list-append", "unknown micro-op"),
    (serial((0, "ok", [(A, "x", 1)]), (1, "ok", [(A, "x", 1)])), "list-append",
     "both append 1 to key 'x'"),
    (serial((0, "ok", [(A, "x", 1)]), (1, "ok", [(R, "x", 1)])), "list-append",
     "a list-append read returns a list"),
    (serial((0, "ok", [(W, "x", 1)]), (1, "ok", [(R, "x", [1])])), "rw-register",
     "a register read returns one value"),
], ids=["unknown-mop", "register-mop-in-list-append", "duplicate-value", "scalar-read",
        "list-read"])
def test_bad_transactions_are_named(h, workload, message):
    with pytest.raises(HistoryError, match=message):
        check_transactions(h, workload)


# ---- the CLI ----------------------------------------------------------------------------

G_SINGLE_EDN = """\
{:type :invoke, :f :txn, :value [[:append 5 1] [:append 6 1]], :time 1, :process 0}
{:type :invoke, :f :txn, :value [[:r 5 nil] [:r 6 nil]], :time 2, :process 1}
{:type :ok, :f :txn, :value [[:append 5 1] [:append 6 1]], :time 3, :process 0}
{:type :ok, :f :txn, :value [[:r 5 []] [:r 6 [1]]], :time 4, :process 1}
"""


def test_cli_names_the_anomaly_and_its_cycle(tmp_path, capsys):
    (tmp_path / "h.edn").write_text(G_SINGLE_EDN)
    code, out, _ = run(capsys, tmp_path / "h.edn", "--model", "list-append")
    assert code == 1
    assert "NOT STRICT SERIALIZABLE (list-append, jepsen-edn" in out
    assert "G-single:" in out and "T2 -rw-> T1: T2 read key 5 as []" in out  # T<line>
    assert "the strongest model it satisfies: read committed" in out
    code, out, _ = run(capsys, tmp_path / "h.edn", "--model", "list-append",
                       "--consistency", "read-committed")
    assert code == 0 and "h.edn: read committed" in out
    assert "total: 1 files: 1 read committed, 0 not read committed" in out


def test_cli_json(tmp_path, capsys):
    (tmp_path / "h.edn").write_text(G_SINGLE_EDN)
    code, out, _ = run(capsys, tmp_path / "h.edn", "--model", "list-append", "--json")
    doc = orjson.loads(out)
    assert code == 1 and doc["consistency"] == "strict-serializable"
    verdict = doc["files"][0]["verdict"]
    assert verdict["anomalies"]["anomalies"] == ["G-single"]
    assert [s["kind"] for s in verdict["witness"][0]["cycle"]] == ["rw", "wr"]
    assert doc["total"]["not_strict_serializable"] == 1


def test_cli_bad_transaction_names_file_and_line(tmp_path, capsys):
    (tmp_path / "h.edn").write_text(G_SINGLE_EDN)
    code, _, err = run(capsys, tmp_path / "h.edn", "--model", "rw-register")
    assert code == 3
    assert f"error: {tmp_path / 'h.edn'}:1: unknown micro-op [:append 5 1]" in err
    (tmp_path / "r.edn").write_text(G_SINGLE_EDN.replace("[:r 6 [1]]", "[:r 6 1]"))
    code, _, err = run(capsys, tmp_path / "r.edn", "--model", "list-append")
    assert code == 3 and f"{tmp_path / 'r.edn'}:4:" in err
    assert "a list-append read returns a list" in err and len(err.splitlines()) == 1


def test_jepsen_shapes_and_our_json_lines_are_read(tmp_path, capsys):
    # current Jepsen: tagged op records, keyword keys, a nil read of an empty key, info
    # completions without a value, nemesis ops between
    (tmp_path / "jepsen.edn").write_text(
        "#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :txn, "
        ":value [[:append :x 1] [:r :y nil]]}\n"
        "{:index 1, :time 6, :type :info, :process :nemesis, :f :start-partition, "
        ":value [:isolated {\"n1\" #{\"n2\"}}]}\n"
        "#jepsen.history.Op{:index 2, :time 7, :type :ok, :process 0, :f :txn, "
        ":value [[:append :x 1] [:r :y nil]]}\n"
        "{:index 3, :time 8, :type :invoke, :process 1, :f :txn, :value [[:append :y 2]]}\n"
        "{:index 4, :time 9, :type :info, :process 1, :f :txn, :value nil, "
        ":error :timeout}\n")
    code, out, err = run(capsys, tmp_path / "jepsen.edn", "--model", "list-append")
    assert code == 0, out + err
    assert "strict serializable (list-append, jepsen-edn, 2 ops" in out
    from faultlab.histories.jsonl import dumps_history
    (tmp_path / "ours.jsonl").write_bytes(dumps_history(LIST_APPEND["G-single"][0]))
    code, out, _ = run(capsys, tmp_path / "ours.jsonl", "--model", "list-append")
    assert code == 1 and "G-single" in out and "(list-append, jsonl" in out
    (tmp_path / "bank.edn").write_text(
        "{:type :invoke, :f :transfer, :process 0, :value {:from 0, :to 1, :amount 5}}\n"
        "{:type :ok, :f :transfer, :process 0, :value {:from 0, :to 1, :amount 5}}\n"
        "{:type :invoke, :f :read, :process 1, :value nil}\n"
        "{:type :ok, :f :read, :process 1, :value {0 15, 1 20}}\n")
    code, out, _ = run(capsys, tmp_path / "bank.edn", "--model", "bank", "--initial", "40")
    assert code == 1 and "wrong-total" in out and "totalling 35, not 40" in out


def test_cli_rejects_options_of_the_other_kind(tmp_path, capsys):
    (tmp_path / "h.edn").write_text(G_SINGLE_EDN)
    code, _, err = run(capsys, tmp_path / "h.edn", "--consistency", "serializable")
    assert code == 3 and "--consistency only applies" in err
    code, _, err = run(capsys, tmp_path / "h.edn", "--model", "list-append", "--cas-fail",
                       "observes")
    assert code == 3 and "--cas-fail does not apply" in err
