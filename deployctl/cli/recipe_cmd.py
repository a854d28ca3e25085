"""`deployctl validate` and `deployctl schema`: everything that runs before any side effect."""


import json
from pathlib import Path

import typer

from deployctl.cli.output import out

RecipeArg = typer.Argument(..., help="Recipe YAML file.", show_default=False)


def validate(recipe_file: Path = RecipeArg) -> None:
    """Check a recipe and judge it against the capability table (no download, no container)."""
    from deployctl.capability import judge_recipe, raise_if_rejected, resolve_gpu
    from deployctl.recipe.files import check_local_files
    from deployctl.recipe.load import load_recipe

    recipe = load_recipe(recipe_file)
    check_local_files(recipe, file=recipe_file)
    gpu = resolve_gpu(recipe, file=recipe_file)
    verdict = judge_recipe(recipe, gpu=gpu)
    for warning in verdict.warnings:
        out.warning(warning)
    raise_if_rejected(verdict, recipe, file=recipe_file)
    if verdict.memory is not None and (chosen := verdict.memory.chosen_max_model_len):
        out.info(
            f"engine.max_model_len is not set and the model's full context does not fit: "
            f"deployctl will use {chosen}, the longest that fits"
        )
    summary = {
        "recipe": str(recipe_file),
        "name": recipe.name,
        "verdict": verdict.level.value,
        "gpu": verdict.gpu.name if verdict.gpu else None,
        "findings": [finding.model_dump(mode="json") for finding in verdict.findings],
    }
    out.result(summary, human=f"{recipe_file}: {recipe.name} is valid ({verdict.level.value} on {summary['gpu']})")


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
