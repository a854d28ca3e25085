"""The lazy top-level group: `deployctl --help` lists LAZY_COMMANDS without importing a command module,
so that table must say exactly what the modules register, and running a command must still find it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main

import deployctl.cli
from deployctl.cli.main import LAZY_COMMANDS, LazyCommand, app
from tests.cli_helpers import run_cli


def _registered_commands() -> dict[str, LazyCommand]:
    """What every deployctl/cli/*_cmd.py module really registers: name → (module, --help summary)."""
    found: dict[str, LazyCommand] = {}
    for path in sorted(Path(deployctl.cli.__file__).parent.glob("*_cmd.py")):
        verbs = typer.Typer(rich_markup_mode=None)
        __import__(f"deployctl.cli.{path.stem}", fromlist=["register"]).register(verbs)
        for name, command in typer.main.get_group(verbs).commands.items():
            assert name not in found, f"{name} is registered by {found[name].module} and {path.stem}"
            assert not command.hidden and command.short_help is None, f"{name}: the listing would differ"
            first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
            found[name] = LazyCommand(path.stem, first_paragraph)
    return found


def test_the_table_names_every_registered_command_with_its_module_and_summary() -> None:
    assert _registered_commands() == LAZY_COMMANDS


def _help_text(group: typer.core.TyperGroup, width: int) -> str:
    return group.get_help(group.context_class(group, info_name="deployctl", terminal_width=width))


@pytest.mark.parametrize("width", [60, 100, 200], ids=["narrow terminal", "usual terminal", "wide terminal"])
def test_help_reads_the_same_as_with_every_module_loaded(width: int) -> None:
    lazy = typer.main.get_command(app)
    listed_lazily = _help_text(lazy, width)
    loaded = typer.main.get_command(app)
    for name in LAZY_COMMANDS:
        assert loaded.get_command(loaded.context_class(loaded), name) is not None, name
    assert listed_lazily == _help_text(loaded, width)
    assert "validate" in listed_lazily and "cache" in listed_lazily


def test_help_in_a_fresh_interpreter_imports_no_command_module() -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['deployctl', '--help']\n"
        "from deployctl.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sorted(m for m in sys.modules if m.startswith(('deployctl', 'rich', 'pydantic')))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Commands:" in result.stdout
    modules = result.stdout.rsplit("MODULES", 1)[1].split()
    assert modules == [
        "deployctl",
        "deployctl.cli",
        "deployctl.cli.errors",
        "deployctl.cli.main",
        "deployctl.cli.output",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--json", "version"), '"version"'),
        (("cache", "ls", "--help"), "List cached checkpoints"),
        (("render", "--help"), "--target"),
    ],
    ids=["a command defined in main", "a command of a sub-group", "a module's command help"],
)
def test_a_command_runs_from_its_module_when_named(args: tuple[str, ...], expected: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert expected in result.stdout


def test_a_misspelt_command_is_refused_with_a_suggestion_from_the_lazy_table() -> None:
    result = run_cli("stauts")
    assert result.exit_code == 2
    assert "No such command 'stauts'. Did you mean 'status'?" in result.stderr
