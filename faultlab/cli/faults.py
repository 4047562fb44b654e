"""`faultlab faults`: the fault kinds (what each does, its parameters) and the families the
nemesis draws them from (`run --faults a,b`)."""
from __future__ import annotations

import click
from rich.table import Table

from faultlab.cli.console import EXIT_OK, console


@click.command("faults")
def faults_cmd():
    """List fault kinds with their parameters, and the fault families (`run --faults`)."""
    from faultlab.nemesis.families import FAMILIES
    from faultlab.nemesis.kinds import KINDS

    kinds = Table(title="fault kinds", header_style="bold", show_lines=True)
    for col in ("kind", "what it does", "params"):
        kinds.add_column(col)
    for kind in KINDS.values():
        params = "\n".join(p.describe() for p in kind.params) or "-"
        kinds.add_row(kind.name, kind.description, params)
    console.print(kinds)
    console.print("Any fault may carry a trigger: {event, nth, after_us, source}. It then waits "
                  "from its time for the nth announcement of a protocol event (from source, a "
                  "node or role:NAME, if given) and strikes after_us later; the target "
                  "'announcer' is the node that announced.", markup=False)
    families = Table(title="fault families (run --faults a,b)", header_style="bold")
    for col in ("family", "drawn", "needs"):
        families.add_column(col)
    for fam in FAMILIES.values():
        families.add_row(fam.name, "by default" if fam.general else "when named",
                         fam.needs)
    console.print(families)
    return EXIT_OK
