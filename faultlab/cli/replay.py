"""`faultlab replay`: re-run a saved bundle, confirm its fingerprint, explain the failure."""
from __future__ import annotations

import click

from faultlab.cli.console import EXIT_FAILED, EXIT_OK, console


@click.command("replay")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--history", "show_history", is_flag=True, help="Print the replayed history too.")
def replay_cmd(bundle, show_history):
    """Re-run a saved BUNDLE, confirm its fingerprint, and explain the failure.

    Exit code: 0 the run passes and matches the bundle, 1 a check fails or the run diverged
    from the bundle (the code or the spec changed), 3 bad input."""
    from faultlab.campaign.explain import account
    from faultlab.campaign.replay import replay

    rep = replay(bundle)
    spec = rep.result.spec
    console.print(f"[bold]{spec.protocol}[/] seed {spec.seed}"
                  + (f", bugs {', '.join(spec.bugs)}" if spec.bugs else "")
                  + f", {len(spec.schedule or ())} faults, {len(rep.result.history)} ops")
    if rep.identical:
        console.print(f"fingerprint {rep.result.fingerprint} [green]identical[/] to the bundle")
    else:
        console.print("[red bold]fingerprint DIFFERS: this run diverged from the saved one[/] "
                      "(the code or the spec changed)")
        console.print(f"  saved:    {rep.bundle.fingerprint}")
        console.print(f"  replayed: {rep.result.fingerprint}")
    for v in rep.result.verdicts:
        if v.failed:
            continue  # the account below explains it
        mark = {True: "[green]valid[/]"}.get(v.valid, "[yellow]unknown[/]")
        console.print(f"  {v.name:12} {mark}  {v.explanation}")
    for line in account(rep.result):
        console.print(line, markup=False)
    if show_history:
        for op in rep.result.history:
            console.print(f"  {op.time:>10} {op.process:>4} {op.type:6} {op.f:6} {op.value!r}",
                          markup=False)
    if rep.still_fails or not rep.identical:
        return EXIT_FAILED
    return EXIT_OK
