"""One output sink: results on stdout (human tables or `--json`), everything else on stderr.

Commands print through `out` only, so `deployctl ... --json | jq` always gets clean JSON and
progress, warnings and hints never mix into a machine's stream.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class Output:
    """Consoles are made on first use: importing rich.console costs start-up time `--help` never needs."""

    def __init__(self) -> None:
        self.json_mode = False
        self._stdout: Console | None = None
        self._stderr: Console | None = None

    @property
    def stdout(self) -> Console:
        if self._stdout is None:
            from rich.console import Console

            self._stdout = Console(soft_wrap=True)
        return self._stdout

    @property
    def stderr(self) -> Console:
        if self._stderr is None:
            from rich.console import Console

            self._stderr = Console(stderr=True, soft_wrap=True)
        return self._stderr

    def result(self, data: Any, *, human: Any = None) -> None:
        """The command's answer: JSON in --json mode, else `human` (a rich renderable or text)."""
        if self.json_mode:
            import json  # only --json needs it

            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
            sys.stdout.flush()
        elif human is not None:
            self.stdout.print(human)

    def info(self, message: str) -> None:
        self.stderr.print(message, highlight=False)

    def step(self, message: str) -> None:
        self.stderr.print(f"[bold cyan]›[/] {message}", highlight=False)

    def ok(self, message: str) -> None:
        self.stderr.print(f"[bold green]✓[/] {message}", highlight=False)

    def warning(self, message: str) -> None:
        self.stderr.print(f"[bold yellow]Warning:[/] {message}", highlight=False)

    def hint(self, message: str) -> None:
        self.stderr.print(f"[dim]Hint:[/] {message}", highlight=False)

    def status(self, message: str):
        """A spinner on a terminal; a plain line otherwise (CI logs stay readable)."""
        if self.stderr.is_terminal and not self.json_mode:
            return self.stderr.status(message)
        self.step(message)
        return _NullContext()


class _NullContext:
    def __enter__(self) -> _NullContext:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: object, **kwargs: object) -> None:
        return None


out = Output()
