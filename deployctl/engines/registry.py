"""Engine name → adapter, and the pinned image table (`data/engines.yaml`)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Placement
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import EngineName, Recipe


class EngineImage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str
    version: str
    source: str
    flags_checked_against: str
    health_path: str
    cpu_image: str | None = None


@cache
def engine_images() -> dict[EngineName, EngineImage]:
    text = resources.files("deployctl.data").joinpath("engines.yaml").read_text()
    return {EngineName(name): EngineImage.model_validate(row) for name, row in yaml.safe_load(text).items()}


def default_image(recipe: Recipe) -> str:
    """The recipe's image override, else the pinned image (the CPU build for `gpu: cpu`)."""
    if recipe.engine.image:
        return recipe.engine.image
    row = engine_images()[recipe.engine.name]
    if recipe.gpu.is_cpu and row.cpu_image:
        return row.cpu_image
    return row.image


def build_launch_spec(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> LaunchSpec:
    """The one entry point from (recipe, checkpoint) to how the engine runs."""
    from deployctl.engines import sglang, transformers, trtllm, vllm

    builders = {
        EngineName.VLLM: vllm.build_launch_spec,
        EngineName.TRTLLM: trtllm.build_launch_spec,
        EngineName.TRANSFORMERS: transformers.build_launch_spec,
        EngineName.SGLANG: sglang.build_launch_spec,
    }
    return builders[recipe.engine.name](recipe, checkpoint, placement)
