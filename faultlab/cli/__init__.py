"""The faultlab command line: one module per command, sharing the run options of
`options.py`. Exit codes: 0 all good, 1 a check failed (or a replay diverged), 2 unknown (a
checker ran out of budget), 3 bad input; 130 and 143 when interrupted by SIGINT and SIGTERM.
"""
from __future__ import annotations

import signal
import sys

import click

from faultlab.cli.sigterm import Terminated, on_sigterm
from faultlab.errors import FaultlabError, one_line

EXIT_BAD_INPUT = 3
# command -> "module:attribute", imported only when the command runs: `faultlab check` on a
# small file should not pay for the simulator or for rich's tables.
COMMANDS = {
    "run": "faultlab.cli.run:run_cmd",
    "replay": "faultlab.cli.replay:replay_cmd",
    "shrink": "faultlab.cli.shrink:shrink_cmd",
    "check": "faultlab.cli.check:check_cmd",
    "protocols": "faultlab.cli.protocols:protocols_cmd",
    "faults": "faultlab.cli.faults:faults_cmd",
    "quorum": "faultlab.cli.quorum:quorum_cmd",
    "lineage": "faultlab.cli.lineage:lineage_cmd",
    "cap": "faultlab.cli.cap:cap_cmd",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        import importlib

        module, _, attr = COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="faultlab")
def cli() -> None:
    """Find bugs in distributed protocols with deterministic simulation and fault injection."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: maps bad input to a one-line error and exit code 3, and an
    interrupt to a clean stop."""
    argv = sys.argv[1:] if argv is None else list(argv)
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        code = cli.main(args=argv, prog_name="faultlab", standalone_mode=False,
                        obj={"argv": argv})
    except (KeyboardInterrupt, click.exceptions.Abort) as e:
        terminated = isinstance(e, Terminated) or isinstance(e.__context__, Terminated)
        click.echo("terminated" if terminated else "interrupted", err=True)
        sys.exit(143 if terminated else 130)
    except click.ClickException as e:
        click.echo(f"error: {one_line(e.format_message())}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except FaultlabError as e:
        click.echo(f"error: {one_line(str(e))}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.exit(code if isinstance(code, int) else 0)
