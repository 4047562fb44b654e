"""The Jepsen set checker and the liveness check on hand-written histories."""
from __future__ import annotations

from faultlab.checkers.liveness import check_liveness
from faultlab.checkers.set import check_set
from faultlab.histories import History, Op


def h(*rows):
    return History(Op(i, t, p, f, v, time=time) for i, (time, t, p, f, v) in enumerate(rows))


def test_set_finds_lost_unexpected_and_recovered():
    hist = h((1, "invoke", 0, "add", 1), (2, "ok", 0, "add", 1),
             (3, "invoke", 1, "add", 2), (4, "info", 1, "add", 2),
             (5, "invoke", 2, "add", 3), (6, "ok", 2, "add", 3),
             (7, "invoke", 0, "read", None), (8, "ok", 0, "read", [2, 3, 9]))
    v = check_set(hist)
    assert v.valid is False
    assert [x["element"] for x in v.anomalies["lost"]] == [1]
    assert v.anomalies["unexpected"] == [9]
    assert "1 indeterminate adds recovered" in v.explanation


def test_set_valid_when_every_ack_is_present():
    hist = h((1, "invoke", 0, "add", 1), (2, "ok", 0, "add", 1),
             (3, "invoke", 1, "add", 2), (4, "fail", 1, "add", 2),
             (7, "invoke", 0, "read", None), (8, "ok", 0, "read", [1]))
    assert check_set(hist).valid is True


def test_set_flags_a_failed_add_that_appears():
    hist = h((1, "invoke", 0, "add", 1), (2, "fail", 0, "add", 1),
             (7, "invoke", 0, "read", None), (8, "ok", 0, "read", [1]))
    v = check_set(hist)
    assert v.valid is False and v.anomalies["failed-but-present"] == [1]


def test_set_unknown_without_a_final_read():
    hist = h((1, "invoke", 0, "add", 1), (2, "ok", 0, "add", 1))
    assert check_set(hist).valid == "unknown"


def test_liveness_needs_a_success_after_heal_within_bound():
    ok = h((10, "invoke", 0, "add", 1), (50, "ok", 0, "add", 1),
           (120, "invoke", 0, "add", 2), (130, "ok", 0, "add", 2))
    assert check_liveness(ok, healed_at=100, within_us=100).valid is True
    assert check_liveness(ok, healed_at=100, within_us=10).valid is False
    stuck = h((120, "invoke", 0, "add", 2), (500, "info", 0, "add", 2),
              (600, "invoke", 1, "add", 3))
    v = check_liveness(stuck, healed_at=100, within_us=1000)
    assert v.valid is False and "no op invoked after the heal" in v.explanation


def test_liveness_ignores_ops_invoked_before_heal():
    hist = h((10, "invoke", 0, "add", 1), (150, "ok", 0, "add", 1))
    assert check_liveness(hist, healed_at=100, within_us=1000).valid is False


def test_liveness_is_judged_per_client_thread():
    """Thread 1 (processes 1, 3, 5 with two threads) never gets an op through after the heal:
    one recovered client must not pass for a recovered cluster."""
    hist = h((110, "invoke", 0, "add", 1), (120, "ok", 0, "add", 1),
             (110, "invoke", 1, "add", 2), (300, "info", 1, "add", 2),
             (310, "invoke", 3, "add", 3), (600, "info", 3, "add", 3))
    v = check_liveness(hist, healed_at=100, within_us=1000, threads=2)
    assert v.valid is False and "thread 1" in v.explanation
    assert set(v.ops) == {2, 4}  # the stuck thread's invocations
    fine = h((110, "invoke", 0, "add", 1), (120, "ok", 0, "add", 1),
             (110, "invoke", 1, "add", 2), (300, "info", 1, "add", 2),
             (310, "invoke", 3, "add", 3), (320, "ok", 3, "add", 3))
    assert check_liveness(fine, healed_at=100, within_us=1000, threads=2).valid is True


def test_liveness_is_judged_per_key():
    hist = h((110, "invoke", 0, "get", [0, None]), (120, "ok", 0, "get", [0, ""]),
             (130, "invoke", 0, "get", [1, None]), (700, "info", 0, "get", [1, None]),
             (710, "invoke", 2, "get", [0, None]), (720, "ok", 2, "get", [0, ""]))
    v = check_liveness(hist, healed_at=100, within_us=1000, threads=2,
                       key=lambda op: op.value[0])
    assert v.valid is False and "key 1" in v.explanation
    assert check_liveness(hist, healed_at=100, within_us=1000, threads=2).valid is True
