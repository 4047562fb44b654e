"""RunSpec: everything a run depends on. A run is a pure function of its spec."""
from __future__ import annotations

from typing import Any

import attrs

from faultlab.errors import FaultlabError
from faultlab.nemesis.generator import NemesisConfig
from faultlab.nemesis.schedule import Schedule
from faultlab.sim.network import NetworkConfig
from faultlab.sim.workload import Workload

MAX_SEED = 2**63 - 1          # seeds travel as JSON integers
MIN_PHASE_US = 1_000
MAX_PHASE_US = 600_000_000    # ten simulated minutes per phase: longer is a typo, not a test


@attrs.frozen
class RunSpec:
    """One run: protocol, its config and planted bugs, workload, nemesis, seed and phases.

    Timeline: clients and nemesis run from 0 to `heal_at_us`; then every fault ends; clients
    keep going for `recovery_us` (liveness is judged there); then the protocol's final ops run
    until done or `final_timeout_us` passes. `schedule`, when given, replaces the faults the
    nemesis config would generate from the seed (bundles always carry it explicitly). A
    `nemesis` of None means the protocol's `default_nemesis`.
    """

    protocol: str
    seed: int = 0
    bugs: tuple[str, ...] = attrs.field(default=(), converter=lambda b: tuple(sorted(set(b))))
    config: dict[str, Any] = attrs.field(factory=dict, hash=False)
    workload: Workload | None = None
    nemesis: NemesisConfig | None = None  # None: the protocol's default_nemesis
    schedule: Schedule | None = None
    network: NetworkConfig = NetworkConfig()
    heal_at_us: int = 3_000_000
    recovery_us: int = 1_500_000
    final_timeout_us: int = 3_000_000

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "seed": self.seed,
            "bugs": list(self.bugs),
            "config": dict(sorted(self.config.items())),
            "workload": self.workload.to_dict() if self.workload else None,
            "nemesis": self.nemesis.to_dict() if self.nemesis is not None else None,
            "schedule": self.schedule.to_list() if self.schedule is not None else None,
            "network": attrs.asdict(self.network),
            "heal_at_us": self.heal_at_us,
            "recovery_us": self.recovery_us,
            "final_timeout_us": self.final_timeout_us,
        }

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        """Rebuild a spec from plain data, naming the bad field on error."""
        if not isinstance(d, dict):
            raise FaultlabError("spec must be a JSON object")
        known = {f.name for f in attrs.fields(cls)}
        for key in d:
            if key not in known:
                raise FaultlabError(f"spec has unknown field {key!r}")
        if "protocol" not in d:
            raise FaultlabError("spec is missing field 'protocol'")
        bugs = d.get("bugs") or []
        if not isinstance(bugs, list) or not all(isinstance(b, str) for b in bugs):
            raise FaultlabError(f"spec field 'bugs' must be a list of names, got {bugs!r}")
        for key, kind in (("config", dict), ("workload", dict), ("nemesis", dict),
                          ("network", dict), ("schedule", list)):
            if d.get(key) is not None and not isinstance(d[key], kind):
                raise FaultlabError(f"spec field {key!r} must be "
                                    f"{'an object' if kind is dict else 'a list'}, "
                                    f"got {d[key]!r}")
        network = d.get("network") or {}
        unknown = sorted(set(network) - {f.name for f in attrs.fields(NetworkConfig)})
        if unknown:
            raise FaultlabError(f"spec field 'network' has unknown field {unknown[0]!r}")
        try:
            return cls(
                protocol=d["protocol"],
                seed=_int(d, "seed", 0),
                bugs=tuple(bugs),
                config=dict(d.get("config") or {}),
                workload=Workload.from_dict(d["workload"]) if d.get("workload") else None,
                nemesis=NemesisConfig.from_dict(d["nemesis"]) if d.get("nemesis")
                else None,
                schedule=Schedule.from_list(d["schedule"]) if d.get("schedule") is not None
                else None,
                network=NetworkConfig(**network),
                heal_at_us=_int(d, "heal_at_us", 3_000_000),
                recovery_us=_int(d, "recovery_us", 1_500_000),
                final_timeout_us=_int(d, "final_timeout_us", 3_000_000),
            )
        except TypeError as e:
            raise FaultlabError(f"spec has a malformed field: {e}") from None

    def validate(self) -> None:
        """Refuse impossible or absurd values, naming the allowed range."""
        if not isinstance(self.protocol, str):
            raise FaultlabError(f"spec protocol must be a name, got {self.protocol!r}")
        if not 0 <= self.seed <= MAX_SEED:
            raise FaultlabError(f"seed must be from 0 to {MAX_SEED}, got {self.seed}")
        for name in ("heal_at_us", "recovery_us", "final_timeout_us"):
            value = getattr(self, name)
            if not MIN_PHASE_US <= value <= MAX_PHASE_US:
                raise FaultlabError(f"{name} must be from {MIN_PHASE_US} to {MAX_PHASE_US} "
                                    f"(10 simulated minutes), got {value}")
        if self.workload is not None:
            self.workload.validate()


def _int(d: dict, key: str, default: int) -> int:
    value = d.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FaultlabError(f"spec field {key!r} must be an integer, got {value!r}")
    return value
