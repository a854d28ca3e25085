"""A recipe file → a `Recipe` every command can act on: the loader, then the checks that need the engines.

`recipe.load` knows the recipe's own grammar (types, ranges, secrets, lines) and imports nothing above
it. Whether `engine.extra_args` overrides a flag deployctl sets can only be told from the argv the
engine adapter builds (`engines/owned.py`), so that check runs here, above both, for every verb that
reads a recipe file: each refuses the same recipes, with the file and line of the offending argument.
"""

from __future__ import annotations

from pathlib import Path

from deployctl.engines.owned import refuse_owned_flags
from deployctl.recipe.load import load_recipe
from deployctl.recipe.model import Recipe


def read_recipe(path: Path | str) -> Recipe:
    recipe = load_recipe(path)
    refuse_owned_flags(recipe)
    return recipe
