"""Flags deployctl owns: `engine.extra_args` may add to the engine's command line, never override it.

An engine takes the *last* value of a repeated flag, so `extra_args: [--host, 0.0.0.0]` beside
`serve.host: 127.0.0.1` served on every interface while deployctl printed 127.0.0.1, and
`--max-model-len` there would bypass the memory check. Which flags are owned is not kept in a table
of its own: it is read from the argv the engine adapter builds for this recipe, and for a probe of it
with every optional field set (a flag owned when the field is set is owned when it is not: the field
is the way to set it). The probe's distinct values also say which recipe field each flag comes from.
Only what argv cannot show is listed per engine: other spellings of the same options (`ALIASES`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Placement
from deployctl.errors import RecipeError
from deployctl.recipe.lines import recipe_file, recipe_line
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat, Recipe, RuntimeKind

# Other spellings of options deployctl sets, and options that would replace what it sets wholesale.
ALIASES: dict[EngineName, dict[str, str | None]] = {
    # vLLM 0.33.0 engine/arg_utils.py (parallel group: "-tp", "-pp"; "-q" for --quantization);
    # entrypoints/openai/cli_args.py: --api-key (serve.api_key_env passes VLLM_API_KEY instead), --uds
    # (a unix socket instead of host:port); --config (a YAML of any flags); --model (the positional).
    EngineName.VLLM: {
        "tp": "gpu.count",
        "pp": "gpu.nodes",
        "q": "quantization.format",
        "api-key": "serve.api_key_env",
        "uds": "serve.host",
        "config": None,
        "model": "model",
    },
    # tensorrt_llm/commands/serve.py @ 00209af1: --tensor_parallel_size (= --tp_size), --config
    # (= --extra_llm_api_options).
    EngineName.TRTLLM: {"tensor-parallel-size": "gpu.count", "config": None, "extra-llm-api-options": None},
    # transformers 5.14.1 cli/serve.py: --force-model (the positional), no API-key option.
    EngineName.TRANSFORMERS: {"force-model": "model"},
}

# Distinct values for the probe recipe: each one found after a flag names the field it came from.
_PROBE = {
    "serve.host": "192.0.2.77",
    "serve.port": 47431,
    "serve.served_name": "probe-served-name",
    "engine.max_model_len": 32771,
    "engine.max_batch_size": 4093,
    "engine.max_num_tokens": 16411,
    "engine.gpu_memory_utilization": 0.8125,
    "engine.kv_cache_memory_bytes": 1234567891,
    "engine.dtype": "float16",
    "gpu.count": 3,
    "gpu.nodes": 5,
}
_PROBE_FIELDS = {"quantization": "quantization.format", "kv-cache-dtype": "quantization.kv_cache",
                 "enforce-eager": "engine.enforce_eager"}  # fmt: skip


def normalize(flag: str) -> str:
    """`--Max_Model_Len=4096` → `max-model-len` (vLLM reads '_' as '-'; comparing loosely refuses more)."""
    return flag.split("=", 1)[0].lstrip("-").replace("_", "-").lower()


def owned_flags(recipe: Recipe) -> dict[str, str | None]:
    """Normalized flag → the recipe field that sets it (None: deployctl sets it itself).

    Owned: every flag of this recipe's own argv, every flag a recipe field would add, the aliases."""
    owned: dict[str, str | None] = {
        name: field for name, field in _probe_owned(recipe.engine.name, recipe.gpu.is_cpu) if field
    }
    owned.update(ALIASES.get(recipe.engine.name, {}))
    plain = recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"extra_args": ()})})
    for name, _ in _flags(plain, recipe.runtime.kind):
        owned.setdefault(name, None)
    return owned


def find_owned(recipe: Recipe) -> tuple[int, str, str | None] | None:
    """The first flag of `engine.extra_args` deployctl owns: (position, flag, field), or None."""
    owned = owned_flags(recipe)
    prefixes = recipe.engine.name is EngineName.VLLM  # argparse accepts unambiguous prefixes
    for position, arg in enumerate(recipe.engine.extra_args):
        if not arg.startswith("-") or arg in ("-", "--"):
            continue
        name = normalize(arg)
        if name in owned:
            return position, arg.split("=", 1)[0], owned[name]
        if prefixes and len(name) >= 3 and arg.startswith("--"):
            matches = [flag for flag in owned if flag.startswith(name)]
            if matches:
                return position, arg.split("=", 1)[0], owned[matches[0]]
    return None


@cache
def _probe_owned(engine: EngineName, cpu: bool) -> tuple[tuple[str, str | None], ...]:
    values = {str(value): field for field, value in _PROBE.items()}
    owned: dict[str, str | None] = {}
    for runtime in RuntimeKind:
        for name, following in _flags(_probe_recipe(engine, cpu, runtime), runtime):
            owned[name] = owned.get(name) or values.get(following) or _PROBE_FIELDS.get(name)
    return tuple(owned.items())


def _flags(recipe: Recipe, runtime: RuntimeKind) -> list[tuple[str, str]]:
    """(normalized flag, the argument after it) for each flag of the argv the adapter builds."""
    from deployctl.engines.registry import build_launch_spec

    checkpoint = Checkpoint(
        path=Path("/probe/model"), key="probe", format=recipe.quantization.format,
        kv_cache=recipe.quantization.kv_cache,
    )  # fmt: skip
    placement = Placement.for_runtime(runtime, checkpoint, config_dir="/probe/run")
    args = build_launch_spec(recipe, checkpoint, placement).args
    return [
        (normalize(arg), args[position + 1] if position + 1 < len(args) else "")
        for position, arg in enumerate(args)
        if arg.startswith("-")
    ]


def _probe_recipe(engine: EngineName, cpu: bool, runtime: RuntimeKind) -> Recipe:
    quantized = engine is not EngineName.TRANSFORMERS
    return Recipe.model_validate({
        "name": "probe",
        "model": "org/probe",
        "gpu": {"type": "cpu" if cpu else "probe", "count": _PROBE["gpu.count"], "nodes": _PROBE["gpu.nodes"]},
        "quantization": {"format": QuantFormat.FP8.value if quantized else "none",
                         "kv_cache": KvCacheFormat.FP8.value if quantized else "none"},
        "engine": {"name": engine.value, "enforce_eager": True,
                   **{key.split(".")[1]: value for key, value in _PROBE.items() if key.startswith("engine.")}},
        "runtime": {"kind": runtime.value},
        "serve": {"host": _PROBE["serve.host"], "port": _PROBE["serve.port"],
                  "served_name": _PROBE["serve.served_name"], "api_key_env": "PROBE_KEY"},
    })  # fmt: skip


def refuse_owned_flags(recipe: Recipe) -> None:
    """Refuse extra_args that override a flag deployctl sets (it would print one thing, serve another)."""
    if not recipe.engine.extra_args:
        return
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
