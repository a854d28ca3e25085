"""Render a `DeployctlError` once, at the CLI edge: what went wrong, where, and how to fix it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # main() imports deployctl.errors only once something failed
    from deployctl.errors import DeployctlError

# Documented exit codes (README, "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # rejected recipe, failed step
EXIT_USAGE = 2  # bad command line or unreadable input
EXIT_PLAN_CHANGES = 3  # `deployctl plan`: the plan has changes (0 = nothing to do)


def render_error(error: DeployctlError) -> None:
    from rich.markup import escape  # rich.markup pulls in rich.emoji: ~30 ms a start-up does not need

    from deployctl.cli.output import out

    where = error.location
    prefix = f"[bold]{escape(where)}[/]: " if where else ""
    out.stderr.print(f"[bold red]Error:[/] {prefix}{escape(error.message)}", highlight=False)
    for detail in error.details:
        for line in str(detail).rstrip().splitlines():
            out.stderr.print(f"  {escape(line)}", highlight=False)
    if error.hint:
        out.stderr.print(f"[bold]Hint:[/] {escape(error.hint)}", highlight=False)
