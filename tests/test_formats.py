"""History readers: EDN, Jepsen, Knossos, Porcupine logs, JSON lines, and format detection."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultlab.histories import edn, formats
from faultlab.histories.errors import HistoryError
from faultlab.histories.formats import detect_format, load_history, parse_history, write_jepsen_edn
from faultlab.histories.history import History
from faultlab.histories.jsonl import write_jsonl
from faultlab.histories.op import Op

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "porcupine"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(),
                                  reason=f"Porcupine corpus not found at {CORPUS}")


# ---- EDN -----------------------------------------------------------------------------------

def test_edn_reads_every_form_histories_use():
    value = edn.loads('{:a nil, :b [1 -2 3.5 "s\\"q\\n"], :c #{:x}, :d (true false), '
                      ':e \\x, :f #inst "2024", :g sym ; comment\n, :h #_ 1 2}')
    assert value == {"a": None, "b": [1, -2, 3.5, 's"q\n'], "c": frozenset({"x"}),
                     "d": [True, False], "e": "x", "f": "2024", "g": "sym", "h": 2}
    assert isinstance(next(iter(value["c"])), edn.Keyword)
    assert isinstance(value["g"], edn.Symbol)


def test_edn_reads_what_jepsen_prints_beyond_plain_data():
    """The findings' refusals: a printed Java object (its identity hash is hex), ratios,
    regular expressions, ##Inf and ##NaN, radix integers."""
    obj = edn.loads('#object[java.lang.Object 0x6d06d69c "java.lang.Object@6d06d69c"]')
    assert obj == ["java.lang.Object", 0x6d06d69c, "java.lang.Object@6d06d69c"]
    value = edn.loads('[1/2 #"a.b" ##Inf 2r101 -0x10 36rZZ 7N]')
    assert value[0] * 2 == 1 and value[1:3] == ["a.b", float("inf")]
    assert value[3:] == [5, -16, 1295, 7]
    assert edn.loads("{:a ##NaN, :b 2}")["b"] == 2  # ##NaN takes one form, not the next
    for bad in ("2r102", "0r10", "37r1", "0xG"):
        with pytest.raises(HistoryError, match="bad number"):
            edn.loads(bad)


@pytest.mark.parametrize("text,problem", [
    ("{:a 1", "missing closing '}'"),
    ('"abc', "unterminated string"),
    ("{:a}", "even number"),
    ("[1 2] 3", "unexpected text after"),
    ("]", "unexpected ']'"),
    ("12ab", "bad number"),
])
def test_edn_errors_name_file_line_and_problem(text, problem):
    with pytest.raises(HistoryError, match=problem) as err:
        edn.loads(text, path="h.edn", line=7)
    assert str(err.value).startswith("h.edn:7: EDN: ")


def test_edn_writer_uses_jepsens_line_shape_and_round_trips():
    op = Op(index=3, type="ok", process=2, f="cas", value=[1, 2], time=99, error=None)
    line = edn.dumps_op(op)
    assert line == "{:index 3, :time 99, :type :ok, :process 2, :f :cas, :value [1 2]}"
    history = parse_history(line.replace(":ok", ":invoke") + "\n" + line + "\n")
    assert [o.type for o in history] == ["invoke", "ok"]
    assert history[1].value == [1, 2] and history[1].time == 99


def test_jepsen_edn_write_then_read(tmp_path):
    ops = [Op(0, "invoke", 0, "write", "a", time=5), Op(1, "ok", 0, "write", "a", time=6),
           Op(2, "invoke", 1, "read", None, time=7), Op(3, "info", 1, "read", None, time=8)]
    write_jepsen_edn(History(ops), tmp_path / "history.edn")
    assert list(load_history(tmp_path / "history.edn")) == ops


# ---- detection and readers -----------------------------------------------------------------

@pytest.mark.parametrize("text,fmt", [
    ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n", "etcd-log"),
    ('{:process 9, :type :invoke, :f :append, :key "0", :value "x"}\n', "kv-log"),
    ("{:type :invoke, :f :read, :process 0, :value nil}\n", "jepsen-edn"),
    ("[{:type :invoke, :f :read, :process 0}\n]", "knossos-edn"),
    ('{"type": "invoke", "process": 0, "f": "read"}\n', "jsonl"),
])
def test_detect_format(text, fmt):
    assert detect_format(text) == fmt


def test_unrecognisable_file_is_bad_input():
    with pytest.raises(HistoryError, match="cannot tell the history format"):
        parse_history("hello world\n", path="x.txt")


def test_etcd_log_values_info_and_failed_reads():
    text = ("INFO  jepsen.util - 0\t:invoke\t:cas\t[3 0]\n"
            "INFO  jepsen.util - 1   :invoke :read   nil\n"
            "INFO  jepsen.util - 0\t:info\t:cas\t:timed-out\n"
            "INFO  jepsen.util - 1   :fail :read   :timed-out\n")
    h = parse_history(text)
    # no times in the file: each op's index is its line, its time unknown
    assert [(o.type, o.process, o.f, o.value, o.index, o.time) for o in h] == [
        ("invoke", 0, "cas", [3, 0], 1, None), ("invoke", 1, "read", None, 2, None),
        ("info", 0, "cas", [3, 0], 3, None), ("fail", 1, "read", None, 4, None)]
    assert h[2].error == "timed-out"


def test_kv_log_becomes_independent_key_values():
    text = ('{:process 9, :type :invoke, :f :get, :key "0", :value nil}\n'
            '{:process 9, :type :ok, :f :get, :key "0", :value "x 9 0 y"}\n')
    h = parse_history(text)
    assert [o.value for o in h] == [["0", None], ["0", "x 9 0 y"]]


def test_jepsen_edn_skips_nemesis_ops():
    text = ("{:type :info, :f :start, :process :nemesis, :value nil}\n"
            "{:type :invoke, :f :read, :process 0, :value nil, :time 10}\n"
            "{:type :ok, :f :read, :process 0, :value 3, :time 20}\n")
    h = parse_history(text)
    # without :index, an op's index is its line, so explanations point into the file
    assert [(o.index, o.type, o.value, o.time) for o in h] == [(2, "invoke", None, 10),
                                                             (3, "ok", 3, 20)]


def test_knossos_vector_over_many_lines_reports_the_bad_line():
    text = ("[{:process 0, :type :invoke, :f :read}\n"
            " {:process 0, :type :ok, :f :read, :value 1}\n"
            " {:process 1, :type :ok, :f :read, :value 1}]\n")
    with pytest.raises(HistoryError, match="no open invoke") as err:
        parse_history(text, path="k.edn")
    assert str(err.value).startswith("k.edn:3: ")


@pytest.mark.parametrize("text,line,problem", [
    ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - x :ok :read 1\n", 2,
     "process must be an integer"),
    ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0 :ok :frob 1\n", 2,
     "does not match its invoke"),
    ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\t[1\n", 2,
     "missing closing"),
    ("{:type :invoke, :f :read, :process 0}\n{:type :bogus, :f :read, :process 0}\n", 2,
     "unknown :type"),
    ("{:type :invoke, :f :read, :process 0}\n{:type :ok, :process 0}\n", 2, "missing :f"),
    ('{:process 1, :type :invoke, :f :get, :key "0"}\n{:process 1, :type :ok, :f :put}\n', 2,
     "expected an op map with a :key"),
    ("{:type :invoke, :f :read, :process 0}\n{:type :invoke, :f :read, :process 0}\n", 2,
     "still open"),
])
def test_malformed_lines_name_file_and_line(tmp_path, text, line, problem):
    path = tmp_path / "bad.log"
    path.write_text(text)
    with pytest.raises(HistoryError, match=problem) as err:
        load_history(path)
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_jsonl_and_empty_and_missing_files(tmp_path):
    ops = [Op(0, "invoke", 0, "write", 1, time=1), Op(1, "ok", 0, "write", 1, time=2)]
    write_jsonl(History(ops), tmp_path / "h.jsonl")
    assert list(load_history(tmp_path / "h.jsonl")) == ops
    (tmp_path / "empty.log").write_text("")
    assert len(load_history(tmp_path / "empty.log")) == 0
    with pytest.raises(HistoryError, match="no such file"):
        load_history(tmp_path / "nope.edn")
    with pytest.raises(HistoryError, match="unknown history format"):
        parse_history("x", format="yaml")


# ---- reading in blocks ------------------------------------------------------------------------

def _etcd_rows(n: int) -> list[str]:
    rows = []
    for i in range(n):
        rows += [f"INFO  jepsen.util - {i % 3}\t:invoke\t:write\t{i}",
                 f"INFO  jepsen.util - {i % 3}\t:ok\t:write\t{i}"]
    return rows


def test_blocks_of_simple_lines_read_as_line_by_line(tmp_path, monkeypatch):
    """Files are read in blocks of whole lines, each matched at once while every line has
    the common shape: the ops, their line numbers, and errors must be the same as when
    each line is read on its own."""
    rows = _etcd_rows(40)
    rows[30] = "INFO  jepsen.util - 0\t:invoke\t:write\t{:a 1}"  # a line for the full reader
    rows[31] = "INFO  jepsen.util - 0\t:ok\t:write\t{:a 1}"
    text = "\r\n".join(rows[:20]) + "\r\n" + "\n".join(rows[20:]) + "\n"
    path = tmp_path / "h.log"
    path.write_bytes(text.encode())
    whole = load_history(path)
    monkeypatch.setattr(formats, "BLOCK_BYTES", 100)  # about two lines a block
    blocks = load_history(path)
    assert list(blocks) == list(whole) and len(whole) == 80
    assert [op.index for op in blocks] == list(range(1, 81))
    assert blocks[30].value == {"a": 1}
    path.write_bytes((text + "INFO  jepsen.util - 1\t:ok\t:write\t7\n").encode())
    with pytest.raises(HistoryError, match=f"{path}:81: ok for process 1 with no open"):
        load_history(path)
    path.write_bytes(text.encode() + b"INFO  jepsen.util - 1\t:invoke\t:write\t\xe9\n")
    with pytest.raises(HistoryError, match=f"{path}:81: not UTF-8 text"):
        load_history(path)


def test_kv_logs_in_blocks_read_as_line_by_line(tmp_path, monkeypatch):
    rows = []
    for i in range(30):
        p, key = i % 4, str(i % 3)
        rows += [f'{{:process {p}, :type :invoke, :f :append, :key "{key}", :value "x {i}"}}',
                 f'{{:process {p}, :type :ok, :f :append, :key "{key}", :value "x {i}"}}',
                 f'{{:process {p}, :type :invoke, :f :get, :key "{key}", :value nil}}',
                 f'{{:process {p}, :type :ok, :f :get, :key "{key}", :value "x {i}"}}']
    path = tmp_path / "kv.txt"
    path.write_text("\n".join(rows) + "\n")
    at_once = load_history(path)
    rows[88:90] = [r.replace('"x 22"', '"x \\"22\\""') for r in rows[88:90]]  # an escape
    path.write_text("\n".join(rows) + "\n")
    monkeypatch.setattr(formats, "BLOCK_BYTES", 200)  # at once, then line by line
    mixed = load_history(path)
    monkeypatch.setattr(formats, "_SHAPES", {})
    by_line = load_history(path)
    assert list(mixed) == list(by_line) and len(by_line) == 120
    assert [op for i, op in enumerate(at_once) if i not in (88, 89)] == [
        op for i, op in enumerate(by_line) if i not in (88, 89)]
    assert by_line[0].value == ["0", "x 0"] and by_line[2].value == ["0", None]
    assert by_line[88].value == ["1", 'x "22"']


def _jepsen_edn_lines() -> list[str]:
    """Jepsen history.edn lines in the shapes real files have: both key orders Jepsen has
    written, :error after the fields, nemesis ops, tags, comments, blank lines and a line
    the patterns do not take (a map value)."""
    lines = []
    for i in range(60):
        p, k = i % 4, i % 3
        if i < 30:  # Jepsen before jepsen.history: type, f, value, time, process, index
            lines += [f"{{:type :invoke, :f :cas, :value [{k} [{i} {i + 1}]], :time {9 * i}, "
                      f":process {p}, :index {2 * i}}}",
                      f"{{:type :fail, :f :cas, :value [{k} [{i} {i + 1}]], :time {9 * i + 4}, "
                      f":process {p}, :index {2 * i + 1}, :error [:mismatch {i}]}}"]
        else:  # jepsen.history's records: index, time, type, process, f, value, then more
            lines += [f"{{:index {2 * i}, :time -1, :type :invoke, :process {p}, :f :read, "
                      f":value [{k} nil]}}",
                      f"{{:index {2 * i + 1}, :time -1, :type :ok, :process {p}, :f :read, "
                      f":value [{k} {i}], :final? true, :node \"n{p}\"}}"]
    lines.insert(7, "#jepsen.history.Op{:type :info, :f :start, :value nil, "
                    ":process :nemesis}")
    lines.insert(20, "; a comment")
    lines.insert(41, "")
    lines.insert(50, "{:index 999, :type :info, :process :nemesis, :f :kill, "
                     ":value {:n1 :killed}}")
    return lines


def test_jepsen_edn_in_blocks_reads_as_the_general_reader(tmp_path, monkeypatch):
    """EDN files are read a block at a time by a pattern made from the keys of each
    block's first line; ops, their indices, line numbers, errors and nodes must come out
    as when every line goes through the general EDN reader."""
    path = tmp_path / "history.edn"
    lines = _jepsen_edn_lines()
    path.write_text("\n".join(lines[:30]) + "\n" + "\r\n".join(lines[30:]) + "\n")
    monkeypatch.setattr(formats, "BLOCK_BYTES", 300)  # a few lines a block
    blocks = formats.read_history(path)
    monkeypatch.setattr(formats, "_edn_shape", lambda block: None)
    general = formats.read_history(path)
    assert blocks == general and len(general.history) == 120
    first = general.history[1]
    assert (first.index, first.time, first.error) == (1, 4, ["mismatch", 0])
    last = general.history[-1]
    assert (last.index, last.time, last.value, last.node) == (119, -1, [2, 59], "n3")


def test_history_txt_and_logs_in_blocks_read_as_the_general_reader(tmp_path, monkeypatch):
    """Rows with keyed values, error columns (EDN or text), nemesis ops and, in a log, other
    lines: read a block at a time as each line alone by the general row reader."""
    rows = []
    for i in range(40):
        p, k = i % 4, i % 3  # (a process is not used again after an info: `100 + i`)
        rows += [f"{100 + i}\t:invoke\t:cas\t[{k} [{i} {i + 1}]]",
                 f"{100 + i}\t:fail\t:cas\t[{k} [{i} {i + 1}]]\t:mismatch" if i % 3 else
                 f"{100 + i}\t:info\t:cas\t[{k} [{i} {i + 1}]]\tindeterminate: timed out",
                 f"{p}\t:invoke\t:read\t[{k} nil]",
                 f"{p}\t:ok\t:read\t[{k} \"v{i}\"]"]
    rows.insert(9, ":nemesis\t:info\t:start\t{:n1 [:n2]}")
    log = [line for row in rows for line in (f"INFO  jepsen.util - {row}", "INFO  jepsen.core - x")]
    monkeypatch.setattr(formats, "BLOCK_BYTES", 256)
    for name, lines in ("history.txt", rows), ("jepsen.log", log):
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        blocks = formats.read_history(path)
        with monkeypatch.context() as general:
            general.setattr(formats, "_SHAPES", {})
            assert blocks == formats.read_history(path)
        assert len(blocks.history) == 160
        assert [op.error for op in blocks.history[1:6:4]] == [
            "indeterminate: timed out", "mismatch"]


def test_jepsen_edn_in_blocks_names_the_line_of_an_error(tmp_path):
    lines = _jepsen_edn_lines()
    n = next(i for i, line in enumerate(lines) if ":final?" in line)
    path = tmp_path / "history.edn"
    for more, key in (":final? false", ":final"), (":process 9", ":process"):
        wrong = lines[n].replace(":final? true", ":final? true, " + more)
        path.write_text("\n".join([*lines[:n], wrong, *lines[n + 1:]]) + "\n")
        with pytest.raises(HistoryError, match=f"{path}:{n + 1}: EDN: duplicate key {key}"):
            load_history(path)


_EDN_ATOMS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                       st.sampled_from([edn.Keyword(k) for k in ("r", "append", "nil", "a/b")]),
                       st.text("ab ,:[]", max_size=4))


@given(st.recursive(_EDN_ATOMS, lambda inner: st.lists(inner, max_size=4), max_leaves=12))
def test_vectors_read_quickly_are_the_vectors_the_general_reader_reads(value):
    """Vectors are read as JSON where they can be (keywords made Keywords after): the value
    and the kind of every element must be the general reader's."""
    text = edn.dumps([value])
    fast = edn.read_value(text)
    assert fast == edn.loads(text) == [value] and edn.dumps(fast) == text


def test_history_txt_rows_in_blocks_keep_the_rules(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "BLOCK_BYTES", 64)
    rows = [f"{p}\t:invoke\t:read\tnil\n{p}\t:ok\t:read\t{p}" for p in range(6)]
    path = tmp_path / "history.txt"
    path.write_text("\n".join(rows) + "\n0\t:invoke\t:read\tnil\n0\t:invoke\t:read\tnil\n")
    with pytest.raises(HistoryError, match=f"{path}:14: process 0 invokes while its op from "
                                           "line 13 is still open"):
        load_history(path)


def test_a_line_longer_than_a_block_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "BLOCK_BYTES", 64)
    ops = [Op(i, t, i // 2 % 3, "write", i // 2) for i, t in
           enumerate(["invoke", "ok"] * 20)]
    path = tmp_path / "h.json"
    path.write_text(orjson.dumps([op._asdict() for op in ops]).decode())  # one line, no end
    assert list(load_history(path)) == ops


def test_detection_looks_past_leading_blank_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "BLOCK_BYTES", 512)
    path = tmp_path / "h.log"
    path.write_text("\n" * 5000 + "\n".join(_etcd_rows(2)) + "\n")
    loaded = formats.read_history(path)
    assert loaded.format == "etcd-log" and [op.index for op in loaded.history] == [
        5001, 5002, 5003, 5004]


@needs_corpus
def test_whole_corpus_parses_with_expected_operation_counts():
    import csv

    with open(CORPUS / "expected_verdicts.csv") as f:
        for row in csv.DictReader(f):
            h = load_history(CORPUS / row["path"])
            assert sum(op.type == "invoke" for op in h) == int(row["operations"]), row
