"""The capability check the rendering verbs (`compose`, `render`) share before writing any file."""

from pathlib import Path
from typing import Any

from deployctl.cli.output import out


def judge_named_gpu(recipe: Any, recipe_file: Path) -> Any:
    """Refuse what the capability table rejects, printing fallback warnings; return the recipe to render
    (with the max_model_len chosen when it was unset and the full context does not fit the named GPU).
    A GPU left to `auto` is not judged here: the machine that runs the rendered file may differ."""
    if recipe.gpu.type.strip().lower() == "auto":
        return recipe
    from deployctl.capability import judge_recipe, raise_if_rejected, resolve_gpu
    from deployctl.capability.verdict import fitted_recipe

    verdict = judge_recipe(recipe, gpu=resolve_gpu(recipe))
    for warning in verdict.warnings:
        out.warning(warning)
    raise_if_rejected(verdict, recipe, file=recipe_file)
    return fitted_recipe(recipe, verdict)
