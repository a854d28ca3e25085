"""Kubernetes renders: which recipe becomes which target, and what the objects promise.

Also the shared cases for the other tests/render/test_kubernetes_*.py files: every example recipe
and every multi-node test input, rendered to every target it is valid for.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from deployctl.errors import CapabilityRejected
from deployctl.recipe.load import load_recipe, parse_recipe_dict
from deployctl.render.kube_pod import kube_name, quantity
from deployctl.render.targets import KUBERNETES_TARGETS, refusal, render_target, valid_targets

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
INPUTS = sorted((REPO / "recipes").glob("*.yaml")) + sorted((GOLDEN / "inputs").glob("*.yaml"))
REGENERATE = "DEPLOYCTL_REGENERATE_GOLDEN=1 python -m pytest tests/render/test_kubernetes_golden.py"


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


@cache
def recipe_of(path: str):
    return load_recipe(REPO / path)


def cases() -> list[tuple[str, str]]:
    """(recipe path, target) for every input and every Kubernetes target it is valid for."""
    return [
        (relative(path), target)
        for path in INPUTS
        for target in KUBERNETES_TARGETS
        if target in valid_targets(recipe_of(relative(path)))
    ]


def case_id(case: tuple[str, str]) -> str:
    return f"{Path(case[0]).stem}-as-{case[1]}"


CASES = cases()
CASE_IDS = [case_id(case) for case in CASES]


def cases_for(*targets: str) -> dict:
    """`parametrize` keyword arguments for the cases of some targets only."""
    picked = [(case, ident) for case, ident in zip(CASES, CASE_IDS, strict=True) if case[1] in targets]
    return {"argvalues": [case for case, _ in picked], "ids": [ident for _, ident in picked]}


@cache
def rendered_text(path: str, target: str) -> str:
    return render_target(recipe_of(path), target, recipe_path=path)


def documents(path: str, target: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(rendered_text(path, target)) if doc]


def one(docs: list[dict], kind: str) -> dict:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _recipe(**overrides) -> dict:
    base = {"name": "demo", "model": "Qwen/Qwen3-0.6B", "gpu": "H100 SXM", "engine": "vllm"}
    return {**base, **overrides}


# ----------------------------------------------------------------------------------- which targets


def test_every_input_renders_to_at_least_one_kubernetes_target() -> None:
    covered = {path for path, _ in CASES}
    assert covered == {relative(path) for path in INPUTS}


@pytest.mark.parametrize(
    ("overrides", "target", "field"),
    [
        ({"gpu": {"type": "H100 SXM", "count": 8, "nodes": 2}}, "deployment", "gpu.nodes"),
        ({"gpu": {"type": "H100 SXM", "count": 8, "nodes": 2}}, "compose", "gpu.nodes"),
        ({}, "lws", "gpu.nodes"),
        ({"engine": "trtllm", "gpu": {"type": "H100 SXM", "count": 8, "nodes": 2}}, "lws", "gpu.nodes"),
        ({"engine": "transformers", "gpu": "cpu"}, "dynamo", "engine.name"),
        ({"serve": {"api_key_env": "MY_KEY"}}, "dynamo", "serve.api_key_env"),
        (
            {"engine": {"name": "trtllm", "extra_args": ["--max_num_tokens", "64"]}},
            "dynamo",
            "engine.extra_args",
        ),
    ],
    ids=[
        "several nodes cannot be one Deployment",
        "several nodes cannot be one compose service",
        "one node is no LeaderWorkerSet",
        "trtllm across nodes has no LeaderWorkerSet recipe",
        "a CPU transformers recipe has no Dynamo backend",
        "an API key Dynamo's frontend would not enforce is refused",
        "trtllm-serve extra flags do not carry over to dynamo.trtllm",
    ],
)
def test_refusals_name_the_field_and_say_how_to_fix_it(overrides, target, field) -> None:
    found = refusal(parse_recipe_dict(_recipe(**overrides)), target)
    assert isinstance(found, CapabilityRejected)
    assert found.field == field
    assert found.hint and "source:" in found.hint


def test_trtllm_across_nodes_is_refused_as_lws_but_rendered_for_dynamo() -> None:
    recipe = parse_recipe_dict(_recipe(engine="trtllm", gpu={"type": "H100 SXM", "count": 8, "nodes": 2}))
    assert valid_targets(recipe) == ("dynamo",)
    with pytest.raises(CapabilityRejected, match="MPI"):
        render_target(recipe, "lws", recipe_path="r.yaml")


# ----------------------------------------------------------------------------------- object details


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        ("llama3.1-8b-h100-trtllm", "llama3-1-8b-h100-trtllm"),
        ("qwen3_8b", "qwen3-8b"),
        ("8b-model", "d-8b-model"),
    ],
    ids=["dots become dashes", "underscores become dashes", "a leading digit gets a letter"],
)
def test_object_names_are_dns_labels(deployment, expected) -> None:
    assert kube_name(deployment) == expected


def test_long_names_are_cut_with_a_hash_so_two_long_names_stay_apart() -> None:
    a, b = kube_name("x" * 60 + "-a"), kube_name("x" * 60 + "-b")
    assert len(a) <= 40 and len(b) <= 40 and a != b


@pytest.mark.parametrize(("docker", "k8s"), [("8g", "8Gi"), ("512m", "512Mi"), ("1024", "1024")])
def test_shared_memory_sizes_keep_dockers_binary_units(docker, k8s) -> None:
    assert quantity(docker) == k8s


def _engine_container(text: str) -> dict:
    deployment = one([d for d in yaml.safe_load_all(text) if d], "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_the_startup_probe_allows_the_whole_startup_budget() -> None:
    recipe = parse_recipe_dict(_recipe(serve={"health_timeout_s": 600}))
    startup = _engine_container(render_target(recipe, "deployment", recipe_path="r.yaml"))["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    assert startup["httpGet"] == {"path": "/health", "port": "http"}


def test_secrets_are_references_and_never_values(monkeypatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-do-not-render-this-value-123456")
    monkeypatch.setenv("HF_TOKEN", "hf_" + "doNotRenderThisTokenValue12345")  # fake, split for scanners
    text = render_target(
        parse_recipe_dict(_recipe(serve={"api_key_env": "MY_KEY"})), "deployment", recipe_path="r.yaml"
    )
    assert "sk-do-not" not in text and "hf_doNot" not in text
    env = {item["name"]: item for item in _engine_container(text)["env"]}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "demo-secrets", "key": "MY_KEY"}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_a_literal_dollar_is_escaped_so_the_kubelet_does_not_expand_it() -> None:
    recipe = parse_recipe_dict(
        _recipe(engine={"name": "vllm", "extra_args": ["--chat-template", "$(HOME)/t"]})
    )
    args = _engine_container(render_target(recipe, "deployment", recipe_path="r.yaml"))["args"]
    assert "$$(HOME)/t" in args


def test_a_rollout_never_leaves_zero_ready_pods() -> None:
    text = render_target(parse_recipe_dict(_recipe()), "deployment", recipe_path="r.yaml")
    deployment = one([d for d in yaml.safe_load_all(text) if d], "Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert deployment["spec"]["progressDeadlineSeconds"] > 900


def test_a_spec_change_changes_the_pod_templates_hash_annotation() -> None:
    def template_hash(**overrides) -> str:
        text = render_target(parse_recipe_dict(_recipe(**overrides)), "deployment", recipe_path="r.yaml")
        deployment = one([d for d in yaml.safe_load_all(text) if d], "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"]["deployctl.io/spec-hash"]

    assert template_hash() != template_hash(engine={"name": "vllm", "max_model_len": 4096})
    assert re.fullmatch(r"[0-9a-f]{16}", template_hash())


def test_the_lws_leader_starts_ray_then_execs_vllms_documented_multi_node_command() -> None:
    path = relative(GOLDEN / "inputs" / "qwen3-32b-h100x2-2nodes-vllm.yaml")
    lws = one(documents(path, "lws"), "LeaderWorkerSet")
    template = lws["spec"]["leaderWorkerTemplate"]
    script = template["leaderTemplate"]["spec"]["containers"][0]["command"][2]
    assert script.startswith("bash /vllm-workspace/examples/online_serving/multi-node-serving.sh leader")
    assert "--tensor-parallel-size 2" in script and "--pipeline-parallel-size 2" in script
    assert "--distributed-executor-backend ray" in script
    worker = template["workerTemplate"]["spec"]["containers"][0]
    assert "--ray_address=$(LWS_LEADER_ADDRESS)" in worker["command"][2]
    assert template["size"] == 2 and "startupProbe" not in worker


def test_dynamo_multinode_sets_node_count_and_pipeline_parallel_per_node_gpus() -> None:
    path = relative(GOLDEN / "inputs" / "qwen3-32b-h100x2-2nodes-trtllm.yaml")
    graph = one(documents(path, "dynamo"), "DynamoGraphDeployment")
    worker = graph["spec"]["components"][1]
    main = worker["podTemplate"]["spec"]["containers"][0]
    assert worker["multinode"] == {"nodeCount": 2}
    assert main["resources"]["limits"]["nvidia.com/gpu"] == "2"
    args = main["args"]
    tp = int(args[args.index("--tensor-parallel-size") + 1])
    pp = int(args[args.index("--pipeline-parallel-size") + 1])
    assert tp * pp == 2 * 2  # GPUs per node × nodes (dgd-guide: limit = TP × PP per node × nodeCount)
