"""`faultlab protocols`: what each protocol offers, read from its declaration."""
from __future__ import annotations

import click
from rich.table import Table

from faultlab.cli.console import EXIT_OK, console

_ORDER = {"invariant": 0, "history": 1, "measure": 2, "liveness": 3, "run": 4}


@click.command("protocols")
@click.argument("name", required=False)
def protocols_cmd(name):
    """List protocols with their planted bugs and checks; with NAME, also its settings,
    roles, announced events, churn limits, workload and default nemesis."""
    from faultlab.protocols import PROTOCOLS, get_protocol

    names = [name] if name else sorted(PROTOCOLS)
    table = Table(show_header=True, header_style="bold", show_lines=True)
    table.add_column("protocol")
    table.add_column("planted bugs (--bug NAME)")
    table.add_column("checks")
    protocols = [get_protocol(n) for n in names]
    for p in protocols:
        bugs = "\n".join(f"[bold]{b}[/]: {d}" for b, d in sorted(p.bugs.items())) or "-"
        checks = "\n".join(f"[bold]{c.name}[/] ({c.category}): {c.description}"
                           for c in sorted(p.all_checks(), key=lambda c: _ORDER[c.category]))
        table.add_row(f"[bold]{p.name}[/]\n{p.summary}", bugs, checks)
    console.print(table)
    if name:
        _details(protocols[0])
    return EXIT_OK


def _details(p) -> None:
    console.print("[bold]settings[/] (--config KEY=VALUE):")
    for s in p.settings:
        console.print(f"  {s.describe()}", markup=False)
    console.print(f"[bold]roles[/] (role:NAME targets): {', '.join(p.roles) or 'none'}")
    console.print(f"[bold]announces[/] (fault triggers): {', '.join(p.announces) or 'nothing'}")
    if p.churn is None:
        console.print("[bold]membership[/]: fixed (no join, leave or fail)")
    else:
        c = p.churn
        console.print(f"[bold]membership[/]: at least {c.min_members} members, at most "
                      f"{c.max_joining} joining and {c.max_leaving} leaving at once")
    w = p.default_workload
    console.print(f"[bold]workload[/]: {w.clients} clients, think {w.think_us / 1e3:g} ms, "
                  f"timeout {w.timeout_us / 1e3:g} ms, {w.keys} keys, mix "
                  + (", ".join(f"{f} {n}" for f, n in w.mix) or "default"))
    who = f", the cut placed by {p.cap_target}" if p.cap_target else ""
    console.print(f"[bold]cap[/] (faultlab cap): configurations "
                  f"{', '.join(label for label, _ in p.cap_configs)}{who}; promises: "
                  f"{p.cap_promise(p.resolve_config(p.cap_configs[0][1])).text}")
    families = p.default_nemesis.families
    if families:
        counts = {f: families.count(f) for f in dict.fromkeys(families)}
        console.print("[bold]default nemesis[/]: " + ", ".join(
            f"{f}×{n}" if n > 1 else f for f, n in counts.items()))
    else:
        console.print("[bold]default nemesis[/]: the general families")
