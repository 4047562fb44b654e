"""The faultlab command line: one module per command, sharing the run options of
`options.py`. Exit codes: 0 all good, 1 a check failed (or a replay diverged), 2 unknown (a
checker ran out of budget), 3 bad input; 130 and 143 when interrupted by SIGINT and SIGTERM.
"""
from __future__ import annotations

import signal
import sys

import click

from faultlab.cli.check import check_cmd
from faultlab.cli.console import EXIT_BAD_INPUT
from faultlab.cli.faults import faults_cmd
from faultlab.cli.protocols import protocols_cmd
from faultlab.cli.replay import replay_cmd
from faultlab.cli.run import run_cmd
from faultlab.cli.shrink import shrink_cmd
from faultlab.errors import FaultlabError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="faultlab")
def cli() -> None:
    """Find bugs in distributed protocols with deterministic simulation and fault injection."""


for command in (run_cmd, replay_cmd, shrink_cmd, check_cmd, protocols_cmd, faults_cmd):
    cli.add_command(command)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the work in hand stops and cleans up."""


def _on_sigterm(signum, frame):
    raise _Terminated


def main(argv: list[str] | None = None) -> None:
    """Console entry point: maps bad input to a one-line error and exit code 3, and an
    interrupt to a clean stop."""
    argv = sys.argv[1:] if argv is None else list(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = cli.main(args=argv, prog_name="faultlab", standalone_mode=False,
                        obj={"argv": argv})
    except (KeyboardInterrupt, click.exceptions.Abort) as e:
        terminated = isinstance(e, _Terminated) or isinstance(e.__context__, _Terminated)
        click.echo("terminated" if terminated else "interrupted", err=True)
        sys.exit(143 if terminated else 130)
    except click.ClickException as e:
        click.echo(f"error: {_one_line(e.format_message())}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except FaultlabError as e:
        click.echo(f"error: {_one_line(str(e))}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(message: str, limit: int = 400) -> str:
    """Errors are one line, and never echo a huge argument whole."""
    line = " ".join(message.split())
    return line if len(line) <= limit else line[:limit - 3] + "..."
