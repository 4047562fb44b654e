"""The command line as a user meets it: exit codes, one-line errors, the store, bundles and
replay, and what happens when protocol code raises."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from faulty_protocols import Brittle, Forgetful

from faultlab.cli import main
from faultlab.protocols import PROTOCOLS


def cli(*args: str, capsys=None) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = err = ""
    if capsys is not None:
        captured = capsys.readouterr()
        out, err = captured.out, captured.err
    return exit_info.value.code, out, err


@pytest.fixture
def faulty(monkeypatch):
    monkeypatch.setitem(PROTOCOLS, "brittle", Brittle)
    monkeypatch.setitem(PROTOCOLS, "forgetful", Forgetful)


def test_run_finds_the_bug_saves_bundles_and_prints_the_replay_command(tmp_path, capsys):
    out_dir = tmp_path / "h"
    code, out, _ = cli("run", "primary-backup", "--runs", "12", "--bug", "ack-before-replicate",
                       "--jobs", "2", "--out", str(out_dir), capsys=capsys)
    assert code == 1
    bundles = sorted(out_dir.glob("*.json"))
    bundles.remove(out_dir / "summary.json")
    assert bundles and all(b.name.startswith("primary-backup-ack-before-replicate-")
                           for b in bundles)
    assert "runs failed" in out and "failed check: set" in out
    replay_line = [ln for ln in out.splitlines() if "faultlab replay" in ln][0]
    assert replay_line.split()[-1] in {str(b) for b in bundles}
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["failed"] == len(bundles) and summary["runs"] == 12
    assert {f["bundle"] for f in summary["failures"]} == {str(b) for b in bundles}
    assert (out_dir / "command.txt").read_text().startswith("faultlab")

    code, out, _ = cli("replay", str(bundles[0]), capsys=capsys)
    assert code == 1
    assert "identical" in out and "check 'set' failed" in out
    assert re.search(r"op \d+: add \d+ by process \d+ on n\d, invoked at", out)
    assert "faults and events within" in out


def test_campaigns_go_to_the_store_with_a_latest_link(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("run", "primary-backup", "--runs", "2", "--jobs", "1", "--heal-at",
                       "0.5", capsys=capsys)
    assert code == 0
    latest = tmp_path / "store" / "latest"
    assert latest.is_symlink() and (tmp_path / "store" / "primary-backup" / "latest").is_symlink()
    run_dir = latest.resolve()
    assert run_dir.parent == (tmp_path / "store" / "primary-backup").resolve()
    assert json.loads((run_dir / "summary.json").read_text())["completed"] == 2
    assert "faultlab run primary-backup --runs 2" in (run_dir / "command.txt").read_text()
    cli("run", "primary-backup", "--runs", "1", "--heal-at", "0.5", capsys=capsys)
    assert latest.resolve() != run_dir  # a second campaign gets its own directory


def test_run_of_correct_protocol_exits_zero(tmp_path, capsys):
    code, out, _ = cli("run", "primary-backup", "--runs", "8", "--jobs", "1",
                       "--out", str(tmp_path / "h"), capsys=capsys)
    assert code == 0 and "0 of 8 runs failed" in out
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == ["command.txt", "summary.json"]


def test_raft_summary_shows_what_the_nemesis_did(tmp_path, capsys):
    """A quiet campaign must not pass for a clean one: the summary counts faults per kind
    (triggered ones apart) and leader elections."""
    code, out, _ = cli("run", "raft", "--runs", "6", "--jobs", "2", "--out", str(tmp_path),
                       capsys=capsys)
    assert code == 0 and "0 of 6 runs failed" in out
    fired = dict(re.findall(r"fault fired: ([a-z-]+(?: \(on [a-z-]+\))?)\W+(\d+)", out))
    assert len(fired) >= 5 and all(int(n) > 0 for n in fired.values()), out
    assert "partition-isolate (on leader-elected)" in fired, out
    assert int(re.search(r"protocol: leader-elected\W+(\d+)", out).group(1)) > 6


def test_no_swarm_keeps_the_protocols_default_families(tmp_path, capsys):
    code, out, _ = cli("run", "raft", "--runs", "2", "--jobs", "1", "--no-swarm", "--out",
                       str(tmp_path), capsys=capsys)
    assert code == 0 and "(on leader-elected)" in out  # raft's storms, not the general ones


def test_jobs_never_exceed_runs(tmp_path, capsys):
    code, out, _ = cli("run", "primary-backup", "--runs", "2", "--jobs", "64", "--heal-at",
                       "0.3", "--out", str(tmp_path), capsys=capsys)
    assert code == 0 and "on 2 job(s)" in out


def _failing_bundle(tmp_path, capsys) -> Path:
    cli("run", "primary-backup", "--runs", "4", "--bug", "ack-before-replicate", "--jobs", "1",
        "--out", str(tmp_path), capsys=capsys)
    return sorted(tmp_path.glob("primary-backup-*.json"))[0]


def test_replay_reports_divergence_with_both_fingerprints(tmp_path, capsys):
    bundle = _failing_bundle(tmp_path, capsys)
    doc = json.loads(bundle.read_text())
    doc["fingerprint"] = "f" * 32
    bundle.write_text(json.dumps(doc))
    code, out, _ = cli("replay", str(bundle), capsys=capsys)
    assert "DIFFERS" in out and "f" * 32 in out
    assert code == 1  # the check still fails


def test_a_diverged_replay_exits_non_zero_even_when_the_checks_pass(tmp_path, capsys):
    bundle = _failing_bundle(tmp_path, capsys)
    doc = json.loads(bundle.read_text())
    doc["spec"]["bugs"] = []  # the correct protocol passes the same schedule
    bundle.write_text(json.dumps(doc))
    code, out, _ = cli("replay", str(bundle), capsys=capsys)
    assert "DIFFERS" in out and "FAILED" not in out and "failed:" not in out
    assert code == 1


def test_protocols_lists_bugs_checks_and_details(capsys):
    code, out, _ = cli("protocols", capsys=capsys)
    assert code == 0
    assert "primary-backup" in out and "ack-before-replicate" in out and "set" in out
    assert "no-exception" in out and "liveness" in out
    code, out, _ = cli("protocols", "raft", capsys=capsys)
    assert code == 0 and "heartbeat_us = 10000 (1000..10000000)" in out
    assert "leader-elected" in out and "primary-backup" not in out
    for name in PROTOCOLS:  # every protocol's details print
        code, out, err = cli("protocols", name, capsys=capsys)
        assert code == 0 and name in out and "Traceback" not in err, err
    code, out, _ = cli("protocols", "dynamo", capsys=capsys)
    assert "stale-reads" in out and "quorum = sloppy (sloppy|strict)" in out


def test_faults_lists_kinds_params_and_families(capsys):
    code, out, _ = cli("faults", capsys=capsys)
    assert code == 0
    for word in ("partition", "join", "leave", "fail", "clock-strobe", "period_us",
                 "leader-storm", "churn", "announcer"):
        assert word in out


def test_exception_in_protocol_code_is_a_finding_with_a_bundle(tmp_path, capsys, faulty):
    """Seeds whose node divides by zero fail `no-exception` with the place it was raised;
    the other seeds still run, and the bundle replays to the same exception."""
    code, out, _ = cli("run", "brittle", "--runs", "6", "--jobs", "2", "--heal-at", "0.5",
                       "--out", str(tmp_path), capsys=capsys)
    assert code == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["completed"] == 6
    assert 0 < summary["failed"] < 6
    first = summary["failures"][0]
    assert first["checks"] == ["no-exception"]
    assert "ZeroDivisionError in on_timer (faulty_protocols.py:" in first["explanation"]
    assert "BrittleNode" in first["explanation"]
    code, out, _ = cli("replay", first["bundle"], capsys=capsys)
    assert code == 1 and "identical" in out and "ZeroDivisionError" in out


def test_a_lost_write_bundle_replays_and_is_explained(tmp_path, capsys, faulty):
    code, out, _ = cli("run", "forgetful", "--runs", "2", "--jobs", "1", "--out",
                       str(tmp_path), capsys=capsys)
    assert code == 1 and "failed check: no-lost-writes" in out
    bundle = sorted(tmp_path.glob("forgetful-*.json"))[0]
    code, out, _ = cli("replay", str(bundle), capsys=capsys)
    assert code == 1 and "identical" in out
    assert "check 'no-lost-writes' failed" in out
    assert re.search(r"op \d+: append \[\d, '\d+,'\] by process \d+ on n\d", out)
    assert re.search(r"op \d+: get \[\d, None\] .* ok \[\d, '", out)  # the final read


@pytest.mark.parametrize("args, message", [
    (("run", "paxos"), "unknown protocol 'paxos'"),
    (("run", "primary-backup", "--bug", "nope"), "no planted bug 'nope'"),
    (("run", "primary-backup", "--runs", "0"), "--runs"),
    (("run", "primary-backup", "--faults", "meteor"), "unknown fault family 'meteor'"),
    (("run", "primary-backup", "--faults", ",,,"), "names no fault family"),
    (("run", "raft", "--faults", "churn"), "cannot be used here"),
    (("run", "primary-backup", "--config", "nodes=1", "--faults", "partition-halves"),
     "two nodes"),
    (("run", "raft", "--config", "heartbeat_us=-10"), "from 1000 to"),
    (("run", "raft", "--config", "heartbeat_us=0"), "from 1000 to"),
    (("run", "primary-backup", "--config", "heartbeat_us=0"), "from 1000 to"),
    (("run", "raft", "--config", "election_min_us=90000"), "must not exceed"),
    (("run", "raft", "--config", "election_min_us=-1"), "from 1000 to"),
    (("run", "primary-backup", "--config", "failover_us=-5"), "from 1000 to"),
    (("run", "raft", "--config", "snapshot_every=-1"), "from 0 to"),
    (("run", "raft", "--config", "max_batch=0"), "from 1 to"),
    (("run", "raft", "--config", "nodes=10000"), "from 1 to 31"),
    (("run", "raft", "--config", "nodes=0"), "from 1 to 31"),
    (("run", "raft", "--config", "nodes"), "expected KEY=VALUE"),
    (("run", "raft", "--config", "quorum=3"), "no config option 'quorum'"),
    (("run", "raft", "--heal-at", "nan"), "--heal-at"),
    (("run", "raft", "--heal-at", "inf"), "--heal-at"),
    (("run", "raft", "--heal-at", "1e9"), "--heal-at"),
    (("run", "raft", "--heal-at", "0"), "--heal-at"),
    (("run", "raft", "--seed", "18446744073709551615"), "largest seed"),
    (("run", "raft", "--scheduler", "notaurl"), "not a Dask scheduler address"),
    (("run", "raft", "--scheduler", "zmq://host:1"), "not a Dask scheduler address"),
    (("run", "raft", "--scheduler", ""), "not a Dask scheduler address"),
    (("run", "raft", "--out", "/proc/faultlab"), "cannot write"),
    (("run", "dynamo", "--config", "r=4"), "must not exceed n"),
    (("run", "dynamo", "--config", "n=6", "--config", "initial=5"), "must not exceed initial"),
    (("run", "dynamo", "--config", "quorum=loose"), "must be one of sloppy, strict"),
    (("run", "rdd", "--config", "jobs=nope"), "unknown job 'nope'"),
    (("run", "rdd", "--config", "jobs=,"), "names no job"),
    (("run", "rdd", "--config", "words=100000000"), "from 10 to 1000000"),
    (("quorum", "--n", "3", "--r", "4", "--w", "2"), "--r (4) must not exceed --n (3)"),
    (("quorum", "--n", "0", "--r", "1", "--w", "1"), "--n"),
    (("quorum", "--n", "3", "--r", "1"), "--w"),
    (("quorum", "--n", "3", "--r", "2", "--w", "2", "--members", "5"), "only read with"),
    (("quorum", "--n", "3", "--r", "2", "--w", "2", "--sloppy", "--members", "2"),
     "at least --n"),
    (("replay", "/nonexistent/b.json"), "no such bundle"),
    (("frobnicate",), "No such command"),
])
def test_bad_input_gives_one_line_error_and_exit_3(args, message, capsys):
    code, out, err = cli(*args, capsys=capsys)
    assert code == 3, (out, err)
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_out_under_a_regular_file_is_refused_before_any_run(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, out, err = cli("run", "raft", "--runs", "50", "--out", str(tmp_path / "file" / "h"),
                         capsys=capsys)
    assert code == 3 and "cannot write" in err and "campaign summary" not in out


def test_a_long_argument_is_not_echoed_whole(capsys):
    code, _, err = cli("run", "raft", "--config", "x" * 100_000, capsys=capsys)
    assert code == 3 and len(err) < 500


BUNDLE = {"format_version": 2, "faultlab_version": "0", "fingerprint": "x",
          "failing_checks": []}


@pytest.mark.parametrize("spec, message", [
    ({"protocol": "primary-backup", "seed": "one"}, "'seed' must be an integer"),
    ({"protocol": "primary-backup", "seed": -1}, "seed must be from 0"),
    ({"protocol": "primary-backup", "config": "nodes=3"}, "'config' must be an object"),
    ({"protocol": "primary-backup", "workload": "many"}, "'workload' must be an object"),
    ({"protocol": "primary-backup", "nemesis": "all"}, "'nemesis' must be an object"),
    ({"protocol": "primary-backup", "bugs": "ack-before-replicate"}, "'bugs' must be a list"),
    ({"protocol": "primary-backup", "heal_at_us": 10**15}, "heal_at_us must be from"),
    ({"protocol": "primary-backup", "network": {"base_latency_us": -5}}, "base_latency_us"),
    ({"protocol": "primary-backup", "workload": {"clients": 0}}, "clients must be"),
    ({"protocol": "primary-backup", "schedule": [
        {"time": 1, "kind": "kill", "duration_us": 5, "targets": ["n9"]}]}, "not a node"),
    ({"protocol": "primary-backup", "schedule": [
        {"time": 1, "kind": "kill", "duration_us": 5, "targets": "n1"}]}, "must be a list"),
    ({"protocol": "primary-backup", "schedule": [
        {"time": 1, "kind": "kill", "duration_us": 5, "targets": ["role:leader"]}]},
     "no role 'leader'"),
    ({"protocol": "raft", "config": {"election_min_us": 90_000}}, "must not exceed"),
])
def test_bad_bundles_are_refused_with_the_field_named(tmp_path, capsys, spec, message):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**BUNDLE, "spec": spec}))
    code, _, err = cli("replay", str(bad), capsys=capsys)
    assert code == 3, err
    assert message in err and len(err.strip().splitlines()) == 1


def test_corrupt_bundle_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 2, "spec": {"protocol": "primary-backup"}}')
    code, _, err = cli("replay", str(bad), capsys=capsys)
    assert code == 3 and "missing field" in err and str(bad) in err
    bad.write_text(json.dumps({**BUNDLE, "format_version": 1, "spec": {}}))
    code, _, err = cli("replay", str(bad), capsys=capsys)
    assert code == 3 and "format_version 1 is not supported" in err


def test_console_script_is_installed_and_reports_help():
    exe = Path(sys.executable).with_name("faultlab")
    out = subprocess.run([str(exe), "run", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--bug" in out.stdout and "--jobs" in out.stdout


def test_unreachable_scheduler_is_a_one_line_error(capsys):
    code, _, err = cli("run", "primary-backup", "--runs", "1",
                       "--scheduler", "tcp://127.0.0.1:9", capsys=capsys)
    assert code == 3 and "dask" in err and len(err.strip().splitlines()) == 1


def test_a_full_disk_while_saving_is_one_line_and_keeps_what_was_saved(tmp_path, capsys,
                                                                       monkeypatch):
    import errno

    from faultlab.histories import bundle as bundle_module

    real = bundle_module.write_atomic
    written = []

    def fill_up(path, data):  # room for one bundle (and the small files)
        if path.name.startswith("primary-backup"):
            if written:
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(path)
        real(path, data)

    monkeypatch.setattr(bundle_module, "write_atomic", fill_up)
    code, out, err = cli("run", "primary-backup", "--bug", "ack-before-replicate", "--runs",
                         "12", "--jobs", "1", "--out", str(tmp_path), capsys=capsys)
    assert code == 3 and "No space left on device" in err and "1 bundles saved" in err
    assert len(err.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.glob("primary-backup-*.json")] == [written[0].name]
    assert json.loads((tmp_path / "summary.json").read_text())["interrupted"]
