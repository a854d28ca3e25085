"""Every flag deployctl puts on an engine's command line, for every example recipe, is refused in
`engine.extra_args` (the owned set is read from the argv itself, so a flag added to an adapter is owned
the day it is added); flags deployctl does not set still pass through."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deployctl.errors import RecipeError
from deployctl.read_recipe import read_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


def argv_flags(recipe_file: Path) -> list[str]:
    from deployctl.apply import build_spec
    from deployctl.checkpoint import Checkpoint

    recipe = read_recipe(recipe_file)
    checkpoint = Checkpoint(
        path=Path("/m"), key="k", format=recipe.quantization.format, kv_cache=recipe.quantization.kv_cache
    )
    return [arg for arg in build_spec(recipe, checkpoint).args if arg.startswith("-")]


def with_extra_args(recipe_file: Path, folder: Path, extra: list[str]) -> Path:
    data = yaml.safe_load(recipe_file.read_text())
    engine = data["engine"] if isinstance(data["engine"], dict) else {"name": data["engine"]}
    data["engine"] = {**engine, "extra_args": extra}
    target = folder / recipe_file.name
    target.write_text(yaml.safe_dump(data))
    return target


@pytest.mark.parametrize("recipe_file", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_flag_deployctl_sets_is_refused_in_extra_args(recipe_file: Path, tmp_path: Path) -> None:
    from deployctl.engines.owned import find_owned

    flags = argv_flags(recipe_file)
    assert "--host" in flags and "--port" in flags
    recipe = read_recipe(recipe_file)
    for flag in flags:
        for extra in ([flag, "1"], [f"{flag}=1"], [flag[:2] + flag[2:].replace("-", "_"), "1"]):
            engine = recipe.engine.model_copy(update={"extra_args": ("--seed", "7", *extra)})
            found = find_owned(recipe.model_copy(update={"engine": engine}))
            assert found is not None and found[0] == 2, (flag, extra)
    # and through the loader, as a user meets it: file, line, field, the field to use instead
    with pytest.raises(RecipeError) as refused:
        read_recipe(with_extra_args(recipe_file, tmp_path, ["--seed", "7", "--port", "1"]))
    assert refused.value.field == "engine.extra_args.2" and refused.value.line is not None
    assert refused.value.hint == "set serve.port in the recipe instead"


@pytest.mark.parametrize("recipe_file", RECIPES, ids=[p.stem for p in RECIPES])
def test_flags_deployctl_does_not_set_pass_through(recipe_file: Path, tmp_path: Path) -> None:
    recipe = read_recipe(with_extra_args(recipe_file, tmp_path, ["--seed", "7", "--disable-log-requests"]))
    assert recipe.engine.extra_args == ("--seed", "7", "--disable-log-requests")
