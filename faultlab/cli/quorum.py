"""`faultlab quorum`: prove or refute quorum intersection for N, R and W with z3."""
from __future__ import annotations

import click
import orjson

from faultlab.cli.console import EXIT_FAILED, EXIT_OK
from faultlab.errors import FaultlabError


@click.command("quorum")
@click.option("--n", "n", required=True, type=click.IntRange(1, 16), help="Replicas per key.")
@click.option("--r", "r", required=True, type=click.IntRange(1, 16), help="Read quorum.")
@click.option("--w", "w", required=True, type=click.IntRange(1, 16), help="Write quorum.")
@click.option("--sloppy", is_flag=True, help="Sloppy quorums: the first N reachable members "
              "of the preference list, fallbacks included.")
@click.option("--members", type=click.IntRange(1, 32), default=None,
              help="Cluster size for sloppy quorums [default: N + 2].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def quorum_cmd(n, r, w, sloppy, members, as_json):
    """Does every read quorum meet every write quorum, and do two write quorums meet?
    Exit 0 when both are proved, 1 when one is refuted (with a concrete partition)."""
    from faultlab.checkers.quorum import check_quorums

    for name, q in (("r", r), ("w", w)):
        if q > n:
            raise FaultlabError(f"--{name} ({q}) must not exceed --n ({n})")
    if members is not None and members < n:
        raise FaultlabError(f"--members ({members}) must be at least --n ({n})")
    if members is not None and not sloppy:
        raise FaultlabError("--members is only read with --sloppy (strict quorums use the "
                            "N owners)")
    results = check_quorums(n, r, w, sloppy, members)
    if as_json:
        click.echo(orjson.dumps({"n": n, "r": r, "w": w, "sloppy": sloppy, "properties": [
            {"name": p.name, "proved": p.proved, "witness": p.witness} for p in results]},
            option=orjson.OPT_INDENT_2).decode())
    else:
        mode = "sloppy" if sloppy else "strict"
        click.echo(f"N={n} R={r} W={w}, {mode} quorum (z3):")
        for p in results:
            click.echo(f"  {p.describe()}")
    return EXIT_OK if all(p.proved for p in results) else EXIT_FAILED
