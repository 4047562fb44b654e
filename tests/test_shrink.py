"""Shrinking keeps the failure and makes the run smaller; the result replays exactly; it never
overwrites a file and keeps what it found when interrupted."""
from __future__ import annotations

import json

import pytest

from faultlab.campaign.campaign import make_bundle, save_bundle
from faultlab.campaign.replay import replay
from faultlab.campaign.runner import run
from faultlab.campaign.shrink import shrink
from faultlab.campaign.spec import RunSpec
from faultlab.histories.errors import FaultlabError


def test_shrink_removes_faults_and_clients_but_keeps_the_failure(tmp_path):
    spec = RunSpec("primary-backup", seed=3, bugs=("ack-before-replicate",))
    result = shrink(spec)
    assert [v.name for v in result.result.failed] == ["set"]
    assert len(result.spec.schedule) < len(result.original.spec.schedule)
    assert len(result.result.history) < len(result.original.history) / 4
    path = save_bundle(make_bundle(result.result), tmp_path)
    rep = replay(path)
    assert rep.identical and rep.still_fails


def test_shrinking_a_raft_invariant_failure_heals_right_after_it():
    """figure8, seed 32 of the default campaign: a leader storm. Faults that wait for an
    election end after their nominal end, and an invariant stops the run early, so the heal
    is moved to just after the violation rather than after the nominal fault ends."""
    spec = RunSpec("raft", seed=32, bugs=("figure8",))
    result = shrink(spec)
    assert [v.name for v in result.result.failed] == ["leader-completeness"]
    faults = result.spec.schedule.faults
    assert len(faults) < len(result.original.spec.schedule)
    isolations = [f for f in faults if f.kind == "partition"]
    assert {f.kind for f in faults} <= {"partition", "reorder"}  # a storm, maybe reordering
    assert isolations and all(f.targets in (("role:leader",), ("announcer",))
                              for f in isolations)
    assert any(f.trigger for f in isolations)  # new leaders struck as they are elected
    # the heal comes just after the violation (later shrinking steps may move it a little)
    stop = result.result.sim_time_us
    assert abs(result.spec.heal_at_us - stop) < 50_000 and stop < spec.heal_at_us / 2


def test_a_passing_spec_cannot_be_shrunk():
    spec = run(RunSpec("primary-backup", seed=1, heal_at_us=300_000)).spec
    with pytest.raises(FaultlabError, match="does not fail"):
        shrink(spec)


def test_an_interrupted_shrink_returns_the_smallest_failure_so_far():
    spec = RunSpec("primary-backup", seed=3, bugs=("ack-before-replicate",))

    def stop_after_four(n, ok):
        if n == 4:
            raise KeyboardInterrupt

    result = shrink(spec, on_attempt=stop_after_four)
    assert isinstance(result.interrupted, KeyboardInterrupt) and result.attempts == 4
    assert [v.name for v in result.result.failed] == ["set"]
    assert len(result.spec.schedule) <= len(result.original.spec.schedule)


def _cli(*args, capsys):
    from faultlab.cli import main
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture
def bundle(tmp_path):
    result = run(RunSpec("primary-backup", seed=3, bugs=("ack-before-replicate",),
                         heal_at_us=1_000_000))
    assert result.failed
    return save_bundle(make_bundle(result), tmp_path)


def test_shrink_never_overwrites_its_input_or_another_file(bundle, capsys):
    code, out, _ = _cli("shrink", str(bundle), "--max-attempts", "3", capsys=capsys)
    first = bundle.with_name(bundle.name[:-5] + ".min.json")
    assert code == 1 and first.exists() and f"saved {first}" in out
    code, out, _ = _cli("shrink", str(bundle), "--max-attempts", "3", capsys=capsys)
    second = bundle.with_name(bundle.name[:-5] + ".min-2.json")
    assert second.exists() and f"saved {second}" in out
    code, out, _ = _cli("shrink", str(first), "--max-attempts", "3", capsys=capsys)
    assert first.with_name(first.name[:-5] + ".min.json").exists()  # X.min.min.json
    renamed = bundle.with_name("run.v2.json")
    renamed.write_bytes(bundle.read_bytes())
    _cli("shrink", str(renamed), "--max-attempts", "1", capsys=capsys)
    assert bundle.with_name("run.v2.min.json").exists()


@pytest.mark.parametrize("out, message", [
    ("same", "is the input bundle"),
    ("taken", "exists; shrink never overwrites"),
    ("missing-dir/x.json", "not a writable directory"),
])
def test_shrink_refuses_an_output_it_would_overwrite_or_cannot_write(bundle, capsys, out,
                                                                      message):
    target = {"same": bundle, "taken": bundle.with_name("taken.json")}.get(
        out, bundle.parent / out)
    if out == "taken":
        target.write_text("keep me")
    code, _, err = _cli("shrink", str(bundle), "--out", str(target), capsys=capsys)
    assert code == 3 and message in err
    if out == "taken":
        assert target.read_text() == "keep me"


def test_shrink_refuses_a_check_the_run_does_not_fail(bundle, capsys):
    doc = json.loads(bundle.read_text())
    doc["failing_checks"] = ["nope"]
    bundle.write_text(json.dumps(doc))
    code, _, err = _cli("shrink", str(bundle), capsys=capsys)
    assert code == 3 and "does not fail nope (it fails set)" in err


def test_shrink_warns_when_the_first_replay_diverges(bundle, capsys):
    doc = json.loads(bundle.read_text())
    doc["fingerprint"] = "0" * 32
    bundle.write_text(json.dumps(doc))
    code, out, _ = _cli("shrink", str(bundle), "--max-attempts", "2", capsys=capsys)
    assert code == 1 and "warning: the replay diverged from the bundle" in out
