"""Engine truth before any side effect: the local files and the verdict for the engine version that
will run, and the checkpoint check before that engine loads anything.

`validate`, `plan`, `apply` and `quantize` call these; the pieces live elsewhere: the file checks in
`local_files.py`, the version from the runtime adapter (`runtimes/engine_version.py`), the rows from
the capability table, the checkpoint findings from `checkpoint_check.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from deployctl.capability.verdict import Verdict
from deployctl.checkpoint import Checkpoint
from deployctl.engine_version import JudgedVersion
from deployctl.recipe.model import Recipe


def engine_version(recipe: Recipe) -> JudgedVersion:
    """The engine version the recipe will run (cached probe; the pinned one with a warning if unknown)."""
    from deployctl.runtimes.engine_version import version_that_will_run

    return version_that_will_run(recipe)


def judge_preflight(recipe: Recipe, *, recipe_path: Path | None = None) -> Verdict:
    """Everything judged before a side effect, in one call so that no verb skips a part: the local files
    the recipe names (a RecipeError for a missing model folder or calibration file), then the capability
    verdict on the recipe's GPU (auto resolved) for the engine version that will run. The caller decides
    what to do with a rejecting verdict (`raise_if_rejected`), after printing what it prints."""
    from deployctl.capability import judge_recipe, resolve_gpu
    from deployctl.local_files import check_local_files

    check_local_files(recipe, file=recipe_path)
    gpu = resolve_gpu(recipe, file=recipe_path)
    return judge_recipe(recipe, gpu=gpu, version=engine_version(recipe))


def judged_for(verdict: Verdict) -> str:
    """'judged for vllm 0.24.0 (vllm installed for runtime.python /v/bin/python)'."""
    version = verdict.engine_version
    return f"judged for {version.label()}" if version else "judged for the pinned engine version"


def check_before_launch(
    recipe: Recipe, checkpoint: Checkpoint, *, recipe_path: Path | None = None
) -> list[str]:
    """Refuse a checkpoint the engine would fail to load (`CapabilityRejected`); return warnings.

    The checkpoint's config.json also tells the model type when the recipe's did not (a Hub model not
    yet downloaded at judging time): rows limited to some model types are judged again with it.
    """
    from deployctl.capability import judge_recipe, raise_if_rejected, resolve_gpu
    from deployctl.capability.judge import model_type_of
    from deployctl.capability.shapes import resolve_shape, shape_from_config_file
    from deployctl.checkpoint_check import check_checkpoint, raise_if_unloadable

    version = engine_version(recipe)
    findings = check_checkpoint(
        checkpoint.path,
        engine=recipe.engine.name.value,
        engine_version=version.version,
        kv_scales_fixed=recipe.quantization.kv_cache_scales == "fixed",
    )
    warnings = raise_if_unloadable(findings, checkpoint.path, engine=recipe.engine.name.value)
    known = model_type_of(recipe, resolve_shape(recipe.model))
    if known is None and _model_type(checkpoint.path) is not None:
        shape = shape_from_config_file(checkpoint.path / "config.json")
        verdict = judge_recipe(
            recipe, gpu=resolve_gpu(recipe, file=recipe_path), shape=shape, version=version
        )
        raise_if_rejected(verdict, recipe, file=recipe_path)
    return warnings


def _model_type(folder: Path) -> str | None:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
