"""Helpers for the renderer tests: every example recipe, rendered the way `compose/` is generated."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
COMPOSE_DIR = REPO / "compose"
# The Compose Specification's JSON Schema, vendored from compose-spec/compose-spec
# schema/compose-spec.json @ 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (Apache-2.0).
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
REFRESH_COMMAND = "deployctl compose recipes/*.yaml --portable --out-dir compose"


def relative(recipe: Path) -> str:
    return str(recipe.relative_to(REPO))


@cache
def rendered_text(recipe_path: str) -> str:
    """The portable compose file for a recipe (as `compose/` holds it)."""
    from deployctl.recipe.load import load_recipe
    from deployctl.render.compose import render_recipe_compose

    return render_recipe_compose(load_recipe(REPO / recipe_path), recipe_path=recipe_path, portable=True)


def rendered(recipe_path: str) -> dict:
    return yaml.safe_load(rendered_text(recipe_path))


def service(recipe_path: str) -> dict:
    document = rendered(recipe_path)
    return document["services"][document["name"]]


@cache
def compose_validator():
    import jsonschema

    return jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
