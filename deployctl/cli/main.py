"""The `deployctl` command: assembles the verb modules and holds the only error handler.

Start-up must stay fast: this module and every command module import only typer, rich and the pure
domain at module level; torch, modelopt, docker, openai and huggingface_hub are imported inside the
step that needs them (benchmarks/cli_startup.py measures it).
"""


import os
import sys
from importlib import import_module

import typer

from deployctl import __version__
from deployctl.cli.errors import EXIT_FAILED, EXIT_USAGE, render_error
from deployctl.cli.output import out
from deployctl.errors import DeployctlError

app = typer.Typer(
    name="deployctl",
    help="From a Hugging Face model to a quantized, smoke-tested OpenAI-compatible endpoint.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

# One module per verb group, each with `register(app)`. Order = order in --help.
COMMAND_MODULES = (
    "deployctl.cli.recipe_cmd",  # validate, schema
    "deployctl.cli.apply_cmd",  # plan, apply
    "deployctl.cli.quantize_cmd",  # quantize, cache
    "deployctl.cli.deployments_cmd",  # status, list, logs, smoke, destroy
    "deployctl.cli.capabilities_cmd",  # capabilities, gpus
    "deployctl.cli.operator_cmd",  # compose, bench, compare
    "deployctl.cli.render_cmd",  # render (compose, Kubernetes Deployment, LeaderWorkerSet, Dynamo)
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


for _module in COMMAND_MODULES:
    try:
        import_module(_module).register(app)
    except ModuleNotFoundError as exc:  # a verb group not written yet must not break the others
        if exc.name != _module:
            raise


def main() -> None:
    """Console-script entry: run the app, render known errors once, exit with documented codes."""
    from deployctl import settings

    try:
        code = app(standalone_mode=False)
    except DeployctlError as error:
        if settings.debug():
            raise
        render_error(error)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        out.stderr.print("Interrupted.")
        sys.exit(130)
    except Exception as exc:
        # Typer vendors click privately (typer._click); recognise its usage errors by shape, not by
        # importing a private module that may move between releases.
        if callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(EXIT_USAGE)
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        raise
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main", "EXIT_FAILED"]
