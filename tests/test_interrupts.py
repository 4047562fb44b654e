"""SIGTERM is handled like Ctrl-C: workers end, nothing half-written is left, what was found
is kept. These run the installed console script in a subprocess and signal it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from faultlab.campaign.replay import replay

FAULTLAB = str(Path(sys.executable).with_name("faultlab"))


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _terminated(args: list[str], out: Path) -> tuple[dict, list[Path]]:
    """Start `faultlab ARGS --out OUT`, SIGTERM it once two primary-backup bundles are
    saved, and check it stopped cleanly: exit 143 with one word, its workers gone, no temp
    files, every saved bundle whole. Returns its summary and bundles."""
    proc = subprocess.Popen([FAULTLAB, *args, "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(list(out.glob("primary-backup-*.json"))) >= 2)
    _wait_for(lambda: _children(proc.pid))  # /proc may be read between two of its updates
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    _wait_for(lambda: not any(_alive(w) for w in workers), timeout=10)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files
    bundles = sorted(out.glob("primary-backup-*.json"))
    assert replay(bundles[0]).identical  # every saved bundle is whole
    return json.loads((out / "summary.json").read_text()), bundles


def test_sigterm_stops_a_campaign_and_its_workers_and_keeps_what_was_saved(tmp_path):
    summary, bundles = _terminated(["run", "primary-backup", "--bug", "ack-before-replicate",
                                    "--runs", "2000", "--jobs", "2"], tmp_path / "h")
    assert summary["interrupted"] and 0 < summary["completed"] < 2000
    assert len(bundles) >= summary["failed"] >= 2


def test_sigterm_stops_a_cap_report_and_keeps_its_bundles(tmp_path):
    summary, bundles = _terminated(["cap", "primary-backup", "--bug", "ack-before-replicate",
                                    "--runs", "200", "--jobs", "2"], tmp_path / "cap")
    assert summary["interrupted"] and 0 < summary["completed"] < summary["of"]
    assert len(bundles) >= len(summary["bundles"]) >= 2


def test_sigterm_during_shrink_saves_the_smallest_failure_found(tmp_path):
    subprocess.run([FAULTLAB, "run", "raft", "--bug", "figure8", "--runs", "40", "--jobs",
                    "2", "--out", str(tmp_path)], capture_output=True, check=False)
    bundle = sorted(tmp_path.glob("raft-figure8-*.json"))[0]
    before = bundle.read_bytes()
    proc = subprocess.Popen([FAULTLAB, "shrink", str(bundle)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # into the shrink (it takes 3-10 s here), not to its end
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (out, err)
    assert "(interrupted)" in out and "saved" in out
    assert bundle.read_bytes() == before  # the input is never touched
    minimal = bundle.with_name(bundle.name[:-5] + ".min.json")
    rep = replay(minimal)
    assert rep.identical and [v.name for v in rep.result.failed] == ["leader-completeness"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
