"""Shrinking keeps the failure and makes the run smaller; the result replays exactly."""
from __future__ import annotations

import pytest

from faultlab.campaign.campaign import make_bundle, save_bundle
from faultlab.campaign.replay import replay
from faultlab.campaign.runner import run
from faultlab.campaign.shrink import shrink
from faultlab.campaign.spec import RunSpec
from faultlab.histories.errors import FaultlabError


def test_shrink_removes_faults_and_clients_but_keeps_the_failure(tmp_path):
    spec = RunSpec("primary-backup", seed=0, bugs=("ack-before-replicate",))
    result = shrink(spec)
    assert [v.name for v in result.result.failed] == ["set"]
    assert len(result.spec.schedule) < len(result.original.spec.schedule)
    assert len(result.result.history) < len(result.original.history) / 4
    path = save_bundle(make_bundle(result.result), tmp_path)
    rep = replay(path)
    assert rep.identical and rep.still_fails


def test_shrinking_a_raft_invariant_failure_heals_right_after_it():
    """figure8, seed 1 of the default campaign: a leader storm. Faults that wait for an
    election end after their nominal end, and an invariant stops the run early, so the heal
    is moved to just after the violation rather than after the nominal fault ends."""
    spec = RunSpec("raft", seed=1, bugs=("figure8",))
    result = shrink(spec)
    assert [v.name for v in result.result.failed] == ["leader-completeness"]
    faults = result.spec.schedule.faults
    assert len(faults) < len(result.original.spec.schedule)
    assert all(f.targets == ("role:leader",) and f.params["mode"] == "isolate" for f in faults)
    # the heal comes just after the violation (later shrinking steps may move it a little)
    stop = result.result.sim_time_us
    assert stop - 50_000 < result.spec.heal_at_us <= stop + 1 < spec.heal_at_us


def test_a_passing_spec_cannot_be_shrunk():
    spec = run(RunSpec("primary-backup", seed=1, heal_at_us=300_000)).spec
    with pytest.raises(FaultlabError, match="does not fail"):
        shrink(spec)
