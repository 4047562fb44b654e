"""The command line as a user meets it: exit codes, one-line errors, bundles and replay."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from faultlab.cli import main


def cli(*args: str, capsys=None) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = err = ""
    if capsys is not None:
        captured = capsys.readouterr()
        out, err = captured.out, captured.err
    return exit_info.value.code, out, err


def test_run_finds_the_bug_saves_bundles_and_prints_the_replay_command(tmp_path, capsys):
    out_dir = tmp_path / "h"
    code, out, _ = cli("run", "primary-backup", "--runs", "12", "--bug", "ack-before-replicate",
                       "--jobs", "2", "--out", str(out_dir), capsys=capsys)
    assert code == 1
    bundles = sorted(out_dir.glob("*.json"))
    assert bundles and all(b.name.startswith("primary-backup-ack-before-replicate-")
                           for b in bundles)
    assert "runs failed" in out and "failed check: set" in out
    replay_line = [ln for ln in out.splitlines() if "faultlab replay" in ln][0]
    assert replay_line.split()[-1] in {str(b) for b in bundles}

    code, out, _ = cli("replay", str(bundles[0]), capsys=capsys)
    assert code == 1
    assert "identical" in out and "lost element" in out and "faults within" in out


def test_run_of_correct_protocol_exits_zero(tmp_path, capsys):
    code, out, _ = cli("run", "primary-backup", "--runs", "8", "--jobs", "1",
                       "--out", str(tmp_path / "h"), capsys=capsys)
    assert code == 0 and "0 of 8 runs failed" in out
    assert not (tmp_path / "h").exists()


def test_raft_summary_shows_what_the_nemesis_did(tmp_path, capsys):
    """A quiet campaign must not pass for a clean one: the summary counts faults per kind
    (election-aimed ones apart) and leader elections."""
    code, out, _ = cli("run", "raft", "--runs", "6", "--jobs", "2", "--out", str(tmp_path),
                       capsys=capsys)
    assert code == 0 and "0 of 6 runs failed" in out
    fired = dict(re.findall(r"fault fired: ([a-z-]+(?: \(on election\))?)\W+(\d+)", out))
    assert len(fired) >= 5 and all(int(n) > 0 for n in fired.values()), out
    assert "partition-isolate (on election)" in fired, out
    assert int(re.search(r"protocol: leader-elected\W+(\d+)", out).group(1)) > 6


def test_no_swarm_keeps_the_protocols_default_families(tmp_path, capsys):
    code, out, _ = cli("run", "raft", "--runs", "2", "--jobs", "1", "--no-swarm", "--out",
                       str(tmp_path), capsys=capsys)
    assert code == 0 and "(on election)" in out  # raft's storms, not the general families


def test_replay_reports_divergence_with_both_fingerprints(tmp_path, capsys):
    cli("run", "primary-backup", "--runs", "3", "--bug", "ack-before-replicate", "--jobs", "1",
        "--out", str(tmp_path), capsys=capsys)
    bundle = sorted(tmp_path.glob("*.json"))[0]
    doc = json.loads(bundle.read_text())
    doc["fingerprint"] = "f" * 32
    bundle.write_text(json.dumps(doc))
    code, out, _ = cli("replay", str(bundle), capsys=capsys)
    assert "DIFFERS" in out and "f" * 32 in out
    assert code == 1  # the check still fails


def test_protocols_lists_bugs_and_checks(capsys):
    code, out, _ = cli("protocols", capsys=capsys)
    assert code == 0
    assert "primary-backup" in out and "ack-before-replicate" in out and "set" in out


@pytest.mark.parametrize("args, message", [
    (("run", "paxos"), "unknown protocol 'paxos'"),
    (("run", "primary-backup", "--bug", "nope"), "no planted bug 'nope'"),
    (("run", "primary-backup", "--runs", "0"), "--runs"),
    (("run", "primary-backup", "--faults", "meteor"), "unknown fault family 'meteor'"),
    (("replay", "/nonexistent/b.json"), "no such bundle"),
    (("frobnicate",), "No such command"),
])
def test_bad_input_gives_one_line_error_and_exit_3(args, message, capsys):
    code, out, err = cli(*args, capsys=capsys)
    assert code == 3
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_corrupt_bundle_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 1, "spec": {"protocol": "primary-backup"}}')
    code, _, err = cli("replay", str(bad), capsys=capsys)
    assert code == 3 and "missing field" in err and str(bad) in err
    bad.write_text(json.dumps({"format_version": 1, "faultlab_version": "0", "fingerprint": "x",
                               "failing_checks": [], "spec": {"protocol": "primary-backup",
                                                              "seed": "one"}}))
    code, _, err = cli("replay", str(bad), capsys=capsys)
    assert code == 3 and "'seed' must be an integer" in err


def test_console_script_is_installed_and_reports_help():
    exe = Path(sys.executable).with_name("faultlab")
    out = subprocess.run([str(exe), "run", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--bug" in out.stdout and "--jobs" in out.stdout


def test_unreachable_scheduler_is_a_one_line_error(capsys):
    code, _, err = cli("run", "primary-backup", "--runs", "1",
                       "--scheduler", "tcp://127.0.0.1:9", capsys=capsys)
    assert code == 3 and "dask" in err and len(err.strip().splitlines()) == 1
