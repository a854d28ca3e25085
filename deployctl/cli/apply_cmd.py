"""`deployctl plan` and `deployctl apply`: show the steps, then take exactly those steps."""

from __future__ import annotations

from pathlib import Path

import typer

from deployctl.cli.errors import EXIT_OK, EXIT_PLAN_CHANGES
from deployctl.cli.output import out

RecipeArg = typer.Argument(..., help="Recipe YAML file.", show_default=False)


def plan(recipe_file: Path = RecipeArg) -> None:
    """Show what apply would do. Exit 0: no changes; 3: changes; 1: rejected."""
    from deployctl.apply import apply_recipe
    from deployctl.recipe.load import load_recipe

    recipe = load_recipe(recipe_file)
    result = apply_recipe(recipe, recipe_path=recipe_file, report=out.info, dry_run=True)
    data = {
        "deployment": recipe.name,
        "changes": result.plan.has_changes,
        "operations": [op.model_dump(mode="json") for op in result.plan.operations],
        "spec_hash": result.spec.spec_hash() if result.spec else None,
        "argv": list(result.spec.argv) if result.spec else None,
    }
    out.result(data, human=str(result.plan))
    raise typer.Exit(EXIT_PLAN_CHANGES if result.plan.has_changes else EXIT_OK)


def apply(recipe_file: Path = RecipeArg) -> None:
    """Validate, quantize (cached), launch, wait until healthy, smoke-test and record the deployment."""
    from deployctl.apply import apply_recipe
    from deployctl.recipe.load import load_recipe

    recipe = load_recipe(recipe_file)
    out.step(f"applying {recipe_file} ({recipe.name}: {recipe.model.display}, {recipe.quantization.format.value}, "
             f"{recipe.engine.name.value} via {recipe.runtime.kind.value})")
    result = apply_recipe(recipe, recipe_path=recipe_file, report=out.info)
    out.info(str(result.plan))
    if not result.changed:
        out.ok(f"{recipe.name} is up to date at {result.endpoint}; nothing to do")
    else:
        out.ok(f"{recipe.name} is serving at {result.endpoint}")
    if result.downtime_s is not None:
        out.info(f"downtime during the swap: {result.downtime_s:.1f} s")
    timing = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in result.timings.items())
    if timing:
        out.info(f"timings: {timing}")
    data = {
        "deployment": recipe.name,
        "endpoint": result.endpoint,
        "changed": result.changed,
        "timings": result.timings,
        "downtime_s": result.downtime_s,
        "checkpoint": str(result.checkpoint.path) if result.checkpoint else None,
        "smoke": result.smoke.model_dump(mode="json") if hasattr(result.smoke, "model_dump") else None,
    }
    out.result(data, human=result.endpoint)


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(apply)
