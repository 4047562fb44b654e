"""`faultlab check` on what real Jepsen tests write: keyed histories, Jepsen's text formats,
initial values, exact integers, hostile input and the limits, each as a user meets it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from faultlab.checkers.linearizability import check_linearizable
from faultlab.checkers.models import get_model
from faultlab.cli import main
from faultlab.histories.formats import read_history

FAULTLAB = str(Path(sys.executable).with_name("faultlab"))


def check(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def edn_ops(*rows) -> str:
    """(type, process, f, value) rows as history.edn lines with :index."""
    return "".join(f"{{:type :{t}, :f :{f}, :process {p}, :value {v}, :index {i}}}\n"
                   for i, (t, p, f, v) in enumerate(rows))


KEYED = edn_ops(("invoke", 0, "write", "[1 3]"), ("ok", 0, "write", "[1 3]"),
                ("invoke", 1, "write", "[2 4]"), ("ok", 1, "write", "[2 4]"),
                ("invoke", 0, "read", "[1 nil]"), ("ok", 0, "read", "[1 3]"),
                ("invoke", 1, "cas", "[2 [4 5]]"), ("ok", 1, "cas", "[2 [4 5]]"),
                ("invoke", 0, "read", "[2 nil]"), ("ok", 0, "read", "[2 5]"))


# ---- keyed (jepsen.independent) histories ---------------------------------------------------

def test_a_keyed_history_is_checked_key_by_key(tmp_path, capsys):
    (tmp_path / "h.edn").write_text(KEYED)
    code, out, _ = check(capsys, tmp_path / "h.edn")
    assert code == 0 and "keyed history: 2 keys" in out
    # read as one register, the keys' values collide and it is not linearizable
    assert check(capsys, tmp_path / "h.edn", "--no-independent")[0] == 1


def test_a_keyed_history_failing_on_one_key_names_it(tmp_path, capsys):
    (tmp_path / "h.edn").write_text(KEYED.replace("[2 5], :index 9", "[2 4], :index 9"))
    code, out, _ = check(capsys, tmp_path / "h.edn")
    assert code == 1 and "not linearizable in key 2" in out
    assert "cannot linearize op 8" in out  # the file's own :index


def test_keyed_detection_needs_every_value_to_be_a_pair():
    assert get_model("register", independent=True).part_name == "key"
    plain = [("write", 3), ("cas", [3, 4]), ("read", None)]
    keyed = [("write", [0, 3]), ("cas", [0, [3, 4]]), ("read", [0, None])]
    from faultlab.checkers.models import looks_keyed
    assert not looks_keyed("cas-register", plain)
    assert looks_keyed("cas-register", keyed) and looks_keyed("set", [("add", [1, 2])])
    assert not looks_keyed("kv", keyed)  # kv is keyed by design


@pytest.mark.parametrize("model, rows, valid", [
    ("set", [("invoke", 0, "add", "[7 1]"), ("ok", 0, "add", "[7 1]"),
             ("invoke", 1, "read", "[7 nil]"), ("ok", 1, "read", "[7 #{1}]"),
             ("invoke", 1, "read", "[8 nil]"), ("ok", 1, "read", "[8 #{}]")], True),
    ("set", [("invoke", 0, "add", "[7 1]"), ("ok", 0, "add", "[7 1]"),
             ("invoke", 1, "read", "[8 nil]"), ("ok", 1, "read", "[8 #{1}]")], False),
    ("mutex", [("invoke", 0, "acquire", "[1 nil]"), ("ok", 0, "acquire", "[1 nil]"),
               ("invoke", 1, "acquire", "[2 nil]"), ("ok", 1, "acquire", "[2 nil]")], True),
    ("mutex", [("invoke", 0, "acquire", "[1 nil]"), ("ok", 0, "acquire", "[1 nil]"),
               ("invoke", 1, "acquire", "[1 nil]"), ("ok", 1, "acquire", "[1 nil]")], False),
])
def test_other_models_take_keyed_histories_too(tmp_path, capsys, model, rows, valid):
    (tmp_path / "h.edn").write_text(edn_ops(*rows))
    code, out, _ = check(capsys, tmp_path / "h.edn", "--model", model)
    assert code == (0 if valid else 1) and "keyed history" in out, out


# ---- Jepsen's text formats ------------------------------------------------------------------

def test_history_txt_with_nemesis_rows_and_an_unquoted_error(tmp_path, capsys):
    text = ("0\t:invoke\t:write\t3\n0\t:ok\t:write\t3\n:nemesis\t:info\t:start\tnil\n"
            "1\t:invoke\t:read\tnil\n1\t:ok\t:read\t3\n2\t:invoke\t:cas\t[3 4]\n"
            "2\t:info\t:cas\t[3 4]\tindeterminate: connection reset by peer\n")
    (tmp_path / "history.txt").write_text(text)
    loaded = read_history(tmp_path / "history.txt")
    assert loaded.format == "history-txt" and len(loaded.history) == 6
    assert loaded.history[-1].error == "indeterminate: connection reset by peer"
    assert loaded.history[-1].value == [3, 4]
    assert check(capsys, tmp_path / "history.txt")[0] == 0


def test_jepsen_log_lines_are_found_among_other_output(tmp_path, capsys):
    text = ("2017-01-01 12:00:00 INFO jepsen.core - Running test\n"
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nsome other output\n"
            "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
            "INFO  jepsen.util - 0\t:ok\t:read\t0\n")
    (tmp_path / "jepsen.log").write_text(text)
    assert read_history(tmp_path / "jepsen.log").format == "jepsen-log"
    code, out, _ = check(capsys, tmp_path / "jepsen.log")
    assert code == 1 and "state(s) there: nil" in out  # a read of 0 from nil
    assert check(capsys, tmp_path / "jepsen.log", "--initial", "0")[0] == 0


def test_etcd_logs_with_nemesis_lines_and_an_error_column(tmp_path):
    text = ("INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
            "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
            "INFO  jepsen.util - 0\t:info\t:write\t1\t:timed-out\n")
    (tmp_path / "h.log").write_text(text)
    h = read_history(tmp_path / "h.log").history
    assert [(o.type, o.value, o.error) for o in h] == [("invoke", 1, None),
                                                      ("info", 1, "timed-out")]


def test_json_documents_tagged_records_and_what_detection_saw(tmp_path, capsys):
    ops = [{"type": "invoke", "process": 0, "f": "write", "value": 1},
           {"type": "ok", "process": 0, "f": "write", "value": 1}]
    (tmp_path / "array.json").write_text(json.dumps(ops, indent=2))
    (tmp_path / "bundle.json").write_text(json.dumps({"spec": {}, "history": ops}, indent=2))
    (tmp_path / "tagged.edn").write_text(
        "#jepsen.history.Op{:index 0, :type :invoke, :process 0, :f :write, :value 1}\n"
        "#jepsen.history.Op{:index 1, :type :ok, :process 0, :f :write, :value 1}\n")
    for name, fmt in (("array.json", "json"), ("bundle.json", "json"),
                      ("tagged.edn", "jepsen-edn")):
        loaded = read_history(tmp_path / name)
        assert loaded.format == fmt and [o.type for o in loaded.history] == ["invoke", "ok"]
    (tmp_path / "notes.txt").write_text("hello world\n")
    code, _, err = check(capsys, tmp_path / "notes.txt")
    assert code == 3 and "cannot tell the history format from 'hello world'" in err


def test_lone_completions_as_jepsen_treats_them(tmp_path, capsys):
    (tmp_path / "info.edn").write_text("{:type :info, :f :read, :process 3, :value nil}\n"
                                       + edn_ops(("invoke", 0, "write", 1),
                                                 ("ok", 0, "write", 1)))
    code, out, err = check(capsys, tmp_path / "info.edn")
    assert code == 0 and "1 :info completion(s) with no invoke ignored" in err
    (tmp_path / "ok.edn").write_text("{:type :ok, :f :read, :process 3, :value nil}\n")
    code, _, err = check(capsys, tmp_path / "ok.edn")
    assert code == 3 and "ok.edn:1: ok for process 3 with no open invoke" in err


# ---- initial values ---------------------------------------------------------------------------

def test_initial_values_for_every_kind_of_model(tmp_path, capsys):
    (tmp_path / "r.edn").write_text(edn_ops(("invoke", 0, "read", "nil"),
                                            ("ok", 0, "read", 0)))
    assert check(capsys, tmp_path / "r.edn", "--model", "register")[0] == 1
    assert check(capsys, tmp_path / "r.edn", "--model", "register", "--initial", "0")[0] == 0
    (tmp_path / "m.edn").write_text(edn_ops(("invoke", 0, "txn", "[[:r :x nil] [:r :y nil]]"),
                                            ("ok", 0, "txn", "[[:r :x 0] [:r :y 0]]")))
    assert check(capsys, tmp_path / "m.edn", "--model", "multi-register",
                 "--initial", "{:x 0 :y 0}")[0] == 0
    assert check(capsys, tmp_path / "m.edn", "--model", "multi-register",
                 "--initial", "{:x 0 :y 1}")[0] == 1
    code, _, err = check(capsys, tmp_path / "r.edn", "--model", "mutex", "--initial", "7")
    assert code == 3 and "locked (true) or free (false)" in err


def test_initial_values_in_the_python_api():
    from faultlab.histories import History, Op
    h = History([Op(0, "invoke", 0, "get", ["k", None]), Op(1, "ok", 0, "get", ["k", "ab"])])
    assert check_linearizable(h, get_model("kv")).valid is False
    assert check_linearizable(h, get_model("kv", initial={"k": "ab"})).valid is True


# ---- exactness and hostile input ---------------------------------------------------------------

def test_integers_stay_exact_past_64_bits(tmp_path, capsys):
    big, other = 123456789012345678901234567890, 123456789012345678901234567891
    lines = [{"type": "invoke", "process": 0, "f": "write", "value": big},
             {"type": "ok", "process": 0, "f": "write", "value": big},
             {"type": "invoke", "process": 1, "f": "read", "value": None},
             {"type": "ok", "process": 1, "f": "read", "value": other}]
    (tmp_path / "h.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    code, out, _ = check(capsys, tmp_path / "h.jsonl", "--model", "register", "--json")
    assert code == 1
    doc = json.loads(out)  # the standard library reads the big integers back exactly
    assert doc["files"][0]["verdict"]["witness"][0]["op"]["output"] == other
    (tmp_path / "h.edn").write_text(edn_ops(("invoke", 0, "write", big), ("ok", 0, "write", big),
                                            ("invoke", 1, "read", "nil"),
                                            ("ok", 1, "read", other)))
    assert check(capsys, tmp_path / "h.edn", "--model", "register")[0] == 1


def test_a_lone_surrogate_in_a_value_still_gives_json(tmp_path, capsys):
    (tmp_path / "h.jsonl").write_text(
        '{"type": "invoke", "process": 0, "f": "write", "value": "\\ud800"}\n'
        '{"type": "ok", "process": 0, "f": "write", "value": "\\ud800"}\n'
        '{"type": "invoke", "process": 1, "f": "read", "value": null}\n'
        '{"type": "ok", "process": 1, "f": "read", "value": "x"}\n')
    code, out, _ = check(capsys, tmp_path / "h.jsonl", "--model", "register", "--json")
    assert code == 1 and json.loads(out)["total"]["not_linearizable"] == 1


@pytest.mark.parametrize("name, text, message", [
    ("deep.edn", "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
    ("deep-map.edn", "{:type :invoke, :f :write, :process 0, :value " + "[" * 900
     + "]" * 900 + "}\n", "nested too deeply"),
    ("char.edn", "{:type :invoke, :f :write, :process 0, :value \\uZZZZ}\n",
     "unknown character literal"),
    ("dup.edn", "{:type :invoke, :type :ok, :f :write, :process 0}\n", "duplicate key :type"),
    ("list.jsonl", '{"type": "invoke", "process": [1], "f": "read"}\n',
     "process must be an integer or a name"),
    ("map.jsonl", '{"type": "invoke", "process": {"a": 1}, "f": "read"}\n',
     "process must be an integer or a name"),
    ("float.jsonl", '{"type": "invoke", "process": 1.5, "f": "read"}\n',
     "process must be an integer or a name"),
    ("index.jsonl", '{"type": "invoke", "process": 1, "f": "read", "index": "a"}\n',
     ":index must be an integer"),
    ("time.jsonl", '{"type": "invoke", "process": 1, "f": "read", "time": true}\n',
     ":time must be an integer"),
])
def test_hostile_input_is_one_line_and_exit_3(tmp_path, capsys, name, text, message):
    (tmp_path / name).write_text(text)
    (tmp_path / "good.edn").write_text(edn_ops(("invoke", 0, "write", 1), ("ok", 0, "write", 1)))
    code, out, err = check(capsys, tmp_path / name, tmp_path / "good.edn")
    assert code == 3 and message in err and len(err.strip().splitlines()) == 1, err
    assert "1 linearizable" in out  # and the other file was still checked


def test_line_numbers_count_every_line_and_ignore_a_users_index(tmp_path, capsys):
    (tmp_path / "h.jsonl").write_text(
        '{"type": "invoke", "process": 0, "f": "read", "index": 70}\n\n'
        '{"type": "ok", "process": 9, "f": "read", "index": 71}\n')
    code, _, err = check(capsys, tmp_path / "h.jsonl")
    assert code == 3 and "h.jsonl:3: ok for process 9 with no open invoke" in err
    (tmp_path / "latin1.edn").write_bytes(b"{:type :invoke, :f :read, :process 0}\n"
                                          b"{:type :ok, :f :read, :process 0, :value \"\xe9\"}\n")
    code, _, err = check(capsys, tmp_path / "latin1.edn")
    assert code == 3 and "latin1.edn:2: not UTF-8 text" in err


def test_a_dangling_link_in_a_directory_is_reported(tmp_path, capsys):
    (tmp_path / "good.edn").write_text(edn_ops(("invoke", 0, "write", 1), ("ok", 0, "write", 1)))
    (tmp_path / "gone.edn").symlink_to(tmp_path / "nowhere.edn")
    code, out, err = check(capsys, tmp_path)
    assert code == 3 and "gone.edn: no such file" in err and "1 linearizable" in out


# ---- limits -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_absurd_time_limits_are_refused(tmp_path, capsys, value):
    (tmp_path / "h.edn").write_text(edn_ops(("invoke", 0, "write", 1), ("ok", 0, "write", 1)))
    code, _, err = check(capsys, tmp_path / "h.edn", "--time-limit", value)
    assert code == 3 and "--time-limit" in err


def _long_file(path: Path, n: int = 60_000) -> Path:
    rows = []
    for i in range(n):
        rows.append(f"{{:type :invoke, :f :write, :process {i % 8}, :value {i}}}")
        rows.append(f"{{:type :ok, :f :write, :process {i % 8}, :value {i}}}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_time_limit_covers_reading(tmp_path, capsys):
    path = _long_file(tmp_path / "long.edn")
    code, out, _ = check(capsys, path, "--time-limit", "0.001")
    assert code == 2 and "the time limit ran out reading line" in out


def test_the_memory_limit_bounds_the_whole_process(tmp_path):
    """Run apart: the limit is the process's. Past it, the verdict is unknown with the
    reason, not a crash."""
    path = _long_file(tmp_path / "long.edn", 200_000)
    out = subprocess.run([FAULTLAB, "check", str(path), "--memory-limit", "16", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    doc = orjson.loads(out.stdout)
    assert "memory limit (16 MiB)" in doc["files"][0]["verdict"]["explanation"]


def test_multi_register_reads_and_writes_of_micro_op_lists(tmp_path, capsys):
    """braft's histories name txns :read and :write; one connected group is not called a
    partition."""
    (tmp_path / "h.edn").write_text(edn_ops(("invoke", 0, "write", "[[:w :x 1] [:w :y 2]]"),
                                            ("ok", 0, "write", "[[:w :x 1] [:w :y 2]]"),
                                            ("invoke", 1, "read", "[[:r :x nil] [:r :y nil]]"),
                                            ("ok", 1, "read", "[[:r :x 1] [:r :y 3]]")))
    code, out, _ = check(capsys, tmp_path / "h.edn", "--model", "multi-register")
    assert code == 1 and "partition" not in out and "not linearizable: after 1" in out


def test_a_huge_argument_is_neither_echoed_whole_nor_a_traceback(tmp_path, capsys):
    code, _, err = check(capsys, tmp_path / ("x" * 5000 + ".edn"))
    assert code == 3 and "Traceback" not in err and len(err) < 500
    assert "cannot read file (File name too long)" in err or "no such file" in err
