"""`faultlab check`: verdict lines, totals, JSON, exit codes (Jepsen's, plus 3 for bad input)."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from faultlab.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "porcupine"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(),
                                  reason=f"Porcupine corpus not found at {CORPUS}")

GOOD = ("{:type :invoke, :f :write, :process 0, :value 1}\n"
        "{:type :ok, :f :write, :process 0, :value 1}\n"
        "{:type :invoke, :f :read, :process 1, :value nil}\n"
        "{:type :ok, :f :read, :process 1, :value 1}\n")
BAD = GOOD.replace(":ok, :f :read, :process 1, :value 1", ":ok, :f :read, :process 1, :value 2")


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_linearizable_file_exits_0(tmp_path, capsys):
    (tmp_path / "good.edn").write_text(GOOD)
    code, out, _ = run(capsys, tmp_path / "good.edn", "--model", "register")
    assert code == 0
    assert "good.edn: linearizable (register, jepsen-edn, 2 ops" in out
    assert "total: 1 files: 1 linearizable" in out


def test_not_linearizable_exits_1_and_explains(tmp_path, capsys):
    (tmp_path / "bad.edn").write_text(BAD)
    code, out, _ = run(capsys, tmp_path / "bad.edn")
    assert code == 1
    assert "NOT LINEARIZABLE" in out and "cannot linearize op 3" in out  # its line
    assert "prefix: write 1" in out and "model state(s) there: 1" in out  # sequential


def test_time_limit_exits_2_and_names_undecided(tmp_path, capsys):
    lines = [f"{{:type :invoke, :f :add, :process {p}, :value {p}}}" for p in range(14)]
    lines += ["{:type :invoke, :f :read, :process 99}",
              "{:type :ok, :f :read, :process 99, :value #{99}}"]
    lines += [f"{{:type :ok, :f :add, :process {p}, :value {p}}}" for p in range(14)]
    (tmp_path / "hard.edn").write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, tmp_path / "hard.edn", "--model", "set", "--time-limit", "0")
    assert code == 2
    assert "UNKNOWN" in out and "the time limit ran out" in out


def test_bad_inputs_exit_3_naming_file_and_line(tmp_path, capsys):
    (tmp_path / "good.edn").write_text(GOOD)
    (tmp_path / "broken.edn").write_text(GOOD + "{:type :ok, :f :read\n")
    code, out, err = run(capsys, tmp_path / "good.edn", tmp_path / "broken.edn",
                         tmp_path / "missing.edn", "--model", "register")
    assert code == 3
    assert f"error: {tmp_path / 'broken.edn'}:5: EDN: missing closing '}}'" in err
    assert f"error: {tmp_path / 'missing.edn'}: no such file" in err  # the path once
    assert "total: 3 files: 1 linearizable, 0 not linearizable, 0 unknown, 2 bad input" in out


def test_unknown_model_exits_3(tmp_path, capsys):
    (tmp_path / "good.edn").write_text(GOOD)
    code, _, err = run(capsys, tmp_path / "good.edn", "--model", "stack")
    assert code == 3 and "unknown model 'stack'" in err


def test_worst_code_wins_and_json_document(tmp_path, capsys):
    (tmp_path / "a.edn").write_text(GOOD)
    (tmp_path / "b.edn").write_text(BAD)
    code, out, _ = run(capsys, tmp_path, "--json")
    assert code == 1
    doc = orjson.loads(out)
    assert [Path(f["path"]).name for f in doc["files"]] == ["a.edn", "b.edn"]
    assert doc["files"][0]["verdict"]["valid"] is True
    failing = doc["files"][1]["verdict"]
    assert failing["valid"] is False and failing["witness"][0]["op"]["output"] == 2
    assert doc["total"] == {"files": 2, "linearizable": 1, "not_linearizable": 1,
                            "unknown": 0, "bad_input": 0, "exit_code": 1}


def test_failed_cas_reading_follows_the_format_unless_told(tmp_path, capsys):
    """Jepsen and Knossos files read a failed CAS as "did not happen"; Porcupine's etcd logs
    as an observation that the value differed; --cas-fail chooses; the output names it."""
    history = ("{:type :invoke, :f :write, :process 0, :value 0}\n"
               "{:type :ok, :f :write, :process 0, :value 0}\n"
               "{:type :invoke, :f :cas, :process 1, :value [0 1]}\n"
               "{:type :fail, :f :cas, :process 1, :value [0 1]}\n")
    (tmp_path / "cas.edn").write_text(history)
    code, out, _ = run(capsys, tmp_path / "cas.edn")
    assert code == 0 and "a failed CAS did nothing (Jepsen, Knossos)" in out
    code, out, _ = run(capsys, tmp_path / "cas.edn", "--cas-fail", "observes")
    assert code == 1 and "a failed CAS saw another value (Porcupine)" in out
    log = "".join(f"INFO  jepsen.util - {p}\t:{t}\t:{f}\t{v}\n" for p, t, f, v in [
        (0, "invoke", "write", 0), (0, "ok", "write", 0), (1, "invoke", "cas", "[0 1]"),
        (1, "fail", "cas", "[0 1]")])
    (tmp_path / "cas.log").write_text(log)
    code, out, _ = run(capsys, tmp_path / "cas.log")
    assert code == 1 and "etcd-log" in out and "(Porcupine)" in out
    assert run(capsys, tmp_path / "cas.log", "--cas-fail", "no-effect")[0] == 0


@needs_corpus
def test_corpus_directory_and_all_keys(capsys):
    code, out, _ = run(capsys, CORPUS / "jepsen")
    assert code == 1
    assert "total: 103 files: 24 linearizable, 79 not linearizable" in out  # 095 is empty
    code, out, _ = run(capsys, CORPUS / "kv" / "c10-bad.txt", "--model", "kv", "--all-keys")
    assert code == 1
    failing = [ln for ln in out.splitlines() if ln.strip().startswith("key ")
               and ("not linearizable;" in ln or "not linearizable:" in ln)]
    assert len(failing) == 8
