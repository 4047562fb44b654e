"""What a protocol declares to the harness: its settings, nodes, bugs, roles, events, churn
limits, workload and checks. A run reads the declaration; `faultlab protocols` prints it."""
from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from faultlab.checkers.liveness import check_liveness
from faultlab.checkers.verdict import Verdict
from faultlab.errors import FaultlabError
from faultlab.histories.record import RunRecord
from faultlab.nemesis.families import ChurnLimits
from faultlab.nemesis.generator import NemesisConfig
from faultlab.sim.node import Node
from faultlab.sim.workload import OpGenerator, Workload

if TYPE_CHECKING:
    from faultlab.histories import Op
    from faultlab.sim.kernel import Invariant, Simulator


@attrs.frozen
class Setting:
    """One config option (`--config name=value`): its default, range and meaning."""

    name: str
    default: int | str | bool
    help: str
    lo: int | None = None
    hi: int | None = None
    choices: tuple = ()

    def read(self, value: Any, protocol: str) -> Any:
        where = f"protocol {protocol!r} config {self.name!r}"
        want = type(self.default)
        if not isinstance(value, want) or isinstance(value, bool) != (want is bool):
            raise FaultlabError(f"{where} must be {want.__name__}, got {value!r}")
        if self.choices and value not in self.choices:
            raise FaultlabError(f"{where} must be one of {', '.join(map(str, self.choices))}, "
                                f"got {value!r}")
        if want is int and not (self.lo <= value <= self.hi):
            raise FaultlabError(f"{where} must be from {self.lo} to {self.hi}, got {value!r}")
        return value

    def describe(self) -> str:
        rng = ("|".join(map(str, self.choices)) if self.choices
               else f"{self.lo}..{self.hi}" if isinstance(self.default, int)
               and not isinstance(self.default, bool) else type(self.default).__name__)
        return f"{self.name} = {self.default} ({rng}): {self.help}"


@attrs.frozen
class Check:
    """One property a run is judged by. `category` is "invariant" (checked after every step by
    the protocol's monitor, which names the property when it breaks), "history" (judged on
    the recorded run by `function`), "liveness", "run" (the harness's own) or "measure" (a
    figure, never a failure: the counts in its verdict's `anomalies["measured"]` are added
    to the run's statistics)."""

    name: str
    description: str
    category: str = "history"
    function: Callable[[RunRecord], Verdict | list[Verdict]] | None = None

    def judge(self, record: RunRecord) -> list[Verdict]:
        out = self.function(record)
        return out if isinstance(out, list) else [out]


@attrs.frozen
class Promise:
    """What a configuration promises while the network is split, for the CAP report to hold
    its measurements against: the consistency checks and violation statistics that stay
    clean ("all": every one), and which sides stay available: "every" side of at least
    `min_side` nodes, the side holding a majority of the members by itself, or "none" (it
    may block)."""

    keeps: tuple[str, ...]
    available: str  # "every" | "majority" | "none"
    text: str
    min_side: int = 1

    def broken(self, violations) -> list[str]:
        """The promised names among `violations`."""
        return [v for v in violations if "all" in self.keeps or v in self.keeps]


@attrs.frozen
class Blocking:
    """A wait a node can be stuck in while the network is split, for the CAP report: it
    opens when the node announces `opens` and closes when it announces `closes`, the two
    matched by their announcements' `key` field (a participant in doubt from its yes vote
    to the outcome)."""

    opens: str
    closes: str
    key: str
    label: str


@attrs.frozen
class Cluster:
    """The node slots of one run: the class each runs, which start as members (the rest
    are spares a join boots), and which the nemesis never touches."""

    classes: dict[str, type[Node]]
    members: tuple[str, ...]
    exempt: frozenset[str] = frozenset()

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(sorted(self.classes))


NO_EXCEPTION = Check("no-exception", "no node handler or monitor raised an exception (the "
                     "traceback is the verdict's witness)", "run")


def liveness_check(key: Callable[[Op], Hashable] | None = None) -> Check:
    """After the heal, every client thread (and every key, when `key` names an op's key)
    sees an operation succeed within the liveness bound."""
    per = "client thread and key" if key else "client thread"
    return Check("liveness", f"after the heal, every {per} sees an op succeed in time",
                 "liveness", lambda record: check_liveness(
                     record.history, record.heal_at, record.liveness_bound_us,
                     threads=record.threads, key=key))


class Protocol:
    """Subclass once per protocol, in `protocols/<name>/protocol.py`, and add the class's
    import path to `faultlab.protocols.PROTOCOLS`.

    Class attributes declare it (shown by `faultlab protocols`); methods connect it to a run
    (cluster, op generator, roles, join contacts, monitor).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]] = (Setting("nodes", 5, "node slots", 1, 64),)
    bugs: ClassVar[dict[str, str]] = {}            # planted bug name -> one-line description
    # settings a planted bug needs to be reachable at all (a strict-mode bug: quorum=strict),
    # applied to a run of that bug unless its config says otherwise
    bug_settings: ClassVar[dict[str, dict]] = {}
    checks: ClassVar[tuple[Check, ...]] = ()       # the protocol's own invariants and checks
    liveness: ClassVar[Check | None] = liveness_check()  # None: the protocol promises no progress
    roles: ClassVar[tuple[str, ...]] = ()          # roles the nemesis may target (role:NAME)
    announces: ClassVar[tuple[str, ...]] = ()      # events its nodes announce (triggers)
    churn: ClassVar[ChurnLimits | None] = None     # None: members never join, leave or fail
    # (label, numerator, denominator) of run statistics the campaign summary shows as a share
    rates: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    # run statistics that count consistency violations (stale reads, lost writes), which
    # the CAP report holds against a configuration as it does a failed check
    violations: ClassVar[tuple[str, ...]] = ()
    default_workload: ClassVar[Workload] = Workload()
    default_nemesis: ClassVar[NemesisConfig] = NemesisConfig()
    # The CAP report (`faultlab cap`): the node that matters for which side of a cut it is
    # on, as a fault target ("role:leader"; None for a protocol of peers); an event the cut
    # waits for after the warm-up (None: it strikes at once); a wait nodes may be stuck in;
    # the configurations worth comparing, by label.
    cap_target: ClassVar[str | None] = None
    cap_trigger: ClassVar[str | None] = None
    cap_blocking: ClassVar[Blocking | None] = None
    cap_configs: ClassVar[tuple[tuple[str, dict], ...]] = (("default", {}),)

    # ---- declaration -----------------------------------------------------------------------

    def all_checks(self) -> tuple[Check, ...]:
        """Every check a run of this protocol is judged by, in the order they run."""
        return (*self.checks, *((self.liveness,) if self.liveness else ()), NO_EXCEPTION)

    def resolve_config(self, config: Any) -> dict:
        """The defaults overlaid with `config`, each value checked against its setting."""
        if not isinstance(config, dict):
            raise FaultlabError(f"protocol {self.name!r} config must be an object, "
                                f"got {config!r}")
        known = {s.name: s for s in self.settings}
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise FaultlabError(f"protocol {self.name!r} has no config option {unknown[0]!r} "
                                f"(options: {', '.join(sorted(known))})")
        merged = {s.name: s.default for s in self.settings}
        for key, value in config.items():
            merged[key] = known[key].read(value, self.name)
        if "initial" in merged and merged["initial"] > merged["nodes"]:
            raise FaultlabError(f"protocol {self.name!r} config 'initial' "
                                f"({merged['initial']}) must not exceed 'nodes' "
                                f"({merged['nodes']})")
        self.check_config(merged)
        return merged

    def check_config(self, config: dict) -> None:
        """Rules between settings (raise FaultlabError naming them)."""

    def promises(self, config: dict) -> list[str]:
        """What this configuration promises, proved or refuted before any run (Dynamo's
        quorum intersection), one line each for the campaign summary."""
        return []

    def cap_promise(self, config: dict) -> Promise:
        """What this configuration promises under a partition (default: nothing)."""
        return Promise((), "none", "no promise declared")

    def check_bugs(self, bugs) -> frozenset[str]:
        for bug in bugs:
            if bug not in self.bugs:
                known = ", ".join(sorted(self.bugs)) or "none"
                raise FaultlabError(f"protocol {self.name!r} has no planted bug {bug!r} "
                                    f"(known: {known})")
        return frozenset(bugs)

    # ---- a run -----------------------------------------------------------------------------

    def cluster(self, config: dict) -> Cluster:
        """Slots n1..n<nodes>, all running `node_class`; with an `initial` setting only the
        first `initial` start as members."""
        slots = tuple(f"n{i}" for i in range(1, int(config["nodes"]) + 1))
        members = slots[:int(config.get("initial", len(slots)))]
        return Cluster(dict.fromkeys(slots, self.node_class()), members)

    def node_class(self) -> type[Node]:
        raise NotImplementedError

    def ops(self, config: dict, workload: Workload, rng: random.Random) -> OpGenerator:
        """This run's op generator."""
        raise NotImplementedError

    def role_holders(self, sim: Simulator, role: str) -> list[str]:
        """Nodes that currently hold `role` (asked by the nemesis for role targets)."""
        return []

    def contact_for(self, sim: Simulator, joining: str) -> str | None:
        """The live member a joining node bootstraps from (default: the first, by name)."""
        live = [n for n in sim.member_list() if n in sim.up and n != joining]
        return live[0] if live else None

    def may_depart(self, sim: Simulator, node: str) -> str | None:
        """Why `node` may not leave or fail right now, judged on the live state when the
        fault strikes (a protocol's operating assumption), or None: it may. By default,
        the churn limits' minimum membership, so hand-written and shrunk schedules keep it
        too."""
        if self.churn is not None:
            exempt = sim.net.exempt
            left = sum(1 for n in sim.member_list() if n not in exempt) - 1
            if left < self.churn.min_members:
                return (f"{left} members would remain, fewer than the protocol's minimum "
                        f"({self.churn.min_members})")
        return None

    def monitor(self, config: dict) -> Invariant | None:
        """A callable run after every step that returns None or a problem (invariants)."""
        return None
