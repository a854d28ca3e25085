"""Checks of a validated recipe that need more than one field: what `engine.extra_args` may carry.

Run by the loader right after the model validates, so every command refuses the same recipes, with
the file and line of the offending argument.
"""

from __future__ import annotations

from deployctl.errors import RecipeError
from deployctl.recipe.lines import recipe_file, recipe_line
from deployctl.recipe.model import Recipe


def check_recipe_values(recipe: Recipe) -> None:
    """Refuse extra_args that override a flag deployctl sets (it would print one thing, serve another)."""
    if not recipe.engine.extra_args:
        return
    from deployctl.engines.owned import find_owned

    found = find_owned(recipe)
    if found is None:
        return
    position, flag, field = found
    where = f"engine.extra_args.{position}"
    instead = (
        f"set {field} in the recipe instead" if field else "deployctl sets it; remove it from extra_args"
    )
    raise RecipeError(
        f"engine.extra_args[{position}] '{flag}' overrides a flag deployctl sets for "
        f"{recipe.engine.name.value}; the engine would use it while deployctl reports the recipe's value",
        file=recipe_file(recipe), line=recipe_line(recipe, where), field=where, hint=instead,
    )  # fmt: skip
