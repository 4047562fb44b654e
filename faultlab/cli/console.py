"""The terminal every command writes to, and the exit codes they share."""
from __future__ import annotations

from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_UNKNOWN, EXIT_BAD_INPUT = 0, 1, 2, 3
console = Console(highlight=False, soft_wrap=True)  # never break a command line

