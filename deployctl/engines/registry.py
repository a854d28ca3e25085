"""Engine name → adapter. The built-ins are found like any other engine: each row of data/engines.yaml
names the module that exports its `ENGINE`, so adding an engine is one module, one data row and its
capability rows — no line here.

An unknown name is an error listing the valid ones. `register_engine` adds an engine at run time (with its
data row, when data/engines.yaml has none): what a plugin or a test does. Modules are imported when an
engine is first asked for, so judging a vLLM recipe never imports the SGLang adapter.
"""

from __future__ import annotations

import importlib

from deployctl.checkpoint import Checkpoint
from deployctl.engine_facts import EngineFacts, engine_facts, register_facts, unregister_facts
from deployctl.engines.base import Engine, Placement
from deployctl.errors import UsageError
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import Recipe

_LOADED: dict[str, Engine] = {}


def register_engine(engine: Engine, facts: EngineFacts | None = None) -> None:
    """Make `engine` known; `facts` is its data row when data/engines.yaml does not carry one."""
    if facts is not None:
        if facts.name != engine.name:
            raise UsageError(f"the data row is for {facts.name!r}, the engine is {engine.name!r}")
        register_facts(facts)
    _LOADED[engine.name] = engine


def unregister_engine(name: str) -> None:
    """Forget an engine registered at run time (and its data row)."""
    _LOADED.pop(name, None)
    unregister_facts(name)


def get_engine(name: str) -> Engine:
    """The adapter for `name`, imported from the module its data row names on first use."""
    if name in _LOADED:
        return _LOADED[name]
    facts = engine_facts(name)  # an unknown name raises here, listing the known ones
    if facts.module is None:
        raise UsageError(
            f"engine {name!r} has a data row but no adapter",
            hint="name the module that exports ENGINE in its row (module: ...) or call register_engine",
            field="engine.name",
        )
    engine: Engine = importlib.import_module(facts.module).ENGINE
    if engine.name != name:
        raise UsageError(f"module {facts.module} exports engine {engine.name!r}, its data row says {name!r}")
    _LOADED[name] = engine
    return engine


def build_launch_spec(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> LaunchSpec:
    """The one entry point from (recipe, checkpoint) to how the engine runs."""
    engine = get_engine(recipe.engine.name)
    refuse_unknown_tuning(recipe, engine)
    return engine.build_launch_spec(recipe, checkpoint, placement)


def refuse_unknown_tuning(recipe: Recipe, engine: Engine) -> None:
    """A tuning option the engine has no equivalent for is an error naming the field, never ignored."""
    from deployctl.errors import RecipeError
    from deployctl.recipe.model import TUNING_KEYS

    for key in TUNING_KEYS[2:]:  # max_batch_size and max_num_tokens: every engine maps them
        if getattr(recipe.engine, key) is not None and key not in engine.tuning_keys:
            raise RecipeError(
                f"engine.{key} is set, and {recipe.engine.name.value} has no equivalent option "
                "(deployctl maps it for vllm)",
                field=f"engine.{key}",
                hint=f"remove engine.{key} (or pin engine.profile: none if a profile set it)",
            )
