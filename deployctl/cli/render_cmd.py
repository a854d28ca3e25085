"""`deployctl render --target compose|deployment|lws|dynamo RECIPE… [-o DIR]`.

Thin: load each recipe, judge it like `compose` does, call `render.targets.render_target`, write or
print. With `-o DIR` each file is `DIR/<recipe file stem>.<target>.yaml` (atomic writes), which is
also how tests/render/golden/ is regenerated.
"""

from pathlib import Path
from typing import Annotated

import typer

from deployctl.atomic import atomic_write_text
from deployctl.cli.judging import judge_named_gpu
from deployctl.cli.output import out

TARGET_HELP = "compose, deployment (Deployment+Service+PVC), lws (LeaderWorkerSet, gpu.nodes > 1) or dynamo."


def render(
    recipe_files: Annotated[list[Path], typer.Argument(help="Recipe YAML file(s).", show_default=False)],
    target: Annotated[str, typer.Option("--target", "-t", help=TARGET_HELP)] = "deployment",
    out_dir: Annotated[
        Path | None, typer.Option("-o", "--out-dir", help="Write DIR/<recipe stem>.<target>.yaml per recipe.")
    ] = None,
    portable: Annotated[
        bool, typer.Option("--portable", help="compose only: ignore this machine's checkpoint cache.")
    ] = False,
) -> None:
    """Render a recipe for another orchestrator from the same LaunchSpec `deployctl apply` uses."""
    from deployctl.errors import UsageError
    from deployctl.read_recipe import read_recipe
    from deployctl.render.targets import TARGETS, render_target

    if target not in TARGETS:
        raise UsageError(f"unknown --target '{target}'", hint=f"choose one of: {', '.join(TARGETS)}")
    written = []
    for recipe_file in recipe_files:
        recipe = read_recipe(recipe_file)
        recipe = judge_named_gpu(recipe, recipe_file)
        text = render_target(recipe, target, recipe_path=str(recipe_file), portable=portable)
        if out_dir is None:
            out.result({"recipe": str(recipe_file), "target": target, "text": text}, human=None)
            if not out.json_mode:
                print(text, end="")
            continue
        path = out_dir / f"{recipe_file.stem}.{target}.yaml"
        atomic_write_text(path, text)
        written.append(str(path))
        out.ok(f"{recipe_file} → {path}")
    if written:
        out.result({"files": written}, human=None)


def register(app: typer.Typer) -> None:
    app.command()(render)
