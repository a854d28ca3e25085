"""Run the real `deployctl` entry point in-process and capture what a user would see."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str) -> CliResult:
    """Call `deployctl.cli.main.main` with argv, as the console script does (errors rendered, exit codes)."""
    from deployctl.cli import output
    from deployctl.cli.main import main

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    sys.argv = ["deployctl", *args]
    # Fresh consoles bound to the captured streams, wide enough that messages are not wrapped.
    output.out.__init__()
    output.out.stdout.file = stdout
    output.out.stderr.file = stderr
    output.out.stdout.width = output.out.stderr.width = 400
    code = 0
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved_argv
        output.out.__init__()
    return CliResult(code, stdout.getvalue(), stderr.getvalue())
