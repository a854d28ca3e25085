"""`deployctl validate` and `deployctl schema`: everything that runs before any side effect."""

import json
from pathlib import Path

import typer

from deployctl.cli.output import out

RecipeArg = typer.Argument(..., help="Recipe YAML file.", show_default=False)


def validate(recipe_file: Path = RecipeArg) -> None:
    """Check a recipe and judge it against the capability table (no download, no container).

    The verdict is for the engine version that will run (printed); a checkpoint already on disk is checked.
    """
    from deployctl.capability import raise_if_rejected
    from deployctl.preflight import judge_preflight, judged_for
    from deployctl.read_recipe import read_recipe

    recipe = read_recipe(recipe_file)
    verdict = judge_preflight(recipe, recipe_path=recipe_file)
    version = verdict.engine_version
    out.info(judged_for(verdict))
    if version is not None and version.warning:
        out.warning(version.warning)
    for warning in verdict.warnings:
        out.warning(warning)
    raise_if_rejected(verdict, recipe, file=recipe_file)
    if verdict.memory is not None and (chosen := verdict.memory.chosen_max_model_len):
        out.info(
            f"engine.max_model_len is not set and the model's full context does not fit: "
            f"deployctl will use {chosen}, the longest that fits"
        )
    checked = _check_checkpoint_if_present(recipe, recipe_file)
    summary = {
        "recipe": str(recipe_file),
        "name": recipe.name,
        "verdict": verdict.level.value,
        "gpu": verdict.gpu.name if verdict.gpu else None,
        "engine_version": version.model_dump(mode="json") if version else None,
        "checkpoint_checked": checked,
        "findings": [finding.model_dump(mode="json") for finding in verdict.findings],
    }
    judged = f"{version.engine} {version.version}" if version else "the pinned engine"
    out.result(
        summary,
        human=f"{recipe_file}: {recipe.name} is valid ({verdict.level.value} on {summary['gpu']} with {judged})",
    )


def _check_checkpoint_if_present(recipe, recipe_file: Path) -> str | None:
    """The checkpoint check on the checkpoint apply would use, when it already exists here."""
    from deployctl.errors import ModelSourceError
    from deployctl.preflight import check_before_launch
    from deployctl.quantize.lookup import find_checkpoint

    try:
        checkpoint = find_checkpoint(recipe)
    except ModelSourceError:
        return None  # apply says what is missing; validate stays about the recipe
    if checkpoint is None:
        return None
    for warning in check_before_launch(recipe, checkpoint, recipe_path=recipe_file):
        out.warning(warning)
    return str(checkpoint.path)


def schema() -> None:
    """Print the recipe JSON Schema (for editor completion)."""
    from deployctl.recipe.model import Recipe

    document = Recipe.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "deployctl recipe"
    print(json.dumps(document, indent=2))


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(schema)
