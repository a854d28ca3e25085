"""Parity: the compose service and every Kubernetes render of a recipe run the same engine.

Read back from the rendered YAML of both (never from the renderers' internals): image, engine
arguments, environment variable names, mount paths, port, health path, GPU count, shared memory.
Where Dynamo differs by design (runtime image, rebuilt arguments, operator-owned probes and port —
see deployctl/render/dynamo.py), the test asserts the documented difference instead.
"""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from deployctl.render.compose import render_recipe_compose
from deployctl.render.dynamo import dynamo_worker
from deployctl.render.kube_pod import quantity
from tests.render.test_kubernetes import CASE_IDS, CASES, cases_for, documents, one, recipe_of


def compose_service(path: str) -> dict:
    """The compose service of the same recipe (compose itself refuses gpu.nodes > 1 only at the CLI)."""
    document = yaml.safe_load(render_recipe_compose(recipe_of(path), recipe_path=path, portable=True))
    return document["services"][document["name"]]


def compose_mounts(service: dict) -> set[str]:
    return {v["target"] for v in service["volumes"]} | {c["target"] for c in service.get("configs", [])}


def compose_health_path(service: dict) -> str:
    code = service["healthcheck"]["test"][-1]
    return re.search(r"http://[^/]+(/[^'\"]*)", code).group(1)


def compose_gpus(service: dict) -> int:
    devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    return devices[0]["count"] if devices else 0


def engine_container(path: str, target: str) -> dict:
    docs = documents(path, target)
    if target == "deployment":
        return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    if target == "lws":
        return one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"][
            "containers"
        ][0]
    worker = one(docs, "DynamoGraphDeployment")["spec"]["components"][1]
    return worker["podTemplate"]["spec"]["containers"][0]


def argv(container: dict, target: str) -> list[str]:
    """The engine's command line as compose writes it (`$` doubled), from either container form."""
    if target != "lws":
        return [*container["command"], *container["args"]]
    script = container["command"][2].split(" && exec ", 1)[1].replace("$$", "$")
    return [part.replace("$", "$$") for part in shlex.split(script)]


def gpus(container: dict) -> int:
    return int(container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))


@pytest.mark.parametrize(("path", "target"), CASES, ids=CASE_IDS)
def test_environment_names_mounts_and_gpus_are_the_compose_services(path, target) -> None:
    service, container = compose_service(path), engine_container(path, target)
    assert {item["name"] for item in container["env"]} == set(service["environment"])
    k8s_mounts = {m["mountPath"] for m in container["volumeMounts"]} - {"/dev/shm"}
    assert k8s_mounts == compose_mounts(service)
    assert gpus(container) == compose_gpus(service)


@pytest.mark.parametrize(("path", "target"), **cases_for("deployment", "lws"))
def test_image_command_port_health_and_shm_are_the_compose_services(path, target) -> None:
    service, container = compose_service(path), engine_container(path, target)
    assert container["image"] == service["image"]
    expected = [*service["entrypoint"], *service["command"]]
    assert argv(container, target) == expected
    assert str(container["ports"][0]["containerPort"]) == service["ports"][0].rsplit(":", 1)[1]
    assert container["startupProbe"]["httpGet"]["path"] == compose_health_path(service)
    shm = next(v for v in documents_volumes(path, target) if v["name"] == "dshm")
    assert shm["emptyDir"]["sizeLimit"] == quantity(recipe_of(path).runtime.shm_size)


def documents_volumes(path: str, target: str) -> list[dict]:
    docs = documents(path, target)
    if target == "deployment":
        return one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    return one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["volumes"]


@pytest.mark.parametrize(("path", "target"), **cases_for("dynamo"))
def test_dynamo_workers_differ_from_compose_only_where_documented(path, target) -> None:
    service, container = compose_service(path), engine_container(path, target)
    recipe = recipe_of(path)
    assert container["image"] == dynamo_worker(recipe.engine.name).image
    model_dir = service["command"][0]  # both engines take the checkpoint folder first
    args = container["args"]
    model_flag = "--model" if recipe.engine.name.value == "vllm" else "--model-path"
    assert args[args.index(model_flag) + 1] == model_dir
    assert not {"ports", "startupProbe", "readinessProbe", "livenessProbe"} & set(container), "operator-owned"
    graph = one(documents(path, target), "DynamoGraphDeployment")
    assert graph["spec"]["components"][1]["sharedMemorySize"] == quantity(recipe.runtime.shm_size)
