"""`state()` is a node's whole state: two moments with equal state() never differ in anything
the node keeps (its attributes and pending timers). Checked after every step of faulty runs of
every protocol; a state() that dropped information would merge distinct states."""
from __future__ import annotations

import attrs
import pytest

from faultlab.campaign.runner import run
from faultlab.campaign.spec import RunSpec
from faultlab.protocols import get_protocol
from faultlab.sim.node import canonical

CONSTANT = {"ctx", "config", "bugs", "journal"}  # set at construction, or the monitor's


def _kept(node) -> int:
    left_out = CONSTANT | set(node.DERIVED)
    return hash(canonical(({k: v for k, v in vars(node).items() if k not in left_out},
                           node.ctx.timers())))


def audited(cls, seen: dict, merged: list):
    """`cls` recording, after every handler, which kept contents each state() stood for."""

    class Audited(cls):
        def _audit(self, handler, *args):
            handler(*args)
            state, kept = hash(self.state()), _kept(self)
            if seen.setdefault(state, kept) != kept:
                merged.append((handler.__name__, self.ctx.name, self.state()))

        def on_message(self, src, msg):
            self._audit(super().on_message, src, msg)

        def on_timer(self, name, data):
            self._audit(super().on_timer, name, data)

        def on_request(self, req):
            self._audit(super().on_request, req)

    Audited.__name__ = cls.__name__
    return Audited


def merged_states(protocol: str, bugs=(), seeds=range(3)) -> tuple[list, int]:
    """Moments whose state() equalled an earlier one's while the node differed, and how
    many distinct states were seen."""
    cls = type(get_protocol(protocol))
    seen: dict = {}
    merged: list = []
    original = cls.cluster
    wrapped: dict = {}

    def cluster(self, config):  # every slot's class, audited
        c = original(self, config)
        classes = {slot: wrapped.setdefault(k, audited(k, seen, merged))
                   for slot, k in c.classes.items()}
        return attrs.evolve(c, classes=classes)

    cls.cluster = cluster
    try:
        for seed in seeds:
            result = run(RunSpec(protocol, seed=seed, bugs=bugs, heal_at_us=800_000,
                                 recovery_us=300_000, final_timeout_us=300_000))
            assert result.events > 1000
    finally:
        cls.cluster = original
    return merged, len(seen)


@pytest.mark.parametrize("protocol, bugs", [("raft", ()), ("primary-backup", ()),
                                            ("raft", ("figure8",)), ("twopc", ()),
                                            ("chord", ()), ("dynamo", ()), ("rdd", ())])
def test_equal_states_mean_equal_nodes(protocol, bugs):
    merged, states = merged_states(protocol, bugs)
    assert not merged, merged[:3]
    assert states > 1000


def test_the_audit_catches_a_state_that_leaves_something_out(monkeypatch):
    from faultlab.protocols.primary_backup.node import PrimaryBackupNode

    monkeypatch.setattr(PrimaryBackupNode, "state",
                        lambda self: canonical((self.ballot, self.elements)))
    assert merged_states("primary-backup", seeds=range(1))[0]
