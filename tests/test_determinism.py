"""Same spec, same fingerprint and history: across processes, hash seeds and job counts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from faultlab.campaign.campaign import run_campaign
from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.cap.experiments import Experiment
from faultlab.histories.jsonl import dumps_history

SPEC = RunSpec("primary-backup", seed=7, bugs=("ack-before-replicate",), heal_at_us=1_500_000)
TESTS = Path(__file__).resolve().parent

_CHILD = """
import hashlib, json, sys
sys.path.insert(0, sys.argv[2])
from roster import Roster
from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.histories.jsonl import dumps_history
from faultlab.protocols import PROTOCOLS
PROTOCOLS["roster"] = Roster
r = run(RunSpec.from_dict(json.loads(sys.argv[1])))
print(json.dumps({"fingerprint": r.fingerprint,
                  "history": hashlib.sha256(dumps_history(r.history)).hexdigest(),
                  "verdicts": [[v.name, v.valid, v.explanation, repr(v.witness)]
                               for v in r.verdicts],
                  "faults": [[f.time, f.phase, list(f.nodes)] for f in r.fault_log],
                  "announcements": len(r.announcements)}))
"""


def _in_subprocess(spec: RunSpec, hashseed: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec.to_dict()),
                          str(TESTS)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("spec", [
    SPEC,
    RunSpec("raft", seed=1, bugs=("figure8",)),  # leader storms: faults set off by triggers
    RunSpec("roster", seed=4),                   # joins, leaves and failures; an exempt node
    RunSpec("twopc", seed=2, bugs=("decision-sent-before-logged",),  # node kinds, strikes
            config={"workload": "bank"}),                            # between steps
    RunSpec("twopc", seed=2, bugs=("release-read-locks-at-prepare",)),  # cycles found
    RunSpec("chord", seed=26),  # joins, leaves, failures and strikes on "joined"
    RunSpec("dynamo", seed=17),  # churn, hints, anti-entropy's random peers
    RunSpec("rdd", seed=5, heal_at_us=1_500_000),  # strikes between stages, real user code
    # CAP experiments: sided clients, a cut placed by role and complement, waiting for an
    # event; the driver (exempt) on one side
    Experiment("twopc", "x", {}, "halves", "rest").spec(3),
    Experiment("rdd", "x", {}, "majority-minority", "cut", hold_us=1_000_000).spec(1),
], ids=["primary-backup", "raft-triggers", "roster-membership", "twopc-events",
        "twopc-cycles", "chord-churn", "dynamo-churn", "rdd-strikes", "cap-twopc",
        "cap-rdd"])
def test_same_spec_same_fingerprint_across_processes_and_hash_seeds(spec, monkeypatch):
    from roster import Roster

    from faultlab.protocols import PROTOCOLS
    monkeypatch.setitem(PROTOCOLS, "roster", Roster)
    a = _in_subprocess(spec, "0")
    b = _in_subprocess(spec, "1")
    assert a == b
    here = run(spec)
    assert here.fingerprint == a["fingerprint"]
    import hashlib
    assert hashlib.sha256(dumps_history(here.history)).hexdigest() == a["history"]
    if spec.protocol in ("raft", "twopc", "chord", "rdd") and spec.schedule is None:
        assert any(f.trigger for f in here.spec.schedule.faults) and a["announcements"]
    if spec.protocol in ("roster", "chord", "dynamo"):
        kinds = {f.kind for f in here.spec.schedule.faults}
        assert kinds & {"join", "leave", "fail"}, kinds


def test_different_seeds_give_different_fingerprints():
    prints = {run(RunSpec("primary-backup", seed=s, heal_at_us=500_000)).fingerprint
              for s in range(5)}
    assert len(prints) == 5


def test_generated_schedule_and_explicit_schedule_run_identically():
    first = run(SPEC)
    again = run(first.spec)  # first.spec carries the schedule it generated
    assert first.spec.schedule is not None and len(first.spec.schedule) > 0
    assert again.fingerprint == first.fingerprint


def test_spec_survives_a_json_round_trip():
    spec = run(SPEC).spec
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_campaign_results_identical_whatever_the_job_count():
    spec = RunSpec("primary-backup", bugs=("ack-before-replicate",), heal_at_us=800_000)
    serial = run_campaign(spec, range(6), jobs=1)
    parallel = run_campaign(spec, range(6), jobs=2)

    def essence(c):
        return [(r.seed, r.fingerprint, r.failed_checks, r.events) for r in c.results]

    assert essence(serial) == essence(parallel)


def test_any_executor_gives_the_same_results():
    """Dask's executor is a concurrent.futures.Executor; a thread pool stands in for it."""
    from concurrent.futures import ThreadPoolExecutor

    spec = RunSpec("primary-backup", bugs=("ack-before-replicate",), heal_at_us=600_000)
    serial = run_campaign(spec, range(4), jobs=1)
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = run_campaign(spec, range(4), executor=pool)
    assert [(r.seed, r.fingerprint) for r in serial.results] == [
        (r.seed, r.fingerprint) for r in threaded.results]
