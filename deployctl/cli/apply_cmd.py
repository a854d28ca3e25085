"""`deployctl plan`, `apply` and `rollback`: show the steps, then take exactly those steps."""

from pathlib import Path

import typer

from deployctl.cli.errors import EXIT_OK, EXIT_PLAN_CHANGES
from deployctl.cli.output import out

RecipeArg = typer.Argument(..., help="Recipe YAML file.", show_default=False)


def plan(recipe_file: Path = RecipeArg) -> None:
    """Show what apply would do; never quantizes or downloads. Exit 0: no changes; 3: changes; 1: rejected."""
    from deployctl.apply import apply_recipe
    from deployctl.read_recipe import read_recipe

    recipe = read_recipe(recipe_file)
    result = apply_recipe(recipe, recipe_path=recipe_file, report=out.info, dry_run=True)
    data = {
        "deployment": recipe.name,
        "changes": result.plan.has_changes,
        "operations": [op.model_dump(mode="json") for op in result.plan.operations],
        "spec_hash": result.spec.spec_hash() if result.spec else None,
        "argv": list(result.spec.argv) if result.spec else None,
        "calibration": _dump(result.calibration),
        "profile": result.profile.as_dict() if result.profile else None,
    }
    out.result(data, human=str(result.plan))
    raise typer.Exit(EXIT_PLAN_CHANGES if result.plan.has_changes else EXIT_OK)


def apply(recipe_file: Path = RecipeArg) -> None:
    """Validate, quantize (cached), launch or swap, wait until healthy, smoke-test and record the deployment."""
    from deployctl.apply import apply_recipe
    from deployctl.read_recipe import read_recipe

    recipe = read_recipe(recipe_file)
    out.step(
        f"applying {recipe_file} ({recipe.name}: {recipe.model.display}, {recipe.quantization.format.value}, "
        f"{recipe.engine.name.value} via {recipe.runtime.kind.value})"
    )
    _render(apply_recipe(recipe, recipe_path=recipe_file, report=out.info))


def rollback(
    name: str = typer.Argument(..., help="Deployment name."),
    to: int | None = typer.Option(
        None, "--to", help="Revision number (see --list); default: the previous one."
    ),
    list_only: bool = typer.Option(False, "--list", help="List the kept revisions and exit."),
) -> None:
    """Serve an earlier revision again from the checkpoint cache, without re-quantizing."""
    from deployctl.apply import list_revisions
    from deployctl.apply import rollback as roll_back

    if list_only:
        rows = list_revisions(name)
        lines = [
            f"{'*' if r['current'] else ' '} {r['revision']:>2}  {r['at']}  {r['format'] or '?':<10} "
            f"checkpoint {r['checkpoint'][:24]}{'' if r['checkpoint_present'] else ' (gone)'}  spec {r['spec_hash']}"
            for r in rows
        ]
        out.result({"deployment": name, "revisions": rows}, human="\n".join(lines))
        return
    out.step(f"rolling back {name}" + (f" to revision {to}" if to else " to the previous revision"))
    _render(roll_back(name, to=to, report=out.info))


def _render(result) -> None:
    from deployctl.instance import service_url

    service = service_url(result.spec) if result.spec else None
    where = result.endpoint + (f" and as {service}" if service else "")
    if not result.changed:
        out.ok(f"{result.deployment} is up to date at {where}; nothing to do")
    else:
        out.ok(f"{result.deployment} is serving at {where}")
    if "cutover" in result.timings:
        out.info(
            f"blue-green: the endpoint moved to the new engine in {result.timings['cutover'] * 1e3:.0f} ms; the "
            "old engine served until then (downtime 0 for its clients)"
        )
    elif result.downtime_s is not None:
        out.info(
            f"downtime during the swap: {result.downtime_s:.1f} s (old engine stopped → new engine healthy)"
        )
    timing = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in result.timings.items())
    if timing:
        out.info(f"timings: {timing}")
    data = {
        "deployment": result.deployment,
        "endpoint": result.endpoint,
        "service": service,
        "changed": result.changed,
        "operations": [op.model_dump(mode="json") for op in result.plan.operations],
        "timings": result.timings,
        "downtime_s": result.downtime_s,
        "checkpoint": str(result.checkpoint.path) if result.checkpoint else None,
        "smoke": result.smoke.model_dump(mode="json") if result.smoke else None,
        "calibration": _dump(result.calibration),
    }
    out.result(data, human=result.endpoint)


def _dump(value) -> dict | None:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else None


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(apply)
    app.command()(rollback)
