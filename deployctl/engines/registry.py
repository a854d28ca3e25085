"""Engine name → adapter: one mapping, the built-ins registered like any other engine.

An unknown name is an error listing the valid ones. `register_engine` adds an engine at run time
(with its data row, when data/engines.yaml has none): what a plugin or a test does.
"""

from __future__ import annotations

from deployctl.checkpoint import Checkpoint
from deployctl.engine_facts import EngineFacts, register_facts, unregister_facts
from deployctl.engines import transformers, trtllm, vllm
from deployctl.engines.base import Engine, Placement
from deployctl.errors import UsageError
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import Recipe

ENGINES: dict[str, Engine] = {
    vllm.ENGINE.name: vllm.ENGINE,
    trtllm.ENGINE.name: trtllm.ENGINE,
    transformers.ENGINE.name: transformers.ENGINE,
}


def register_engine(engine: Engine, facts: EngineFacts | None = None) -> None:
    """Make `engine` known; `facts` is its data row when data/engines.yaml does not carry one."""
    if facts is not None:
        if facts.name != engine.name:
            raise UsageError(f"the data row is for {facts.name!r}, the engine is {engine.name!r}")
        register_facts(facts)
    ENGINES[engine.name] = engine


def unregister_engine(name: str) -> None:
    """Forget an engine registered at run time (and its data row)."""
    ENGINES.pop(name, None)
    unregister_facts(name)


def get_engine(name: str) -> Engine:
    if name not in ENGINES:
        raise UsageError(
            f"unknown engine {name!r}", hint=f"known engines: {', '.join(ENGINES)}", field="engine.name"
        )
    return ENGINES[name]


def build_launch_spec(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> LaunchSpec:
    """The one entry point from (recipe, checkpoint) to how the engine runs."""
    return get_engine(recipe.engine.name).build_launch_spec(recipe, checkpoint, placement)
