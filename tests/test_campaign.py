"""The planted bug is found; the correct protocol survives hundreds of seeds; replay is exact."""
from __future__ import annotations

import orjson

from faultlab.campaign.campaign import make_bundle, run_campaign, save_bundle
from faultlab.campaign.replay import replay
from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec

BUG = RunSpec("primary-backup", bugs=("ack-before-replicate",))


def test_planted_bug_is_found_within_200_seeds_and_names_the_set_check():
    result = run_campaign(BUG, range(200), jobs=2)
    failures = result.failures
    assert failures, "ack-before-replicate was not found in 200 seeds"
    assert result.check_failures().get("set") == len(failures)
    first = failures[0]
    assert "acknowledged lost" in first.explanations[0]


def test_correct_version_passes_500_seeds():
    result = run_campaign(RunSpec("primary-backup"), range(500), jobs=2)
    bad = [(r.seed, r.failed_checks, r.explanations) for r in result.failures]
    assert bad == []
    fired = result.totals("faults_fired")
    assert {"kill", "pause", "loss", "partition-isolate", "clock-skew"} <= set(fired)
    assert result.totals("stats").get("failover", 0) > 100  # the nemesis forced failovers


def test_replay_of_saved_bundle_reproduces_fingerprint(tmp_path):
    result = run(RunSpec("primary-backup", seed=3, bugs=("ack-before-replicate",)))
    assert result.failed
    path = save_bundle(make_bundle(result), tmp_path)
    rep = replay(path)
    assert rep.identical and rep.still_fails
    assert [v.name for v in rep.result.failed] == ["set"]


def test_edited_bundle_is_reported_as_diverged(tmp_path):
    result = run(RunSpec("primary-backup", seed=3, bugs=("ack-before-replicate",)))
    path = save_bundle(make_bundle(result), tmp_path)
    doc = orjson.loads(path.read_bytes())
    doc["fingerprint"] = "0" * 32
    path.write_bytes(orjson.dumps(doc))
    rep = replay(path)
    assert not rep.identical
    assert rep.result.fingerprint == result.fingerprint


def test_changed_schedule_in_bundle_changes_the_run(tmp_path):
    result = run(RunSpec("primary-backup", seed=3, bugs=("ack-before-replicate",)))
    path = save_bundle(make_bundle(result), tmp_path)
    doc = orjson.loads(path.read_bytes())
    doc["spec"]["schedule"] = doc["spec"]["schedule"][1:]
    path.write_bytes(orjson.dumps(doc))
    assert not replay(path).identical
