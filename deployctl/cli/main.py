"""The `deployctl` command: lists the verbs, imports a verb's module when it runs, handles errors once.

Start-up must stay fast: `deployctl --help` imports typer and this module only. Each command module
is imported when one of its commands runs or shows its own help, and imports only typer, rich and
the pure domain at module level; torch, modelopt, docker, openai and huggingface_hub are imported
inside the step that needs them (benchmarks/cli_startup.py measures it).
"""

import os
import sys
from importlib import import_module
from typing import TYPE_CHECKING, NamedTuple

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from deployctl import __version__
from deployctl.cli.errors import EXIT_FAILED, EXIT_USAGE, render_error
from deployctl.cli.output import out

if TYPE_CHECKING:  # typer's vendored click: named for the type checker only, never imported from
    from typer._click import Command, Context, HelpFormatter


class LazyCommand(NamedTuple):
    module: str  # under deployctl.cli; its `register(app)` adds the command
    summary: str  # the first paragraph of the command's help: what `deployctl --help` lists


# Every command the modules register, in --help order (typer lists groups, here `cache`, last).
# tests/cli/test_lazy_commands.py keeps this table equal to what the modules register.
LAZY_COMMANDS: dict[str, LazyCommand] = {
    "validate": LazyCommand(
        "recipe_cmd", "Check a recipe and judge it against the capability table (no download, no container)."
    ),
    "schema": LazyCommand("recipe_cmd", "Print the recipe JSON Schema (for editor completion)."),
    "plan": LazyCommand(
        "apply_cmd",
        "Show what apply would do; never quantizes or downloads. Exit 0: no changes; 3: changes; 1: rejected.",
    ),
    "apply": LazyCommand(
        "apply_cmd",
        "Validate, quantize (cached), launch or swap, wait until healthy, smoke-test and record the deployment.",
    ),
    "rollback": LazyCommand(
        "apply_cmd", "Serve an earlier revision again from the checkpoint cache, without re-quantizing."
    ),
    "quantize": LazyCommand(
        "quantize_cmd",
        "Quantize the recipe's model with Model Optimizer (cached by content) and print its quality.",
    ),
    "eval": LazyCommand(
        "eval_cmd",
        "Evaluate an endpoint with lm-evaluation-harness on the recipe's tasks (what the swap gate runs).",
    ),
    "status": LazyCommand("deployments_cmd", "Show deployments with their live state and health."),
    "list": LazyCommand("deployments_cmd", "List the deployments deployctl has state for (no live checks)."),
    "logs": LazyCommand("deployments_cmd", "Print the engine's output (secret values masked)."),
    "smoke": LazyCommand(
        "deployments_cmd",
        "Smoke-test an endpoint with the OpenAI client: models, chat, completion, streamed chat.",
    ),
    "destroy": LazyCommand(
        "deployments_cmd",
        "Stop and remove everything deployctl started for NAME, and forget it. Safe to repeat.",
    ),
    "doctor": LazyCommand(
        "deployments_cmd",
        "List damaged state files and stale locks, with why and the way out. Exit 1 while any remains.",
    ),
    "capabilities": LazyCommand(
        "capabilities_cmd",
        "Show which format × KV cache × engine combinations run natively, by fallback, or not at all.",
    ),
    "gpus": LazyCommand(
        "capabilities_cmd",
        "List the GPUs NVML sees, with their compute capability, memory, driver and catalogue match.",
    ),
    "compose": LazyCommand(
        "operator_cmd",
        "Render a Docker Compose file that runs the recipe's engine exactly as `deployctl apply` would.",
    ),
    "bench": LazyCommand(
        "operator_cmd",
        "Load an OpenAI-compatible endpoint; report TTFT, TPOT, ITL, E2EL, throughput (vLLM's names).",
    ),
    "compare": LazyCommand(
        "operator_cmd",
        "Compare quantization formats of one recipe: size, quality, throughput and latency (table + PNG).",
    ),
    "tune": LazyCommand(
        "tune_cmd",
        "Sweep engine options (bounded, resumable), check greedy outputs, bench batch 1 and --concurrency.",
    ),
    "render": LazyCommand(
        "render_cmd",
        "Render a recipe for another orchestrator from the same LaunchSpec `deployctl apply` uses.",
    ),
    "cache": LazyCommand("quantize_cmd", "Inspect and clean the quantized-checkpoint cache."),
}


class LazyCommandGroup(TyperGroup):
    """The top-level group: a command module is imported only when one of its commands is looked up.

    Importing the seven modules and building their 21 click commands took ~35 ms of `deployctl --help`;
    the listing now comes from LAZY_COMMANDS. `self.commands` holds what is built so far: the commands
    defined here (`version`) and those of every module loaded.
    """

    def list_commands(self, ctx: "Context") -> list[str]:
        here = [name for name in self.commands if name not in LAZY_COMMANDS]
        return [*here, *LAZY_COMMANDS]

    def get_command(self, ctx: "Context", cmd_name: str) -> "Command | None":
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            self._load(LAZY_COMMANDS[cmd_name].module)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: "Context", args: list[str]
    ) -> "tuple[str | None, Command | None, list[str]]":
        if args and args[0] not in self.commands and args[0] not in LAZY_COMMANDS:
            # An unknown name: typer's "Did you mean ...?" reads self.commands, so complete it first.
            for module in dict.fromkeys(command.module for command in LAZY_COMMANDS.values()):
                self._load(module)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: "Context", formatter: "HelpFormatter") -> None:
        """TyperGroup's listing, with a command not built yet described by its LAZY_COMMANDS summary."""
        listed = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or TyperCommand(name=name, help=LAZY_COMMANDS[name].summary)
            if not command.hidden:
                listed.append((name, command))
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in listed)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed])

    def _load(self, module: str) -> None:
        """Import deployctl.cli.<module> and build the commands its `register(app)` adds."""
        verbs = typer.Typer(rich_markup_mode=self.rich_markup_mode, suggest_commands=self.suggest_commands)
        import_module(f"deployctl.cli.{module}").register(verbs)
        self.commands.update(typer.main.get_group(verbs).commands)


app = typer.Typer(
    cls=LazyCommandGroup,
    name="deployctl",
    help="From a Hugging Face model to a quantized, smoke-tested OpenAI-compatible endpoint.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _global_options(
    json_output: bool = typer.Option(False, "--json", help="Machine-readable results on stdout."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks (also DEPLOYCTL_DEBUG=1)."),
) -> None:
    out.json_mode = json_output
    if debug:
        os.environ["DEPLOYCTL_DEBUG"] = "1"


@app.command()
def version() -> None:
    """Print deployctl's version."""
    out.result({"version": __version__}, human=f"deployctl {__version__}")


def main() -> None:
    """Console-script entry: run the app, render known errors once, exit with documented codes."""
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        out.stderr.print("Interrupted.")
        sys.exit(130)
    except Exception as exc:
        # Imported only when something failed: `deployctl --help` needs neither.
        from deployctl import settings
        from deployctl.errors import DeployctlError

        if isinstance(exc, DeployctlError):
            if settings.debug():
                raise
            render_error(exc)
            sys.exit(exc.exit_code)
        # Typer vendors click privately (typer._click); recognise its usage errors by shape, not by
        # importing a private module that may move between releases.
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(EXIT_USAGE)
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        raise
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main", "EXIT_FAILED"]
