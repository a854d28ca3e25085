"""SGLang through the seam: its data row decides every render target and the memory rules.

One engine module (deployctl/engines/sglang.py), one data row (data/engines.yaml: sglang), its
capability rows: compose and a Kubernetes Deployment render from the same LaunchSpec `apply` uses;
LeaderWorkerSet and Dynamo are refused with the row's reason, never rendered with another engine's
bootstrap; blue-green is judged by the row's shares-add-up rule.
"""

from __future__ import annotations

import pytest
import yaml

from deployctl.capability import judge_recipe, resolve_gpu
from deployctl.errors import CapabilityRejected
from deployctl.recipe.load import parse_recipe_dict
from deployctl.render.targets import refusal, render_target, valid_targets


def sglang_recipe(**overrides) -> dict:
    base = {
        "name": "demo",
        "model": "Qwen/Qwen3-8B",
        "gpu": "H100 SXM",
        "quantization": "fp8",
        "engine": "sglang",
    }
    return {**base, **overrides}


def test_one_node_renders_as_compose_and_deployment_with_sglangs_own_command_and_health_check() -> None:
    recipe = parse_recipe_dict(sglang_recipe(gpu={"type": "H100 SXM", "count": 2}))
    assert set(valid_targets(recipe)) == {"compose", "deployment"}
    docs = [d for d in yaml.safe_load_all(render_target(recipe, "deployment", recipe_path="r.yaml")) if d]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "docker.io/lmsysorg/sglang:v0.5.23-cu130"
    assert container["command"] == ["sglang", "serve"]
    args = container["args"]
    assert args[:2] == ["--model-path", "/models/demo"] and args[args.index("--tp-size") + 1] == "2"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    compose = yaml.safe_load(render_target(recipe, "compose", recipe_path="r.yaml", portable=True))
    (service,) = compose["services"].values()
    assert service["entrypoint"] == ["sglang", "serve"] and "--quantization" in service["command"]


@pytest.mark.parametrize(
    ("overrides", "target", "field", "words"),
    [
        ({"gpu": {"type": "H100 SXM", "count": 8, "nodes": 2}}, "lws", "gpu.nodes", "--nnodes"),
        ({}, "dynamo", "engine.name", "dynamo.sglang"),
    ],
    ids=[
        "across nodes SGLang has its own bootstrap, not vLLM's Ray",
        "Dynamo's SGLang worker is not rendered yet",
    ],
)
def test_targets_the_row_refuses_say_why_and_how(overrides, target, field, words) -> None:
    recipe = parse_recipe_dict(sglang_recipe(**overrides))
    found = refusal(recipe, target)
    assert isinstance(found, CapabilityRejected)
    assert found.field == field and words in found.message
    assert found.hint and "source:" in found.hint
    with pytest.raises(CapabilityRejected):
        render_target(recipe, target, recipe_path="r.yaml")


def test_sglang_across_nodes_has_no_target_at_all() -> None:
    assert (
        valid_targets(parse_recipe_dict(sglang_recipe(gpu={"type": "H100 SXM", "count": 8, "nodes": 2})))
        == ()
    )


@pytest.mark.parametrize(
    ("share", "level"),
    [(None, "rejected"), (0.45, "native")],
    ids=["two engines at SGLang's default share do not fit one GPU", "two at 0.45 each do"],
)
def test_blue_green_adds_up_sglangs_memory_shares(share, level) -> None:
    engine = {"name": "sglang", "max_model_len": 8192, **({"gpu_memory_utilization": share} if share else {})}
    recipe = parse_recipe_dict(
        sglang_recipe(engine=engine, runtime="docker", serve={"network": "llm", "swap": "blue-green"})
    )
    verdict = judge_recipe(recipe, gpu=resolve_gpu(recipe))
    swap_findings = [
        f for f in verdict.findings if f.field in ("engine.gpu_memory_utilization", "serve.swap")
    ]
    if level == "rejected":
        assert verdict.level.value == "rejected"
        assert any("SGLang" in f.reason and "0.87" in f.reason for f in swap_findings), verdict.findings
    else:
        assert verdict.level.value != "rejected", [f.reason for f in verdict.findings]
