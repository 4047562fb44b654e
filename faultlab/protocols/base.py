"""What a protocol module provides to the harness: nodes, client ops, roles, bugs, checks."""
from __future__ import annotations

import abc
import random
from typing import TYPE_CHECKING, Any, ClassVar

from faultlab.checkers.verdict import Verdict
from faultlab.histories import FaultlabError, History
from faultlab.nemesis.generator import NemesisConfig
from faultlab.sim.node import Node
from faultlab.sim.workload import Workload

if TYPE_CHECKING:
    from faultlab.sim.kernel import Invariant, Simulator


class Protocol(abc.ABC):
    """Subclass once per protocol and register the class in `faultlab.protocols.PROTOCOLS`.

    Class attributes describe it (shown by `faultlab protocols`); methods connect it to the
    kernel (node class, op generator, final ops, roles, invariants) and judge a run (checks).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    node_class: ClassVar[type[Node]]
    bugs: ClassVar[dict[str, str]] = {}            # planted bug name -> one-line description
    checks: ClassVar[dict[str, str]] = {}          # check name -> what it asserts
    roles: ClassVar[tuple[str, ...]] = ()          # roles the nemesis may target
    default_config: ClassVar[dict[str, Any]] = {"nodes": 5}
    default_workload: ClassVar[Workload] = Workload()
    # the nemesis a campaign uses when the spec names none (RunSpec.nemesis is None)
    default_nemesis: ClassVar[NemesisConfig] = NemesisConfig()

    def resolve_config(self, config: dict) -> dict:
        """The defaults overlaid with `config`; rejects unknown keys with a one-line error."""
        unknown = sorted(set(config) - set(self.default_config))
        if unknown:
            raise FaultlabError(f"protocol {self.name!r} has no config option {unknown[0]!r} "
                                f"(options: {', '.join(sorted(self.default_config))})")
        for key, value in config.items():
            want = type(self.default_config[key])
            if not isinstance(value, want) or isinstance(value, bool) != (want is bool):
                raise FaultlabError(f"protocol {self.name!r} config {key!r} must be "
                                    f"{want.__name__}, got {value!r}")
        merged = {**self.default_config, **config}
        if int(merged.get("nodes", 1)) < 1:
            raise FaultlabError(f"protocol {self.name!r} needs at least one node")
        return merged

    def check_bugs(self, bugs) -> frozenset[str]:
        for bug in bugs:
            if bug not in self.bugs:
                known = ", ".join(sorted(self.bugs)) or "none"
                raise FaultlabError(f"protocol {self.name!r} has no planted bug {bug!r} "
                                    f"(known: {known})")
        return frozenset(bugs)

    def node_names(self, config: dict) -> tuple[str, ...]:
        return tuple(f"n{i}" for i in range(1, int(config["nodes"]) + 1))

    @abc.abstractmethod
    def generate_op(self, rng: random.Random, workload: Workload, n: int) -> tuple[str, Any]:
        """The next client op (f, value); `n` counts ops generated so far in this run."""

    def final_ops(self, config: dict, workload: Workload) -> list[tuple[str, Any]]:
        """Ops issued after the heal phase and retried until they succeed (e.g. final read)."""
        return []

    def role_holders(self, sim: Simulator, role: str) -> list[str]:
        """Nodes that currently hold `role` (asked by the nemesis for role targets)."""
        return []

    def invariants(self, config: dict) -> list[Invariant]:
        """Checks run after every simulation step; each returns None or a problem."""
        return []

    def check(self, history: History, sim: Simulator, heal_at: int) -> list[Verdict]:
        """Judge a finished run. Liveness is judged by the campaign runner for all."""
        return []
