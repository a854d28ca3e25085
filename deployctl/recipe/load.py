"""Read a recipe file into a `Recipe`, or fail with one clear `RecipeError` (file, line, field, fix).

Only the safe loader is used, within a budget of depth and expanded size (`document.py`: a YAML bomb
fails in milliseconds), refusing duplicate keys; the composed document keeps each key's line for the
error messages here and, through `lines.py`, for checks that run later (capability, local files).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from deployctl.errors import RecipeError
from deployctl.recipe.document import read_document
from deployctl.recipe.lines import nearest_line, remember_lines
from deployctl.recipe.model import Recipe

_MAX_RECIPE_BYTES = 1 << 20


def load_recipe(path: str | Path) -> Recipe:
    """Parse and validate; the only way the rest of deployctl gets a `Recipe`.

    The recipe remembers the line of each key (`recipe_line`), so later stages (the capability
    judge) can point at the line too."""
    file = Path(path)
    document = read_document(file, _read_text(file))
    if document is None:
        raise RecipeError(
            "the recipe is empty",
            file=file,
            hint="start from an example: deployctl schema, or recipes/*.yaml",
        )
    data = document.data
    if not isinstance(data, dict):
        raise RecipeError(
            f"a recipe is a mapping of keys (model:, engine:, ...), not a {type(data).__name__}",
            file=file,
            line=document.line,
            hint="see recipes/quickstart-cpu.yaml for the shape",
        )
    data.setdefault("name", _name_from_file(file))
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise _to_recipe_error(file, exc, document.lines, data) from None
    recipe = _anchor_paths(recipe, file.parent)
    remember_lines(recipe, file, document.lines)
    return recipe


def _anchor_paths(recipe: Recipe, base: Path) -> Recipe:
    """Relative paths in a recipe mean "next to the recipe file", wherever deployctl is run from."""
    updates: dict[str, Any] = {}
    if recipe.model.path is not None and not recipe.model.path.expanduser().is_absolute():
        updates["model"] = recipe.model.model_copy(update={"path": (base / recipe.model.path).resolve()})
    elif recipe.model.path is not None:
        updates["model"] = recipe.model.model_copy(update={"path": recipe.model.path.expanduser()})
    dataset = recipe.quantization.calibration.dataset
    if (
        dataset != "builtin"
        and not dataset.startswith("hf:")
        and not Path(dataset).expanduser().is_absolute()
    ):
        calibration = recipe.quantization.calibration.model_copy(
            update={"dataset": str((base / dataset).resolve())}
        )
        updates["quantization"] = recipe.quantization.model_copy(update={"calibration": calibration})
    if recipe.runtime.python is not None and not recipe.runtime.python.expanduser().is_absolute():
        python = recipe.runtime.python
        anchored = (base / python) if "/" in str(python) else python
        updates["runtime"] = recipe.runtime.model_copy(update={"python": anchored})
    include = recipe.quality.include_path
    if include is not None:
        include = include.expanduser()
        anchored_include = include if include.is_absolute() else (base / include).resolve()
        updates["quality"] = recipe.quality.model_copy(update={"include_path": anchored_include})
    return recipe.model_copy(update=updates) if updates else recipe


def parse_recipe_dict(data: dict[str, Any], *, source: str = "<recipe>") -> Recipe:
    """Validate an in-memory recipe (tests, embedded defaults) with the same error rendering."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise _to_recipe_error(Path(source), exc, {}, data) from None


def _read_text(file: Path) -> str:
    if not file.exists():
        raise RecipeError(f"recipe file not found: {file}", file=file, hint="check the path")
    if file.is_dir():
        raise RecipeError(
            f"{file} is a directory, not a recipe file", file=file, hint="pass a .yaml file inside it"
        )
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise RecipeError(
            f"cannot read {file}: {exc.strerror}", file=file, hint="check permissions"
        ) from None
    if len(raw) > _MAX_RECIPE_BYTES:
        raise RecipeError("the recipe is larger than 1 MiB; is this the right file?", file=file)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecipeError("the recipe is not UTF-8 text", file=file, hint="save it as UTF-8") from None


def _name_from_file(file: Path) -> str:
    stem = re.sub(r"[^a-z0-9_.\-]+", "-", file.stem.lower()).strip("-.") or "deployment"
    return stem[:63]


def _to_recipe_error(
    file: Path, exc: ValidationError, lines: dict[tuple[Any, ...], int], data: dict[str, Any]
) -> RecipeError:
    """Turn pydantic's report into one message per problem, the first one leading."""
    errors = exc.errors(include_url=False)
    # A misspelt required key shows up twice: 'engine' missing and 'engin' unknown. Lead with the
    # unknown key, whose "did you mean" names the fix, rather than with the bare "is required".
    if any(error["type"] == "missing" for error in errors):
        errors.sort(key=lambda error: error["type"] != "extra_forbidden")
    problems = [_describe(error, data) for error in errors]
    first_loc, first_message, first_hint = problems[0]
    line = nearest_line(lines, first_loc)
    others = [f"{'.'.join(map(str, loc)) or '(top level)'}: {message}" for loc, message, _ in problems[1:]]
    return RecipeError(
        first_message,
        file=file,
        field=".".join(map(str, first_loc)) or None,
        line=line,
        hint=first_hint,
        details=others,
    )


def _describe(error: ErrorDetails, data: dict[str, Any]) -> tuple[tuple[Any, ...], str, str | None]:
    loc = _user_loc(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _allowed_keys(loc[:-1], data)
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys here: {', '.join(allowed)}"
        return loc, f"unknown key '{key}'", hint
    if kind == "missing":
        return loc, f"'{loc[-1]}' is required", _missing_hint(loc)
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        given = error.get("input")
        choices = re.findall(r"'([^']+)'", expected)
        close = difflib.get_close_matches(str(given), choices, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"choose one of: {', '.join(choices)}"
        return loc, f"'{given}' is not a valid {loc[-1] if loc else 'value'}", hint
    message = str(error["msg"]).removeprefix("Value error, ")
    return loc, message, _type_hint(kind, loc)


def _user_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's internal steps (function-before[...] etc.) from a location."""
    return tuple(part for part in loc if not (isinstance(part, str) and "[" in part and "]" in part))


def _allowed_keys(parent: tuple[Any, ...], data: dict[str, Any]) -> list[str]:
    model: type[BaseModel] | None = Recipe
    for part in parent:
        if model is None:
            break
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return sorted(model.model_fields) if model else []


def _missing_hint(loc: tuple[Any, ...]) -> str:
    examples = {
        "model": "add e.g. `model: Qwen/Qwen3-0.6B` (or `model: {path: ./my-model}`)",
        "engine": "add e.g. `engine: vllm` (trtllm, vllm or transformers)",
        "name": "add a deployment name, e.g. `name: qwen3-fp8`",
    }
    return examples.get(str(loc[-1]) if loc else "", "add this key to the recipe")


def _type_hint(kind: str, loc: tuple[Any, ...]) -> str | None:
    if loc == ("name",):
        return "use 1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"
    if kind in {"tuple_type", "list_type"}:
        return 'give a YAML list, e.g. ["--flag", "value"]'
    if kind == "value_error":
        return "see `deployctl schema` (or recipes/*.yaml) for what this key accepts"
    if kind.startswith("int") or kind.startswith("float"):
        return "give a number here"
    if kind.startswith("bool"):
        return "give true or false"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return "this key takes a mapping of sub-keys (see `deployctl schema`)"
    if kind.startswith("string"):
        return "give a text value (quote it if it looks like a number)"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        return "the value is out of range"
    return "see `deployctl schema` for what this key accepts"
