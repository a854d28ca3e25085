"""Local files a recipe names, checked before anything is downloaded, quantized or started.

`validate`, `plan`, `apply` and `quantize` reach `check_local_files` through `preflight.judge_preflight`: a
missing calibration file used to surface only after the model download, and a wrong `model.path` only
when the engine failed to start.
"""

from __future__ import annotations

from pathlib import Path

from deployctl.errors import DeployctlError, RecipeError
from deployctl.recipe.lines import recipe_file, recipe_line
from deployctl.recipe.model import KvCacheFormat, QuantFormat, Recipe

CALIBRATION_FIELD = "quantization.calibration.dataset"
CALIBRATION_SUFFIXES = (".txt", ".jsonl")


def check_local_files(recipe: Recipe, *, file: Path | str | None = None) -> None:
    """Raise a RecipeError (file, line, field) for a model folder or calibration file that is not usable."""
    file = file if file is not None else recipe_file(recipe)
    if recipe.model.path is not None:
        from deployctl.quantize.source import check_model_folder

        try:
            check_model_folder(recipe.model.path, field="model.path", weights=not recipe.model.dummy)
        except DeployctlError as exc:
            raise RecipeError(
                exc.message,
                file=file,
                line=recipe_line(recipe, "model.path"),
                field="model.path",
                hint=exc.hint,
            ) from None
    quantized = recipe.quantization.format is not QuantFormat.NONE or (
        recipe.quantization.kv_cache is not KvCacheFormat.NONE
    )
    dataset = recipe.quantization.calibration.dataset
    if not quantized or dataset == "builtin" or dataset.startswith("hf:"):
        return
    path = Path(dataset).expanduser()
    problem = None
    if not path.is_file():
        problem = f"calibration file {path} does not exist" if not path.exists() else f"{path} is not a file"
    elif path.suffix not in CALIBRATION_SUFFIXES:
        problem = f"calibration file {path} is neither .txt nor .jsonl"
    if problem:
        raise RecipeError(
            problem, file=file, line=recipe_line(recipe, CALIBRATION_FIELD), field=CALIBRATION_FIELD,
            hint="use builtin, a .txt file (one text per line), a .jsonl file with a 'text' field, or hf:<dataset>",
        )  # fmt: skip
