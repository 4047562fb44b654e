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


def test_a_passing_spec_cannot_be_shrunk():
    spec = run(RunSpec("primary-backup", seed=1, heal_at_us=300_000)).spec
    with pytest.raises(FaultlabError, match="does not fail"):
        shrink(spec)
