"""Histories follow Jepsen semantics; files and bundles round-trip and fail loudly when bad."""
from __future__ import annotations

import orjson
import pytest

from faultlab.histories import (
    Bundle,
    BundleError,
    History,
    HistoryError,
    Op,
    load_bundle,
    read_jsonl,
    write_bundle,
    write_jsonl,
)


def ops(*rows):
    return History(Op(i, t, p, f, v) for i, (t, p, f, v) in enumerate(rows))


def test_valid_history_pairs_invocations_with_completions():
    h = ops(("invoke", 0, "add", 1), ("invoke", 1, "read", None), ("ok", 0, "add", 1),
            ("info", 1, "read", None), ("invoke", 2, "add", 2)).validate()
    pairs = h.operations()
    assert [(p.invoke.index, p.complete.index if p.complete else None) for p in pairs] == [
        (0, 2), (1, 3), (4, None)]
    assert [p.type for p in pairs] == ["ok", "info", "info"]


@pytest.mark.parametrize("rows, problem", [
    ((("ok", 0, "add", 1),), "no open invoke"),
    ((("invoke", 0, "add", 1), ("invoke", 0, "add", 2)), "still open"),
    ((("invoke", 0, "add", 1), ("info", 0, "add", 1), ("invoke", 0, "add", 2)),
     "after an info"),
    ((("invoke", 0, "add", 1), ("ok", 0, "read", 1)), "does not match"),
    ((("begin", 0, "add", 1),), "unknown type"),
])
def test_jepsen_rule_breaks_are_named(rows, problem):
    with pytest.raises(HistoryError, match=problem):
        ops(*rows).validate()


def test_jsonl_round_trip(tmp_path):
    h = History([Op(0, "invoke", 0, "add", 1, time=5, node="n1"),
                 Op(1, "fail", 0, "add", 1, time=9, node="n1", error="connection-refused")])
    write_jsonl(h, tmp_path / "h.jsonl")
    assert read_jsonl(tmp_path / "h.jsonl") == h


@pytest.mark.parametrize("text, problem", [
    ('{"type": "invoke", "process": 0, "f": "add"}\n{nope', ":2: invalid JSON"),
    ('{"type": "invoke", "f": "add"}', ":1: missing field 'process'"),
    ('{"type": "begin", "process": 0, "f": "add"}', "unknown op type"),
    ('{"type": "invoke", "process": 0, "f": "add", "time": "noon"}', "time must be an integer"),
])
def test_malformed_jsonl_names_file_and_line(tmp_path, text, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(HistoryError, match=problem) as err:
        read_jsonl(path)
    assert str(path) in str(err.value)


def test_missing_history_file(tmp_path):
    with pytest.raises(HistoryError, match="cannot read file"):
        read_jsonl(tmp_path / "absent.jsonl")


def _bundle():
    return Bundle(spec={"protocol": "primary-backup", "seed": 3}, fingerprint="ab" * 16,
                  failing_checks=("set",), faultlab_version="0.1.0",
                  history=History([Op(0, "invoke", 0, "add", 1, time=1)]))


def test_bundle_round_trip(tmp_path):
    path = write_bundle(tmp_path / "b.json", _bundle())
    assert load_bundle(path) == _bundle()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bundle_write_is_atomic_and_never_leaves_half_a_file(tmp_path, monkeypatch):
    path = write_bundle(tmp_path / "b.json", _bundle())
    before = path.read_bytes()

    def explode(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", explode)
    with pytest.raises(OSError):
        write_bundle(path, Bundle(spec={"protocol": "x"}, fingerprint="0", failing_checks=(),
                                  faultlab_version="0"))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]


@pytest.mark.parametrize("mutate, problem", [
    (lambda d: d.pop("fingerprint"), "missing field 'fingerprint'"),
    (lambda d: d.update(spec=[1]), "'spec' must be dict"),
    (lambda d: d.update(format_version=99), "format_version 99 is not supported"),
    (lambda d: d.update(failing_checks=[1]), "list of names"),
    (lambda d: d.update(history=[{"type": "invoke"}]), "field 'history'"),
])
def test_bad_bundle_fields_are_named(tmp_path, mutate, problem):
    doc = orjson.loads(_bundle().to_json())
    mutate(doc)
    path = tmp_path / "b.json"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(BundleError, match=problem):
        load_bundle(path)


def test_unreadable_bundles(tmp_path):
    with pytest.raises(BundleError, match="no such bundle"):
        load_bundle(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path / "x.json")


def test_histories_and_checkers_import_without_the_simulator():
    import subprocess
    import sys
    code = ("import sys, faultlab.histories, faultlab.checkers.set, faultlab.checkers.liveness,"
            "faultlab.checkers.lost_appends, faultlab.checkers.linearizability;"
            "bad=[m for m in sys.modules if m.startswith(('faultlab.sim','faultlab.campaign',"
            "'faultlab.nemesis','faultlab.protocols'))]; print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_faultlab_check_loads_neither_the_simulator_nor_any_protocol(tmp_path):
    import subprocess
    import sys
    (tmp_path / "h.edn").write_text("{:type :invoke, :f :write, :process 0, :value 1}\n"
                                    "{:type :ok, :f :write, :process 0, :value 1}\n")
    code = ("import sys; from faultlab.cli import main\n"
            "try: main(['check', sys.argv[1], '--model', 'register'])\n"
            "except SystemExit as e: code = e.code\n"
            "bad=[m for m in sys.modules if m.startswith(('faultlab.sim','faultlab.campaign',"
            "'faultlab.nemesis','faultlab.protocols'))]; print(bad); sys.exit(code or bool(bad))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "h.edn")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("[]"), out.stdout + out.stderr
