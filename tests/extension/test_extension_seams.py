"""An engine and a runtime added from outside: one module, one registry line and one data row each.

`echo` (tests/extension/echo_engine.py) and the `memory` runtime (tests/recording_runtime.py) go
through judge → plan → LaunchSpec → execute → every render target. Each step must read echo's row —
its port, health path, memory share — and every target must either render echo or refuse it with the
reason its row states, never fall into vLLM's or TensorRT-LLM's branch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from deployctl.apply import judge, plan_recipe
from deployctl.capability import judge_recipe
from deployctl.capability.table import register_serving_rows, unregister_serving_rows
from deployctl.engine_facts import EngineFacts
from deployctl.engines.registry import register_engine, unregister_engine
from deployctl.errors import CapabilityRejected, RecipeError, UsageError
from deployctl.execute import Run, execute
from deployctl.instance import instance_name
from deployctl.observe import observe
from deployctl.plan import OperationKind
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import Recipe
from deployctl.render.targets import TARGETS, refusal, render_target
from deployctl.runtimes.registry import get_runtime, register_runtime, unregister_runtime
from deployctl.state import StateStore
from tests.extension import echo_engine
from tests.recording_runtime import RecordingRuntime

# Qwen3-0.6B's shape (huggingface.co/Qwen/Qwen3-0.6B config.json), enough for the memory estimate.
CONFIG = {
    "num_hidden_layers": 28, "hidden_size": 1024, "num_attention_heads": 16, "num_key_value_heads": 8,
    "head_dim": 128, "intermediate_size": 3072, "vocab_size": 151936, "tie_word_embeddings": True,
    "max_position_embeddings": 40960,
}  # fmt: skip


@pytest.fixture
def registered() -> Iterator[None]:
    register_engine(echo_engine.ENGINE, echo_engine.ROW)
    register_serving_rows(echo_engine.SERVING_ROWS)
    register_runtime("memory", RecordingRuntime)
    yield
    unregister_engine("echo")
    unregister_serving_rows("echo")
    unregister_runtime("memory")


def echo_recipe(tmp_path: Path, nodes: int = 1) -> Recipe:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text(json.dumps(CONFIG))
    (model / "model.safetensors").write_bytes(b"")  # never loaded: the memory runtime starts nothing
    return parse_recipe_dict(
        {
            "name": "echo-demo", "model": str(model), "gpu": {"type": "H100", "nodes": nodes},
            "engine": "echo", "runtime": "memory", "serve": {"host": "127.0.0.1", "port": 8000},
        }
    )  # fmt: skip


def test_judge_plan_launch_spec_and_execute_read_the_new_engines_row(
    registered: None, tmp_path: Path
) -> None:
    recipe = echo_recipe(tmp_path)
    verdict = judge_recipe(recipe)
    assert verdict.memory is not None
    assert verdict.memory.share == "echo gpu_memory_utilization 0.8 of the GPU"
    assert verdict.memory.overhead_per_gpu == 1024**3

    warnings, swap, recipe = judge(recipe)
    store = StateStore()
    world = observe(recipe.name, get_runtime(recipe.runtime), store, healthy=lambda _handle, _path: True)
    assert isinstance(world.runtime, RecordingRuntime)
    planned = plan_recipe(recipe, world, swap)
    assert [op.kind for op in planned.plan.operations][-1] is OperationKind.CREATE
    spec = planned.spec
    assert spec is not None
    assert (spec.engine, spec.image, spec.health_path) == (
        "echo",
        "registry.example/echo-serve:1.0",
        "/healthz",
    )
    assert spec.argv[:2] == ("echo-serve", str(tmp_path / "model"))  # the memory runtime runs it in place

    run = Run(
        recipe, None, world, store, planned, lambda _line: None,
        wait_healthy=lambda *_args, **_kwargs: None, smoke=lambda *_args: None,  # type: ignore[arg-type,return-value]
    )  # fmt: skip
    execute(run)
    assert world.runtime.calls == [("launch", instance_name(spec))]
    state = store.load(recipe.name)
    assert state is not None and state.handle.runtime == "memory" and state.spec.engine == "echo"


@pytest.mark.parametrize("target", TARGETS)
def test_every_render_target_renders_the_new_engine_or_refuses_it_with_its_rows_reason(
    registered: None, tmp_path: Path, target: str
) -> None:
    one_node = echo_recipe(tmp_path)
    if target in ("compose", "deployment"):
        text = render_target(one_node, target, recipe_path="echo.yaml")
        assert "registry.example/echo-serve:1.0" in text and "/healthz" in text
        assert "vllm" not in text and "trtllm" not in text
        return
    found = refusal(echo_recipe(tmp_path, nodes=2), target)
    assert isinstance(found, CapabilityRejected)
    row_refusal = echo_engine.ROW.multinode if target == "lws" else echo_engine.ROW.dynamo
    assert found.message == row_refusal.reason  # type: ignore[union-attr]


def test_an_unknown_engine_or_runtime_is_an_error_listing_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as engine_error:
        echo_recipe(tmp_path)  # echo is not registered in this test
    assert "'echo' is not a valid name" in engine_error.value.message
    assert "vllm" in (engine_error.value.hint or "")
    with pytest.raises(UsageError, match="unknown runtime 'memory'") as runtime_error:
        get_runtime("memory")
    assert "docker, process" in (runtime_error.value.hint or "")


def test_a_gpu_engine_row_must_say_how_it_runs_on_several_nodes_and_under_dynamo() -> None:
    row = echo_engine.ROW.model_dump()
    del row["multinode"]
    with pytest.raises(ValidationError, match="state multinode and dynamo"):
        EngineFacts.model_validate(row)
