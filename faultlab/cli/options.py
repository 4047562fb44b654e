"""Options shared by commands that run a protocol (`run` today; `cap`, `explore` later):
they build and check a RunSpec before any work starts. The simulator is imported only when a
spec is built, so `faultlab check` never loads it."""
from __future__ import annotations

import math
import re

import attrs
import click

from faultlab.errors import FaultlabError


def run_options(fn):
    """Decorate a command with PROTOCOL and the options that shape one run."""
    for option in reversed([
        click.argument("protocol"),
        click.option("--bug", "bugs", multiple=True,
                     help="Planted bug to switch on (repeatable)."),
        click.option("--config", "config_items", multiple=True, metavar="KEY=VALUE",
                     help="Protocol setting, e.g. nodes=3 (repeatable; see `faultlab "
                     "protocols NAME`)."),
        click.option("--faults", default=None, help="Comma-separated fault families to draw "
                     "from [default: the protocol's; see `faultlab faults`]."),
        click.option("--no-swarm", is_flag=True,
                     help="Use every enabled fault family in every run."),
        click.option("--heal-at", default=3.0, show_default=True, type=float,
                     help="Simulated seconds of faults before the heal phase."),
    ]):
        fn = option(fn)
    return fn


def build_spec(protocol: str, bugs, config_items, faults, no_swarm, heal_at):
    """The RunSpec the shared options describe, checked against its protocol."""
    from faultlab.campaign.runner import prepare
    from faultlab.campaign.spec import MAX_PHASE_US, RunSpec
    from faultlab.protocols import get_protocol

    if not math.isfinite(heal_at) or not 0.001 <= heal_at <= MAX_PHASE_US / 1e6:
        raise FaultlabError(f"--heal-at must be from 0.001 to {MAX_PHASE_US / 1e6:g} "
                            f"seconds, got {heal_at}")
    proto = get_protocol(protocol)
    nemesis = None  # the protocol's default
    if faults is not None or no_swarm:  # its families unless named, swarm unless turned off
        default = proto.default_nemesis
        families = default.families
        if faults is not None:
            families = tuple(f.strip() for f in faults.split(",") if f.strip())
            if not families:
                raise FaultlabError(f"--faults {faults!r} names no fault family")
        nemesis = attrs.evolve(default, families=families, swarm=not no_swarm)
    config = {k: v for bug in bugs for k, v in proto.bug_settings.get(bug, {}).items()}
    spec = RunSpec(protocol=protocol, bugs=tuple(bugs), heal_at_us=round(heal_at * 1e6),
                   config={**config, **parse_config(config_items)}, nemesis=nemesis)
    prepared = prepare(spec)  # refuses unknown bugs, bad settings, absurd values
    if faults is not None:
        prepared.target.refuse(nemesis.families)
    return spec


def parse_config(items) -> dict:
    """KEY=VALUE pairs; values are integers, true/false, or strings."""
    config = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise FaultlabError(f"--config {item[:60]!r}: expected KEY=VALUE")
        if re.fullmatch(r"[+-]?\d+", value.strip()):
            config[key] = int(value)
        elif value in ("true", "false"):
            config[key] = value == "true"
        else:
            config[key] = value
    return config


def check_seeds(first: int, runs: int) -> None:
    from faultlab.campaign.spec import MAX_SEED

    if first + runs - 1 > MAX_SEED:
        raise FaultlabError(f"--seed {first} with --runs {runs} goes past the largest seed, "
                            f"{MAX_SEED}")


def dask_executor(address: str):
    """A concurrent.futures executor on a Dask cluster, or a one-line error."""
    if not re.fullmatch(r"(tcp|tls|ws|wss|ucx)://[^\s/:]+:\d+|inproc://\S+", address):
        raise FaultlabError(f"--scheduler {address[:80]!r} is not a Dask scheduler address "
                            "like tcp://host:8786")
    try:
        from dask.distributed import Client
    except ImportError:
        raise FaultlabError("--scheduler needs dask: pip install 'faultlab[cluster]'") from None
    try:
        return Client(address, timeout=10).get_executor()
    except (OSError, ValueError, TimeoutError) as e:
        raise FaultlabError(f"cannot reach dask scheduler {address}: {e}") from None
