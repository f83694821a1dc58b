"""Where the CLI writes: results to stdout, errors to stderr as one line, and the exit codes it uses."""

from __future__ import annotations

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True, soft_wrap=True)

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def fail(message: str, code: int = EXIT_UNREADABLE) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)
